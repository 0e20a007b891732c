"""Test support shipped with the library: contract suites every backend and model inherits.

Only tests import this package; nothing in ShopSage itself does.
"""
