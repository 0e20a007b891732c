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
so a bad row is quarantined with the model's own explanation.
"""

from __future__ import annotations

import csv
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from shopsage.data.cleaning import BadValue, parse_timestamp
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


_DIVISOR = {"s": 1.0, "ms": 1e3, "us": 1e6}


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
        suffix = self.path.suffix.lower()
        formats = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
        if suffix not in formats:
            raise ImportFormatError(f"cannot tell the format of {self.path.name}; set file_format in the mapping")
        return formats[suffix]

    def _rows(self) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
        fmt = self._file_format()
        if fmt == "parquet":
            import pyarrow.parquet as pq

            n = 0
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=10_000):
                for row in batch.to_pylist():
                    n += 1
                    yield n + 1, row, json.dumps(row, default=str)[:4000]
            return
        with open(self.path, encoding=self.mapping.encoding, errors="surrogateescape", newline="") as fh:
            if fmt == "jsonl":
                for lineno, text in enumerate(fh, start=1):
                    if not text.strip():
                        continue
                    try:
                        row = json.loads(text)
                        yield lineno, row if isinstance(row, dict) else None, text.rstrip("\n")
                    except (json.JSONDecodeError, UnicodeEncodeError):
                        yield lineno, None, text.rstrip("\n")
                return
            reader = csv.DictReader(fh, delimiter=self.mapping.delimiter)
            line = 2
            for row in reader:
                start, line = line, reader.line_num + 1
                raw = ",".join(str(v) for v in row.values())
                try:
                    raw.encode("utf-8")
                except UnicodeEncodeError:
                    yield start, None, raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                    continue
                yield start, row, raw

    def records(self) -> Iterator[Record]:
        src = source_name(self.path)
        m = self.mapping
        model = {"events": Event, "items": Item, "judgments": Judgment}[m.kind]
        for line, row, raw in self._rows():
            key = RowKey(src, line, 0)
            if row is None:
                yield Reject(key, "undecodable bytes or malformed row", raw)
                continue
            try:
                fields = self._fields(row)
                obj = model(**fields)
            except BadValue as exc:
                yield Reject(key, str(exc), raw)
                continue
            except PydanticValidationError as exc:
                reason = describe_problems(exc, whole="row")
                yield Reject(key, reason, raw)
                continue
            yield self._to_row(obj, key)

    def _fields(self, row: dict[str, Any]) -> dict[str, Any]:
        m = self.mapping
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
            out[field] = value
        if out.get("timestamp") is not None:
            ts = out["timestamp"]
            if m.timestamp_unit == "iso":
                out["timestamp"] = parse_timestamp(str(ts))
            else:
                try:
                    out["timestamp"] = parse_timestamp(float(ts) / _DIVISOR[m.timestamp_unit])
                except (TypeError, ValueError):
                    raise BadValue(f"bad timestamp {ts!r}: expected a number in {m.timestamp_unit}") from None
        if m.kind == "items" and isinstance(out.get("category_path"), str):
            out["category_path"] = [c.strip() for c in out["category_path"].replace(">", "/").split("/") if c.strip()]
        if m.kind == "events" and out.get("context") is not None and isinstance(out["context"], str):
            try:
                out["context"] = json.loads(out["context"])
            except json.JSONDecodeError:
                raise BadValue("context is not a JSON object") from None
        return out

    @staticmethod
    def _to_row(obj: BaseModel, key: RowKey) -> Record:
        if isinstance(obj, Event):
            ctx = obj.context.model_dump(exclude_none=True) if obj.context is not None else None
            return EventRow(key, obj.type, obj.item, obj.user, obj.session, obj.query, obj.value, obj.timestamp,
                            obj.ordinal, obj.split, ctx or None, obj.id)
        if isinstance(obj, Item):
            return ItemRow(obj.id, obj.title, obj.description, tuple(obj.category_path), obj.brand, obj.price,
                           obj.currency, obj.attributes or None, obj.available, obj.stock, obj.created_at,
                           obj.updated_at, obj.language, key)
        assert isinstance(obj, Judgment)
        return JudgmentRow(key, obj.query, obj.item, obj.grade)
