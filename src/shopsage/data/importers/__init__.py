"""Importers for every supported format, by name (``shopsage import FORMAT PATH``)."""

from __future__ import annotations

from shopsage.data.importers.amazon_seq import AmazonSeqImporter
from shopsage.data.importers.base import ImportSummary, Importer, Reject, run_import, source_name
from shopsage.errors import ImportFormatError

__all__ = ["FORMATS", "get_importer", "run_import", "ImportSummary", "Importer", "Reject", "source_name"]

FORMATS: dict[str, type[Importer]] = {
    cls.format: cls
    for cls in (AmazonSeqImporter,)
}


def get_importer(fmt: str, path: str, **options: object) -> Importer:
    """The importer of format ``fmt`` reading ``path``; clear error for unknown formats."""
    try:
        cls = FORMATS[fmt]
    except KeyError:
        raise ImportFormatError(f"unknown format {fmt!r}; known formats: {', '.join(sorted(FORMATS))}") from None
    return cls(path, **options)
