"""Importers for every supported format, by name (``shopsage import FORMAT PATH``)."""

from __future__ import annotations

from shopsage.data.importers.amazon_seq import AmazonSeqImporter
from shopsage.data.importers.base import Importer, ImportSummary, Reject, run_import, source_name
from shopsage.data.importers.homedepot import HomeDepotImporter
from shopsage.data.importers.limits import DEFAULT_LIMITS, ImportLimits
from shopsage.data.importers.recbole import RecBoleImporter
from shopsage.data.importers.reviews_zh import ReviewsZhImporter
from shopsage.data.importers.s3rec import S3RecImporter
from shopsage.data.importers.sessions import SessionsImporter
from shopsage.data.importers.table import TableImporter
from shopsage.data.importers.ubi import UbiImporter
from shopsage.data.importers.yoochoose import YoochooseImporter
from shopsage.errors import ImportFormatError

__all__ = ["FORMATS", "get_importer", "run_import", "ImportSummary", "Importer", "Reject", "source_name",
           "ImportLimits", "DEFAULT_LIMITS"]

FORMATS: dict[str, type[Importer]] = {
    cls.format: cls
    for cls in (AmazonSeqImporter, S3RecImporter, RecBoleImporter, HomeDepotImporter, SessionsImporter,
                YoochooseImporter, ReviewsZhImporter, TableImporter, UbiImporter)
}


def get_importer(fmt: str, path: str, **options: object) -> Importer:
    """The importer of format ``fmt`` reading ``path``; clear error for unknown formats."""
    try:
        cls = FORMATS[fmt]
    except KeyError:
        raise ImportFormatError(f"unknown format {fmt!r}; known formats: {', '.join(sorted(FORMATS))}") from None
    return cls(path, **options)
