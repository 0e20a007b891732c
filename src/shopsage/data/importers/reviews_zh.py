"""``reviews-zh``: the zip of online_shopping_10_cats (``cat,label,review`` CSV, UTF-8 with a
byte-order mark). Each review becomes a document with its category and sentiment label.

Reviews have no id: two identical lines are two reviews (short ones such as "很好" recur), never
duplicates. A damaged archive (bad CRC, cut short) is one clear error."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator

from shopsage.data.cleaning import BadValue, check_text
from shopsage.data.importers._lines import CsvRecord, CsvRecords
from shopsage.data.importers.base import Importer, Record
from shopsage.data.rows import DocumentRow, RowKey
from shopsage.errors import ImportFormatError

__all__ = ["ReviewsZhImporter"]


class ReviewsZhImporter(Importer):
    format = "reviews-zh"
    description = "the online_shopping_10_cats.zip file (Chinese reviews: cat,label,review)"

    def records(self) -> Iterator[Record]:
        try:
            archive = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise ImportFormatError(f"{self.path} is not a zip file or is damaged ({exc}); give the path to "
                                    "online_shopping_10_cats.zip") from None
        with archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
            if len(members) != 1:
                raise ImportFormatError(f"{self.path} must hold exactly one .csv file, found {members}")
            src = f"{self.path.name}/{members[0]}"
            try:
                member = archive.open(members[0])
            except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, zlib.error) as exc:
                raise ImportFormatError(f"{self.path}: its member {members[0]} cannot be opened ({exc}); the archive "
                                        "is damaged: download it again") from None
            with member:
                rows = CsvRecords(self.path / members[0], "utf-8", limits=self.limits, stream=member)
                records = iter(rows)
                header = next(records, None)
                if header is None or header.fields is None or [h.strip().lower() for h in header.fields] != ["cat", "label", "review"]:
                    got = header.raw[:200] if header else "nothing"
                    raise ImportFormatError(f"{src} should start with the header cat,label,review, found {got!r}")
                yield from self._reviews(src, rows, records)

    def _reviews(self, src: str, rows: CsvRecords, records: Iterator[CsvRecord]) -> Iterator[Record]:
        limit = self.limits.max_field_chars
        for rec in records:
            try:
                if rec.fields is None:
                    raise BadValue(rec.problem or "unreadable record")
                if len(rec.fields) != 3:
                    raise BadValue(f"expected 3 fields (cat,label,review), found {len(rec.fields)}")
                cat = check_text(rec.fields[0].strip(), "cat", limit)
                label = rec.fields[1].strip()
                if label not in ("0", "1"):
                    raise BadValue(f"label {label[:40]!r} is not 0 or 1")
                review = check_text(rec.fields[2], "review", limit) or ""
                if not cat:
                    raise BadValue("empty category")
            except BadValue as exc:
                yield rows.reject(src, rec, str(exc))
                continue
            yield DocumentRow(RowKey(src, rec.first.lineno, 0), review, label, cat, "zh")
