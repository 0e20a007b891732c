"""The ``shopsage`` command line: thin commands that parse input, call the library, format output."""
