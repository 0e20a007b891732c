"""``reviews-zh``: the zip of online_shopping_10_cats (``cat,label,review`` CSV, UTF-8 with a
byte-order mark). Each review becomes a document with its category and sentiment label."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

from shopsage.data.cleaning import BadValue, check_text
from shopsage.data.importers.base import Importer, Record, Reject
from shopsage.data.rows import DocumentRow, RowKey
from shopsage.errors import ImportFormatError

__all__ = ["ReviewsZhImporter"]


class ReviewsZhImporter(Importer):
    format = "reviews-zh"
    description = "the online_shopping_10_cats.zip file (Chinese reviews: cat,label,review)"

    def records(self) -> Iterator[Record]:
        try:
            archive = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, IsADirectoryError) as exc:
            raise ImportFormatError(f"{self.path} is not a zip file; give the path to online_shopping_10_cats.zip") from exc
        with archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
            if len(members) != 1:
                raise ImportFormatError(f"{self.path} must hold exactly one .csv file, found {members}")
            src = f"{self.path.name}/{members[0]}"
            with archive.open(members[0]) as raw_fh:
                text = io.TextIOWrapper(raw_fh, encoding="utf-8-sig", errors="surrogateescape", newline="")
                reader = csv.reader(text)
                header = next(reader, None)
                if header is None or [h.strip().lower() for h in header] != ["cat", "label", "review"]:
                    raise ImportFormatError(f"{src} should start with the header cat,label,review, found {header!r}")
                line = 2
                for fields in reader:
                    key, line = RowKey(src, line, 0), reader.line_num + 1
                    raw = ",".join(fields).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                    try:
                        if len(fields) != 3:
                            raise BadValue(f"expected 3 fields (cat,label,review), found {len(fields)}")
                        cat = check_text(fields[0].strip(), "cat")
                        label = fields[1].strip()
                        if label not in ("0", "1"):
                            raise BadValue(f"label {label!r} is not 0 or 1")
                        review = check_text(fields[2], "review") or ""
                        if not cat:
                            raise BadValue("empty category")
                    except BadValue as exc:
                        yield Reject(key, str(exc), raw)
                        continue
                    yield DocumentRow(key, review, label, cat, "zh")
