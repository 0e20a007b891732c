"""``homedepot``: a folder with ``product_titles.csv`` (``product_uid,product_title``, the catalogue)
and ``train.csv`` (``id,product_uid,product_title,search_term,relevance``), both ISO-8859-1.
Products become items; each train row a judgment (query, product, grade). The catalogue's title
wins where train.csv spells it differently.

The competition published no prices or categories. Its ``attributes.csv`` (``product_uid,name,value``,
UTF-8; not in ``../shared/data/homedepot``) names each product's brand in the attribute
``MFG Brand Name``: when the folder holds that file, items get their brand from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from shopsage.data.cleaning import BadValue, check_id, parse_float
from shopsage.data.importers._lines import CsvRecord, CsvRecords
from shopsage.data.importers.base import Importer, Record, source_name
from shopsage.data.importers.limits import ImportLimits
from shopsage.data.rows import ItemRow, JudgmentRow, RowKey
from shopsage.errors import ImportFormatError

__all__ = ["HomeDepotImporter"]

ENCODING = "iso-8859-1"
ATTRIBUTES = "attributes.csv"
BRAND_ATTRIBUTE = "MFG Brand Name"


class HomeDepotImporter(Importer):
    format = "homedepot"
    description = "a folder with train.csv and product_titles.csv (Home Depot search relevance)"

    def records(self) -> Iterator[Record]:
        judgments_path, titles_path = self.require("train.csv", "product_titles.csv")
        brands: dict[str, str] = {}
        if (self.path / ATTRIBUTES).is_file():
            yield from _brands(self.path / ATTRIBUTES, brands, self.limits)
        src = source_name(titles_path)
        rows = CsvRecords(titles_path, ENCODING, limits=self.limits)
        records = iter(rows)
        _expect_header(titles_path, next(records, None), ["product_uid", "product_title"])
        for rec in records:
            try:
                fields = _fields(rec, 2)
                uid = check_id(fields[0], "product_uid")
                yield ItemRow(uid, fields[1].strip() or None, brand=brands.get(uid), language="en",
                              key=RowKey(src, rec.first.lineno, 0))
            except BadValue as exc:
                yield rows.reject(src, rec, str(exc))
        src = source_name(judgments_path)
        rows = CsvRecords(judgments_path, ENCODING, limits=self.limits)
        records = iter(rows)
        _expect_header(judgments_path, next(records, None), ["id", "product_uid", "product_title", "search_term", "relevance"])
        seen: dict[str, tuple[int, int]] = {}  # id -> (line, hash of the record)
        for rec in records:
            try:
                fields = _fields(rec, 5)
                query = fields[3].strip()
                if not query:
                    raise BadValue("empty search_term")
                grade = parse_float(fields[4], "relevance", self.limits.max_number_chars)
                if grade is None or not 1.0 <= grade <= 3.0:
                    raise BadValue(f"relevance {fields[4][:40]!r} is not between 1 and 3")
                row = JudgmentRow(RowKey(src, rec.first.lineno, 0), query, check_id(fields[1], "product_uid"), grade)
                prior = seen.setdefault(check_id(fields[0], "id"), (rec.first.lineno, hash(tuple(fields))))
                if prior[0] != rec.first.lineno:
                    same = "exact" if prior[1] == hash(tuple(fields)) else "conflicting"
                    raise BadValue(f"{same} duplicate: id {fields[0].strip()} already read at line {prior[0]}")
            except BadValue as exc:
                yield rows.reject(src, rec, str(exc))
                continue
            yield row


def _fields(rec: CsvRecord, n: int) -> list[str]:
    if rec.fields is None:
        raise BadValue(rec.problem or "unreadable record")
    if len(rec.fields) != n:
        raise BadValue(f"expected {n} fields, found {len(rec.fields)}")
    return rec.fields


def _brands(path: Path, out: dict[str, str], limits: ImportLimits) -> Iterator[Record]:
    """Fill ``out`` (product -> brand) from the ``MFG Brand Name`` rows of ``attributes.csv``; a brand
    row that cannot be read is rejected (the other attributes are not imported)."""
    src = source_name(path)
    rows = CsvRecords(path, "utf-8", limits=limits)
    records = iter(rows)
    _expect_header(path, next(records, None), ["product_uid", "name", "value"])
    for rec in records:
        if rec.fields is not None and (len(rec.fields) < 2 or rec.fields[1] != BRAND_ATTRIBUTE):
            continue
        if rec.fields is None and BRAND_ATTRIBUTE not in rec.raw:
            continue
        try:
            fields = _fields(rec, 3)
            uid = check_id(fields[0].removesuffix(".0"), "product_uid")  # pandas exports write 100001.0
            if fields[2].strip():
                out[uid] = fields[2].strip()
        except BadValue as exc:
            yield rows.reject(src, rec, str(exc))


def _expect_header(path: object, first: CsvRecord | None, names: list[str]) -> None:
    if first is None or first.first.lineno != 1 or first.fields is None or \
            [f.strip().lower() for f in first.fields] != names:
        got = first.raw[:200] if first else "an empty file"
        raise ImportFormatError(f"{path} should start with the header {','.join(names)}, found {got!r}")
