"""``table``: a shop's own export (CSV, JSON Lines or Parquet) with a TOML column mapping.

Example mapping (``--mapping events.toml``)::

    kind = "events"              # events | items | judgments
    timestamp_unit = "ms"        # s | ms | us | iso

    [columns]                    # ShopSage field = column of the file
    id = "event_id"
    user = "visitorid"
    item = "itemid"
    type = "event"
    timestamp = "timestamp"

    [values.type]                # the file's values -> ShopSage's
    addtocart = "add_to_cart"
    transaction = "purchase"

    [constants]                  # fields with one value for every row
    # type = "view"

Every row is validated by the same pydantic models as the event API (:mod:`shopsage.data.schema`),
so a bad row is quarantined with the model's own explanation. Rows are read within the
``ImportLimits`` of the importer (line and field size, JSON depth, number size); ids may hold no
control characters; a row whose mapped fields repeat an earlier row's is quarantined as an exact
duplicate. A Parquet file that cannot be read (cut short, not Parquet) is one clear error.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from shopsage.data.cleaning import BadValue, check_id, check_int64, check_json_value, parse_timestamp
from shopsage.data.importers._lines import CsvRecord, CsvRecords, SourceLine, json_object, read_lines
from shopsage.data.importers.base import Importer, Record, Reject, source_name
from shopsage.data.rows import EventRow, ItemRow, JudgmentRow, RowKey
from shopsage.data.schema import Event, Item, Judgment
from shopsage.errors import ImportFormatError, describe_problems

__all__ = ["TableImporter", "TableMapping"]


class TableMapping(BaseModel):
    """How the columns of a shop's file map onto ShopSage's fields."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["events", "items", "judgments"] = Field(description="What each row is.")
    file_format: Literal["csv", "jsonl", "parquet"] | None = Field(None, description="Default: from the file extension.")
    encoding: str = Field("utf-8", description="Text encoding of CSV and JSON Lines files.")
    delimiter: str = Field(",", min_length=1, max_length=1, description="CSV field separator.")
    timestamp_unit: Literal["s", "ms", "us", "iso"] = Field("s", description="Unit of the timestamp column.")
    columns: dict[str, str] = Field(description="ShopSage field -> column name in the file.")
    values: dict[str, dict[str, str]] = Field(default_factory=dict, description="Per field: file value -> ShopSage value.")
    constants: dict[str, Any] = Field(default_factory=dict, description="Fields with the same value on every row.")


_IDS = frozenset({"id", "user", "session", "item"})
_NUMBERS = frozenset({"timestamp", "value", "ordinal", "price", "stock", "grade", "created_at", "updated_at"})


def _json_text(row: dict[str, Any]) -> str:
    try:
        return json.dumps(row, default=str, ensure_ascii=False)[:4000]
    except (ValueError, RecursionError):
        return repr(row)[:4000]


def _reject_line(line: SourceLine, src: str, problem: str | None, reason: str) -> Reject:
    return line.reject(src, reason or problem or "malformed row")


def _reject_record(rows: CsvRecords, src: str, rec: CsvRecord, problem: str | None, reason: str) -> Reject:
    return rows.reject(src, rec, reason or problem or "malformed row")


