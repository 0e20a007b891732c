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
from shopsage.data.importers._lines import read_csv_rows
from shopsage.data.importers.base import Importer, Record, Reject, source_name
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
            yield from _brands(self.path / ATTRIBUTES, brands)
        src = source_name(titles_path)
        rows = read_csv_rows(titles_path, ENCODING)
        _expect_header(titles_path, next(rows, None), ["product_uid", "product_title"])
        for line, fields, raw in rows:
            key = RowKey(src, line, 0)
            try:
                if fields is None or len(fields) != 2:
                    raise BadValue(f"expected 2 fields, found {len(fields) if fields else 'undecodable'}")
                uid = check_id(fields[0], "product_uid")
                yield ItemRow(uid, fields[1].strip() or None, brand=brands.get(uid), language="en", key=key)
            except BadValue as exc:
                yield Reject(key, str(exc), raw)
        src = source_name(judgments_path)
        rows = read_csv_rows(judgments_path, ENCODING)
        _expect_header(judgments_path, next(rows, None), ["id", "product_uid", "product_title", "search_term", "relevance"])
        for line, fields, raw in rows:
            key = RowKey(src, line, 0)
            try:
                if fields is None or len(fields) != 5:
                    raise BadValue(f"expected 5 fields, found {len(fields) if fields else 'undecodable'}")
                query = fields[3].strip()
                if not query:
                    raise BadValue("empty search_term")
                grade = parse_float(fields[4], "relevance")
                if grade is None or not 1.0 <= grade <= 3.0:
                    raise BadValue(f"relevance {fields[4]!r} is not between 1 and 3")
                yield JudgmentRow(key, query, check_id(fields[1], "product_uid"), grade)
            except BadValue as exc:
                yield Reject(key, str(exc), raw)


def _brands(path: Path, out: dict[str, str]) -> Iterator[Record]:
    """Fill ``out`` (product -> brand) from the ``MFG Brand Name`` rows of ``attributes.csv``; a brand
    row that cannot be read is rejected (the other attributes are not imported)."""
    src = source_name(path)
    rows = read_csv_rows(path, "utf-8")
    _expect_header(path, next(rows, None), ["product_uid", "name", "value"])
    for line, fields, raw in rows:
        if fields is not None and (len(fields) < 2 or fields[1] != BRAND_ATTRIBUTE):
            continue
        if fields is None and BRAND_ATTRIBUTE not in raw:
            continue
        try:
            if fields is None or len(fields) != 3:
                raise BadValue(f"expected 3 fields, found {len(fields) if fields else 'undecodable'}")
            uid = check_id(fields[0].removesuffix(".0"), "product_uid")  # pandas exports write 100001.0
            if fields[2].strip():
                out[uid] = fields[2].strip()
        except BadValue as exc:
            yield Reject(RowKey(src, line, 0), str(exc), raw)


def _expect_header(path: object, first: tuple[int, list[str] | None, str] | None, names: list[str]) -> None:
    if first is None or first[1] is None or [f.strip().lower() for f in first[1]] != names:
        got = first[2] if first else "an empty file"
        raise ImportFormatError(f"{path} should start with the header {','.join(names)}, found {got!r}")
