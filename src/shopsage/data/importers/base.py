"""The import runner shared by every format.

An importer only parses: it yields rows (:mod:`shopsage.data.rows`) or :class:`Reject` for what it
cannot accept. The runner batches them, writes each batch in one transaction together with the
quarantined rows of that batch, and counts ``read = accepted + already present + quarantined``.
Nothing is silently dropped; a crash loses at most the batch being written, never an acknowledged one.

A file damaged past reading (an :class:`~shopsage.errors.ImportFormatError` raised while reading, e.g. a
gzip that ends early) first commits the rows read before the damage, then stops with that one error;
re-running the import skips what is stored. A row repeating an earlier row of the same import (the
same item, the same user's line, the same click) is quarantined as an exact duplicate of that line;
a row already stored by an earlier import counts as already present.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from shopsage.data.cleaning import RobotFilter
from shopsage.data.importers.limits import DEFAULT_LIMITS, ImportLimits
from shopsage.data.rows import (
    DocumentRow,
    EventBlock,
    EventRow,
    ItemRow,
    JudgmentRow,
    QuarantineRow,
    RowKey,
    item_digest,
)
from shopsage.data.stores.base import StoreWriter
from shopsage.errors import ImportFormatError, StrictImportError
from shopsage.feedback.records import ExposureRow

__all__ = ["Reject", "ShownAnswer", "Record", "Importer", "ImportSummary", "run_import", "source_name"]


class Reject(NamedTuple):
    """A row the importer could not accept: it goes to the quarantine with ``reason``."""

    key: RowKey
    reason: str
    raw: str


class ShownAnswer(NamedTuple):
    """What one answer showed, read from one source line (a ``ubi`` query): one ExposureRow per shown
    item. Row ``i`` is keyed ``(source, line, i)``, so a row the store refuses (a conflicting
    duplicate of a stored answer) is quarantined at its line."""

    key: RowKey
    rows: tuple[ExposureRow, ...]


Record = ItemRow | EventRow | JudgmentRow | DocumentRow | Reject | EventBlock | ShownAnswer
"""What ``Importer.records()`` yields; an EventBlock carries many events (of one line, say) at once; a
ShownAnswer the exposures of one answer."""


def source_name(path: Path) -> str:
    """The name rows of ``path`` are keyed by: its folder and file name (stable across machines)."""
    path = Path(path).resolve()
    return f"{path.parent.name}/{path.name}"


@dataclass
class ImportSummary:
    """What an import did; ``read == accepted + already_present + quarantined`` always holds."""

    format: str
    path: str
    read: int = 0
    accepted: int = 0
    updated: int = 0
    already_present: int = 0
    quarantined: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @property
    def balanced(self) -> bool:
        return self.read == self.accepted + self.already_present + self.quarantined


class Importer:
    """Base of the format importers: ``records()`` yields rows and rejects, in source order."""

    format: ClassVar[str]
    description: ClassVar[str] = ""
    limits: ImportLimits = DEFAULT_LIMITS
    """The per-row limits (set by ``__init__``; a wrapping importer that skips it still has them)."""

    def __init__(self, path: Path | str, limits: ImportLimits | None = None, **options: Any) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise ImportFormatError(f"{self.path} does not exist. Give the path to {self.expects()}.")
        self.limits = limits if limits is not None else DEFAULT_LIMITS
        self.options = options

    @classmethod
    def expects(cls) -> str:
        return cls.description or "the data to import"

    def require(self, *names: str) -> list[Path]:
        """Paths of files the format needs inside ``self.path`` (a folder); clear error if absent."""
        if not self.path.is_dir():
            raise ImportFormatError(f"{self.path} is not a folder; the {self.format} format reads a folder with {', '.join(names)}.")
        found = []
        for name in names:
            p = self.path / name
            if not p.is_file():
                raise ImportFormatError(f"{p} is missing; the {self.format} format needs {', '.join(names)} in {self.path}.")
            found.append(p)
        return found

    def records(self) -> Iterator[Record]:
        raise NotImplementedError


class _Batch:
    def __init__(self) -> None:
        self.items: list[ItemRow] = []
        self.events = EventBlock()
        self.judgments: list[JudgmentRow] = []
        self.documents: list[DocumentRow] = []
        self.exposures: list[ExposureRow] = []
        self.exposure_keys: list[RowKey] = []  # where each exposure was read (its quarantine key)
        self.rejects: list[Reject] = []
        self.last_key: RowKey | None = None
        self.size = 0  # rows added so far


def run_import(
    store: StoreWriter,
    importer: Importer,
    *,
    batch_size: int = 20_000,
    strict: bool = False,
    robot_filter: RobotFilter | None = None,
    on_batch: Callable[[int, RowKey | None, ImportSummary], None] | None = None,
) -> ImportSummary:
    """Import everything ``importer`` yields into ``store``; see the module docstring.

    ``on_batch(n, last key, summary)`` runs after batch ``n`` is committed: from then on every
    row up to ``last key`` is durable, whatever happens to this process.
    """
    if batch_size < 1:
        raise ImportFormatError(f"batch size must be at least 1, not {batch_size}")
    run = _ImportRun(store, importer, batch_size, strict, robot_filter, on_batch)
    started = time.perf_counter()
    bulk = getattr(store, "bulk_load", None)
    with bulk() if bulk is not None else contextlib.nullcontext():
        try:
            run.consume()
        except ImportFormatError:
            run.flush()  # keep the good rows read before the damage (a no-op after a strict stop)
            raise
    run.summary.seconds = round(time.perf_counter() - started, 3)
    assert run.summary.balanced, run.summary
    store.record_import(importer.format, str(importer.path), run.summary.as_dict())
    return run.summary


class _ImportRun:
    def __init__(self, store: StoreWriter, importer: Importer, batch_size: int, strict: bool,
                 robot_filter: RobotFilter | None, on_batch: Callable[[int, RowKey | None, ImportSummary], None] | None) -> None:
        self.store, self.importer, self.batch_size, self.strict = store, importer, batch_size, strict
        self.robot_filter, self.on_batch = robot_filter, on_batch
        self.summary = ImportSummary(importer.format, str(importer.path))
        self.seen_items: dict[str, tuple[int, RowKey | None]] = {}
        self.batch = _Batch()
        self.refused_only = True  # every row so far refused: perhaps the wrong format or file

    def flush(self) -> None:
        batch, self.batch = self.batch, _Batch()
        if batch.size:
            _write_batch(self.store, batch, self.summary, self.strict)
            self.summary.batches += 1
            if self.on_batch is not None:
                self.on_batch(self.summary.batches, batch.last_key, self.summary)

    def reject(self, key: RowKey, reason: str, raw: str) -> None:
        if self.strict:
            self.flush()
            raise StrictImportError(key.source, key.line, reason)
        self.batch.rejects.append(Reject(key, reason, raw))
        if self.refused_only and self.summary.read >= self.importer.limits.give_up_after:
            first = self.batch.rejects[0] if self.batch.rejects else Reject(key, reason, raw)
            self.batch = _Batch()  # not the format: its lines would only fill the quarantine
            raise ImportFormatError(
                f"the first {self.summary.read:,} rows of {self.importer.path} were all refused (line "
                f"{first.key.line} of {first.key.source}: {first.reason}). Is it really {self.importer.format} data "
                f"source ({self.importer.expects()})? Check the file and the format.")

    def add_item(self, rec: ItemRow) -> None:
        # in-process comparison only, so Python's own hash will do where the row is hashable
        digest = hash(rec[:13]) if rec.attributes is None else item_digest(rec)
        prior = self.seen_items.get(rec.ext_id)
        if prior is not None:
            where = f" (first seen at {prior[1].source} line {prior[1].line})" if prior[1] else ""
            key = rec.key or RowKey(source_name(self.importer.path), self.summary.read, 0)
            what = "exact duplicate: item {} appears again{}" if prior[0] == digest else \
                "conflicting duplicate: item {} appears again with other data{}"
            self.reject(key, what.format(rec.ext_id, where), repr(tuple(rec[:13])))
        else:
            self.refused_only = False
            self.seen_items[rec.ext_id] = (digest, rec.key)
            self.batch.items.append(rec)

    def consume(self) -> None:
        for rec in self.importer.records():
            batch = self.batch
            if type(rec) is EventBlock:
                self.refused_only = self.refused_only and not len(rec)
                n = len(rec)
                self.summary.read += n
                if self.robot_filter is None:
                    batch.events.extend(rec)
                else:
                    for i in range(n):
                        self.add_event(rec.row(i))
                batch.size += n
                if n:
                    batch.last_key = RowKey(rec.source[-1], rec.line[-1], rec.pos[-1])
            elif isinstance(rec, ShownAnswer):
                n = len(rec.rows)
                self.summary.read += n
                self.refused_only = self.refused_only and not n
                batch.exposures.extend(rec.rows)
                batch.exposure_keys.extend(rec.key._replace(pos=i) for i in range(n))
                batch.size += n
                batch.last_key = rec.key
            else:
                self.summary.read += 1
                if isinstance(rec, EventRow):
                    self.add_event(rec)
                elif isinstance(rec, Reject):
                    self.reject(rec.key, rec.reason, rec.raw)
                elif isinstance(rec, ItemRow):
                    self.add_item(rec)
                elif isinstance(rec, JudgmentRow):
                    batch.judgments.append(rec)
                    self.refused_only = False
                else:
                    batch.documents.append(rec)
                    self.refused_only = False
                batch.last_key = getattr(rec, "key", None) or batch.last_key
                batch.size += 1
            if batch.size >= self.batch_size:
                self.flush()
        self.flush()

    def add_event(self, rec: EventRow) -> None:
        why = self.robot_filter.check(rec) if self.robot_filter is not None else None
        if why is None:
            self.refused_only = False
            self.batch.events.append(rec)
        else:
            self.reject(rec.key, why, repr(tuple(rec)))


def _write_batch(store: StoreWriter, batch: _Batch, summary: ImportSummary, strict: bool) -> None:
    with store.transaction():
        quarantine = [QuarantineRow.safe(r.key, r.reason, r.raw) for r in batch.rejects]
        for kind, rows, write in (
            ("items", batch.items, store.write_items),
            ("events", batch.events, store.write_events),
            ("judgments", batch.judgments, store.write_judgments),
            ("documents", batch.documents, store.write_documents),
            ("exposures", batch.exposures, store.write_exposures),
        ):
            if not rows:
                continue
            res = write(rows)  # type: ignore[operator,arg-type]
            for i, reason in res.conflicts:
                row = rows.row(i) if isinstance(rows, EventBlock) else rows[i]
                key = batch.exposure_keys[i] if kind == "exposures" else getattr(row, "key", None) or RowKey(kind, 0, 0)
                if strict:
                    raise StrictImportError(key.source, key.line, reason)
                quarantine.append(QuarantineRow.safe(key, reason, repr(tuple(row))))
            accepted = res.inserted + res.updated
            summary.accepted += accepted
            summary.updated += res.updated
            summary.already_present += res.already_present
            summary.by_kind[kind] = summary.by_kind.get(kind, 0) + accepted
        if quarantine:
            store.write_quarantine(quarantine)
            summary.quarantined += len(quarantine)