class TableImporter(Importer):
    format = "table"
    description = "a CSV, JSON Lines or Parquet file, with --mapping FILE (a TOML column mapping)"

    def __init__(self, path: Path | str, mapping: Path | str | None = None, **options: Any) -> None:
        super().__init__(path, **options)
        if mapping is None:
            raise ImportFormatError("the table format needs --mapping FILE, a TOML file mapping your columns; "
                                    "see docs/architecture.md#table-mappings for an example")
        try:
            self.mapping = TableMapping(**tomllib.loads(Path(mapping).read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ImportFormatError(f"cannot read the mapping {mapping}: {exc}") from exc
        except PydanticValidationError as exc:
            raise ImportFormatError(f"the mapping {mapping} is invalid: {exc}") from exc

    def _file_format(self) -> str:
        if self.mapping.file_format:
            return self.mapping.file_format
        suffix = Path(self.path.name.lower().removesuffix(".gz")).suffix  # events.csv.gz is read gunzipped
        formats = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
        if suffix not in formats:
            raise ImportFormatError(f"cannot tell the format of {self.path.name}; set file_format in the mapping")
        return formats[suffix]

    def _rows(self, src: str) -> Iterator[tuple[int, dict[str, Any] | None, str, Callable[[str], Reject]]]:
        """``(line, row or None, raw text, how to reject it)`` per row of the file; a None row is
        refused by calling its rejecter with no better reason than the reader's."""
        fmt = self._file_format()
        if fmt == "parquet":
            yield from self._parquet_rows(src)
        elif fmt == "jsonl":
            for line in read_lines(self.path, self.mapping.encoding, limits=self.limits):
                row, problem = (None, line.problem) if line.text is None else json_object(line.text, self.limits)
                yield line.lineno, row, line.raw, partial(_reject_line, line, src, problem)
        else:
            yield from self._csv_rows(src)

    def _parquet_rows(self, src: str) -> Iterator[tuple[int, dict[str, Any] | None, str, Callable[[str], Reject]]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        n = 1  # rows are numbered from 2, as if the file had a header line
        try:
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=10_000):
                for row in batch.to_pylist():
                    n += 1
                    key = RowKey(src, n, 0)
                    yield n, row, _json_text(row), lambda reason, key=key, row=row: Reject(key, reason, _json_text(row))
        except (pa.ArrowException, OSError, ValueError, EOFError) as exc:
            raise ImportFormatError(f"{self.path} is not a readable Parquet file ({str(exc)[:300]}); rows before row "
                                    f"{n + 1} are imported. Export the file again and re-run: stored rows are skipped.") from None

    def _csv_rows(self, src: str) -> Iterator[tuple[int, dict[str, Any] | None, str, Callable[[str], Reject]]]:
        rows = CsvRecords(self.path, self.mapping.encoding, self.mapping.delimiter, limits=self.limits)
        records = iter(rows)
        head = next(records, None)
        if head is None or head.first.lineno != 1 or head.fields is None:
            why = head.problem if head is not None and head.problem else "no header line"
            raise ImportFormatError(f"{self.path}: the first line must be the header naming the columns ({why})")
        header = [h.strip() for h in head.fields]
        for rec in records:
            if rec.fields is None:
                row, problem = None, rec.problem
            elif len(rec.fields) != len(header):
                row, problem = None, f"expected {len(header)} fields as in the header, found {len(rec.fields)}"
            else:
                row, problem = dict(zip(header, rec.fields, strict=True)), None
            yield rec.first.lineno, row, rec.raw, partial(_reject_record, rows, src, rec, problem)

    def records(self) -> Iterator[Record]:
        src = source_name(self.path)
        m = self.mapping
        model = {"events": Event, "items": Item, "judgments": Judgment}[m.kind]
        seen: dict[int, int] = {}  # hash of the mapped fields -> first line
        for line, row, _raw, reject in self._rows(src):
            if row is None:
                yield reject("")
                continue
            try:
                fields = self._fields(row)
                obj = model(**fields)
                out = self._to_row(obj, RowKey(src, line, 0))
                first = seen.setdefault(hash(repr(sorted(fields.items()))), line)
                if first != line:
                    raise BadValue(f"exact duplicate of line {first}")
            except BadValue as exc:
                yield reject(str(exc))
                continue
            except PydanticValidationError as exc:
                yield reject(describe_problems(exc, whole="row"))
                continue
            yield out

    def _fields(self, row: dict[str, Any]) -> dict[str, Any]:
        m, lim = self.mapping, self.limits
        check_json_value(row, "row", lim.max_depth, lim.max_field_chars)
        out: dict[str, Any] = dict(m.constants)
        for field, column in m.columns.items():
            if column not in row:
                raise BadValue(f"column {column!r} (for {field}) is missing from this row")
            value = row[column]
            if isinstance(value, str):
                value = value.strip()
                if value == "":
                    value = None
            if value is not None and field in m.values:
                value = m.values[field].get(str(value), value)
            if isinstance(value, str):
                if field in _IDS:
                    check_id(value, field)
                elif field in _NUMBERS and len(value) > lim.max_number_chars:
                    raise BadValue(f"{field} has {len(value):,} characters, too many for a number "
                                   f"(at most {lim.max_number_chars}, ImportLimits.max_number_chars)")
            out[field] = value
        if out.get("timestamp") is not None:
            out["timestamp"] = parse_timestamp(out["timestamp"], None if m.timestamp_unit == "iso" else m.timestamp_unit)
        for field in ("created_at", "updated_at"):  # an item's times: Unix seconds or ISO 8601, as the schema's
            if out.get(field) is not None:
                try:
                    out[field] = parse_timestamp(out[field])
                except BadValue as exc:
                    raise BadValue(f"{field}: {exc}") from None
        if m.kind == "items" and isinstance(out.get("category_path"), str):
            out["category_path"] = [c.strip() for c in out["category_path"].replace(">", "/").split("/") if c.strip()]
        if m.kind == "events" and out.get("context") is not None and isinstance(out["context"], str):
            context, problem = json_object(out["context"], lim)
            if context is None:
                raise BadValue(f"context is not a JSON object: {problem}")
            check_json_value(context, "context", lim.max_depth, lim.max_field_chars)
            out["context"] = context
        return out

    @staticmethod
    def _to_row(obj: BaseModel, key: RowKey) -> Record:
        if isinstance(obj, Event):
            check_int64(obj.ordinal, "ordinal")
            ctx = obj.context.model_dump(exclude_none=True) if obj.context is not None else None
            return EventRow(key, obj.type, obj.item, obj.user, obj.session, obj.query, obj.value, obj.timestamp,
                            obj.ordinal, obj.split, ctx or None, obj.id)
        if isinstance(obj, Item):
            check_int64(obj.stock, "stock")
            return ItemRow(obj.id, obj.title, obj.description, tuple(obj.category_path), obj.brand, obj.price,
                           obj.currency, obj.attributes or None, obj.available, obj.stock, obj.created_at,
                           obj.updated_at, obj.language, key)
        assert isinstance(obj, Judgment)
        return JudgmentRow(key, obj.query, obj.item, obj.grade)
