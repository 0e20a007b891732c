"""Fuzzing the importers with mutated excerpts of the real data sets (tests and the fuzz benchmark).

A :class:`Case` is a small real excerpt of one importer's input (the first lines of each file under
``../shared/data/<set>``, read at run time; nothing is copied into the repository). :func:`mutate`
damages one of its files the way real files get damaged (byte flips, NUL, invalid UTF-8, huge
fields and lines, deep nesting, huge numbers, dropped or extra columns, out-of-range values, stray
quotes, duplicated lines, a cut at a random byte) and records which lines it touched.
:func:`check` imports the clean and the mutated excerpt and asserts what the importers promise:

- no exception but one :class:`~shopsage.errors.ImportFormatError` naming the file, and that only
  where a whole-file structure was damaged (a header line, a zip, Parquet, gzip or JSON document);
- ``read == accepted + already_present + quarantined``;
- every line the mutation did not touch stores exactly the rows the clean import stored for it;
- every line of the mutated file is accounted for: its rows are stored or it is in the quarantine.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopsage.data.importers import get_importer, run_import
from shopsage.data.importers.base import ImportSummary, source_name
from shopsage.data.stores import open_store
from shopsage.errors import ImportFormatError

__all__ = ["Case", "Mutation", "FileSpec", "cases", "mutate", "check", "MUTATORS", "FuzzFailure"]


class FuzzFailure(AssertionError):
    """A broken promise: the message says which and where."""


@dataclass(frozen=True)
class FileSpec:
    """One file of a case: how its lines become rows."""

    name: str  # path inside the case folder (for reviews-zh: the member inside the zip)
    kind: str  # events | items | judgments | documents | exposures | whole (one document: JSON, zip, Parquet)
    header: int = 0  # header lines (damaging one may stop the import with one clear error)
    sep: bytes = b" "  # field separator (for the column mutators)
    encoding: str = "utf-8"
    csv: bool = False
    id_of: Callable[[bytes], Any] | None = None  # items / judgments / exposures: the stored key a line gives
    json: bool = False  # one JSON object a line: values are also swapped for values of other JSON types


@dataclass
class Case:
    """A real excerpt for one importer."""

    name: str
    fmt: str
    files: dict[str, bytes]
    specs: list[FileSpec]
    target: str = "."  # what to import, relative to the case folder
    mapping: str | None = None  # TOML mapping (table format)
    pack: Callable[[Path, dict[str, bytes]], None] | None = None  # writes files the importer reads (zip, gzip)
    by_user: bool = False  # recbole sequences: one user's rows are one record
    dedup: bool = False  # a line repeating a stored line of its file must be quarantined as a duplicate

    def write(self, folder: Path, files: dict[str, bytes] | None = None) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        files = self.files if files is None else files
        if self.pack is not None:
            self.pack(folder, files)
        else:
            for name, data in files.items():
                (folder / name).write_bytes(data)
        if self.mapping is not None:
            (folder / "mapping.toml").write_text(self.mapping, encoding="utf-8")
        return folder / self.target

    def importer(self, folder: Path) -> Any:
        options = {"mapping": folder / "mapping.toml"} if self.mapping is not None else {}
        return get_importer(self.fmt, str(folder / self.target), **options)

    def source(self, folder: Path, spec: FileSpec) -> str:
        if self.fmt == "reviews-zh":
            return f"{Path(self.target).name}/{spec.name}"
        return source_name(folder / self.actual(spec.name))

    def actual(self, name: str) -> str:
        return name + ".gz" if self.name == "table-csv-gz" else name


# -- the excerpts ----------------------------------------------------------------------------

def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        return b"".join(fh.readline() for _ in range(n))


def _first_field(sep: bytes) -> Callable[[bytes], str]:
    return lambda line: line.split(sep, 1)[0].strip().decode("utf-8", "replace")


def _csv_field(n: int, encoding: str) -> Callable[[bytes], Any]:
    def get(line: bytes) -> Any:
        rows = list(csv.reader([line.decode(encoding, "replace")]))
        return rows[0][n].strip() if rows and len(rows[0]) > n else None
    return get


def _judgment_of(line: bytes) -> Any:
    rows = list(csv.reader([line.decode("iso-8859-1")]))
    return (rows[0][3].strip(), rows[0][1].strip()) if rows and len(rows[0]) == 5 else None


def _zip_pack(member: str) -> Callable[[Path, dict[str, bytes]], None]:
    def pack(folder: Path, files: dict[str, bytes]) -> None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(member, files[member])
        (folder / "reviews.zip").write_bytes(files.get("reviews.zip", buf.getvalue()))
    return pack


def _gzip_pack(folder: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (folder / (name + ".gz")).write_bytes(data if data[:2] == b"\x1f\x8b" else gzip.compress(data, mtime=0))


_CLICKS_MAPPING = ('kind = "events"\ndelimiter = "\\t"\ntimestamp_unit = "s"\n[columns]\nsession = "SessionId"\n'
                   'item = "ItemId"\ntimestamp = "Time"\n[constants]\ntype = "click"\n')


def cases(data_dir: Path, lines: int = 30) -> tuple[dict[str, Case], dict[str, str]]:
    """The cases whose data set is present, and why each missing one is skipped."""
    found: dict[str, Case] = {}
    missing: dict[str, str] = {}
    for name, build in _BUILDERS.items():
        try:
            found[name] = build(data_dir, lines)
        except FileNotFoundError as exc:
            missing[name] = f"{exc.filename} is missing"
    return found, missing


def _amazon_seq(d: Path, n: int) -> Case:
    b = d / "amazon-beauty"
    return Case("amazon-seq", "amazon-seq", {"user_sequence.txt": _head(b / "user_sequence.txt", n),
                                             "item_titles.txt": _head(b / "item_titles.txt", n)},
                [FileSpec("user_sequence.txt", "events"), FileSpec("item_titles.txt", "items", id_of=_first_field(b" "))])


def _s3rec(d: Path, n: int) -> Case:
    b = d / "amazon-beauty"
    attrs = json.loads((b / "s3rec_Beauty_item2attributes.json").read_text(encoding="utf-8"))
    head = dict(list(attrs.items())[:n])
    return Case("s3rec", "s3rec", {"s3rec_Beauty.txt": _head(b / "s3rec_Beauty.txt", n),
                                   "s3rec_Beauty_item2attributes.json": json.dumps(head).encode()},
                [FileSpec("s3rec_Beauty.txt", "events"), FileSpec("s3rec_Beauty_item2attributes.json", "whole")],
                target="s3rec_Beauty.txt")


def _recbole(d: Path, n: int) -> Case:
    b = d / "amazon-scientific"
    train = _head(b / "Scientific.train.inter", n + 1)
    users = {ln.split(b"\t", 1)[0] for ln in train.splitlines()[1:]}

    def rows_of(name: str) -> bytes:
        data = (b / name).read_bytes().splitlines(keepends=True)
        return data[0] + b"".join(ln for ln in data[1:] if ln.split(b"\t", 1)[0] in users)

    files = {"Scientific.text": _head(b / "Scientific.text", n + 1), "Scientific.train.inter": train,
             "Scientific.valid.inter": rows_of("Scientific.valid.inter"),
             "Scientific.test.inter": rows_of("Scientific.test.inter"),
             "Scientific.item2index": (b / "Scientific.item2index").read_bytes(),
             "Scientific.user2index": (b / "Scientific.user2index").read_bytes()}
    specs = [FileSpec("Scientific.text", "items", 1, b"\t", id_of=_first_field(b"\t"))]
    specs += [FileSpec(f"Scientific.{s}.inter", "events", 1, b"\t") for s in ("train", "valid", "test")]
    return Case("recbole", "recbole", files, specs, by_user=True)


def _homedepot(d: Path, n: int) -> Case:
    b = d / "homedepot"
    return Case("homedepot", "homedepot", {"product_titles.csv": _head(b / "product_titles.csv", n + 1),
                                           "train.csv": _head(b / "train.csv", n + 1)},
                [FileSpec("product_titles.csv", "items", 1, b",", "iso-8859-1", True, _csv_field(0, "iso-8859-1")),
                 FileSpec("train.csv", "judgments", 1, b",", "iso-8859-1", True, _judgment_of)])


def _sessions(d: Path, n: int) -> Case:
    b = d / "diginetica"
    return Case("sessions", "sessions", {"train_sessions.txt": _head(b / "train_sessions.txt", n),
                                         "test_prefixes.tsv": _head(b / "test_prefixes.tsv", n)},
                [FileSpec("train_sessions.txt", "events"), FileSpec("test_prefixes.tsv", "events", sep=b"\t")])


def _yoochoose(d: Path, n: int) -> Case:
    b = d / "yoochoose-100k"
    return Case("yoochoose", "yoochoose", {"x_train_full.txt": _head(b / "yoochoose-clicks-100k_train_full.txt", n + 1),
                                           "x_test.txt": _head(b / "yoochoose-clicks-100k_test.txt", n + 1)},
                [FileSpec("x_train_full.txt", "events", 1, b"\t"), FileSpec("x_test.txt", "events", 1, b"\t")])


def _reviews(d: Path, n: int) -> Case:
    with zipfile.ZipFile(d / "chinese-reviews" / "online_shopping_10_cats.zip") as zf:
        member = next(m for m in zf.namelist() if m.endswith(".csv"))
        with zf.open(member) as fh:
            head = b"".join(fh.readline() for _ in range(n + 1))
    return Case("reviews-zh", "reviews-zh", {member: head}, [FileSpec(member, "documents", 1, b",", csv=True)],
                target="reviews.zip", pack=_zip_pack(member))


def _table_csv(d: Path, n: int) -> Case:
    data = _head(d / "yoochoose-100k" / "yoochoose-clicks-100k_train_full.txt", n + 1)
    return Case("table-csv", "table", {"clicks.csv": data}, [FileSpec("clicks.csv", "events", 1, b"\t", csv=True)],
                target="clicks.csv", mapping=_CLICKS_MAPPING)


def _table_csv_gz(d: Path, n: int) -> Case:
    case = _table_csv(d, n)
    return Case("table-csv-gz", "table", case.files, case.specs, target="clicks.csv.gz", mapping=case.mapping,
                pack=_gzip_pack)


def _table_jsonl(d: Path, n: int) -> Case:
    lines = _head(d / "yoochoose-100k" / "yoochoose-clicks-100k_train_full.txt", n + 1).decode().splitlines()
    cols = lines[0].split("\t")
    body = "".join(json.dumps(dict(zip(cols, ln.split("\t"), strict=True))) + "\n" for ln in lines[1:])
    mapping = _CLICKS_MAPPING.replace('delimiter = "\\t"\n', "")
    return Case("table-jsonl", "table", {"clicks.jsonl": body.encode()},
                [FileSpec("clicks.jsonl", "events", 0, b",", json=True)], target="clicks.jsonl", mapping=mapping)


def _table_parquet(d: Path, n: int) -> Case:
    import pyarrow as pa
    import pyarrow.parquet as pq

    lines = _head(d / "yoochoose-100k" / "yoochoose-clicks-100k_train_full.txt", n + 1).decode().splitlines()
    cols = lines[0].split("\t")
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([dict(zip(cols, ln.split("\t"), strict=True)) for ln in lines[1:]]), buf)
    mapping = _CLICKS_MAPPING.replace('delimiter = "\\t"\n', "")
    return Case("table-parquet", "table", {"clicks.parquet": buf.getvalue()}, [FileSpec("clicks.parquet", "whole")],
                target="clicks.parquet", mapping=mapping)


def _open_bandit_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: row[k] for k in ("", "timestamp", "item_id", "position", "click", "propensity_score")}
                for row in csv.DictReader(fh)]


def _ubi(d: Path, n: int) -> Case:
    """Open Bandit's logged recommendations written by ``shopsage export ubi``'s own document builders.

    Each logged impression (one item shown at its position, with the logging policy's propensity) is
    one answer; each click, one event attributed to it at the impression's time (the log has no click
    time). Per policy (uniform random and Bernoulli TS, the experiment's two variants): its first
    ``n // 2`` impressions and its first ``n // 2`` clicked ones. The data set has no visitor ids: each
    impression is its own session."""
    from datetime import datetime

    from shopsage.feedback.records import AttributedEvent, ExposureRow
    from shopsage.feedback.ubi import document_line, event_documents, query_documents

    shown: list[ExposureRow] = []
    clicks: list[AttributedEvent] = []
    for policy in ("random", "bts"):
        rows = _open_bandit_rows(d / "open-bandit" / policy / "all" / "all.csv")
        clicked = [r for r in rows if r["click"] == "1"][:n // 2]
        for r in sorted({r[""]: r for r in rows[:n // 2] + clicked}.values(), key=lambda r: int(r[""])):
            answer = f"obd-{policy}-{r['']}"
            ts = datetime.fromisoformat(r["timestamp"]).timestamp()
            shown.append(ExposureRow(answer, int(r["position"]), "recommendation", "all", "open-bandit", policy,
                                     None, answer, r["item_id"], float(r["propensity_score"]), ts))
            if r["click"] == "1":
                clicks.append(AttributedEvent(answer, int(r["position"]), "click", None, ts, None, answer,
                                              r["item_id"], kind="recommendation"))
    shown.sort(key=lambda e: (e.ts, e.exposure_id))
    clicks.sort(key=lambda e: (e.ts or 0.0, e.exposure_id))
    files = {name: "".join(document_line(doc) for doc in docs).encode()
             for name, docs in (("ubi_queries.jsonl", query_documents(iter(shown))),
                                ("ubi_events.jsonl", event_documents(iter(clicks))))}
    return Case("ubi", "ubi", files, [FileSpec("ubi_queries.jsonl", "exposures", sep=b",", id_of=_query_id, json=True),
                                      FileSpec("ubi_events.jsonl", "events", sep=b",", json=True)], dedup=True)


def _query_id(line: bytes) -> Any:
    """The answer a UBI query line stores its exposures under (None when the line is not a query)."""
    try:
        qid = json.loads(line).get("query_id")
    except (ValueError, AttributeError, RecursionError):
        return None
    return str(qid).strip(" \t") if isinstance(qid, str | int) and not isinstance(qid, bool) else None


_BUILDERS: dict[str, Callable[[Path, int], Case]] = {
    "amazon-seq": _amazon_seq, "s3rec": _s3rec, "recbole": _recbole, "homedepot": _homedepot,
    "sessions": _sessions, "yoochoose": _yoochoose, "reviews-zh": _reviews, "table-csv": _table_csv,
    "table-csv-gz": _table_csv_gz, "table-jsonl": _table_jsonl, "table-parquet": _table_parquet, "ubi": _ubi}


# -- the mutations ---------------------------------------------------------------------------

@dataclass
class Mutation:
    """What was done to one file: its new content, the lines touched (1-based, in the mutated file)."""

    file: str
    data: bytes
    touched: set[int] = field(default_factory=set)
    kinds: list[str] = field(default_factory=list)
    whole: bool = False  # the file's structure as a whole was damaged (a clear error is allowed)
    refused: set[int] = field(default_factory=set)  # lines that must be quarantined (NUL, over a limit, not UTF-8)


_NOT_EOL = [b for b in range(256) if b not in (10, 13)]


def _rand_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.choice(_NOT_EOL) for _ in range(n))


def _insert(rng: random.Random, line: bytes, what: bytes) -> bytes:
    at = rng.randint(0, len(line))
    return line[:at] + what + line[at:]


def _number_token(rng: random.Random, line: bytes, sep: bytes, new: bytes) -> bytes:
    parts = line.split(sep)
    numeric = [i for i, p in enumerate(parts) if p.strip().replace(b".", b"", 1).isdigit()]
    i = rng.choice(numeric) if numeric else rng.randrange(len(parts))
    parts[i] = new
    return sep.join(parts)


def _line_mutators() -> dict[str, Callable[[random.Random, bytes, bytes], bytes]]:
    return {
        "flip": lambda r, ln, sep: bytearray_flip(r, ln),
        "nul": lambda r, ln, sep: _insert(r, ln, b"\x00"),
        "bad_utf8": lambda r, ln, sep: _insert(r, ln, r.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe4\xbd"])),
        "control": lambda r, ln, sep: _insert(r, ln, bytes([r.choice([1, 2, 7, 8, 11, 12, 27, 31, 127])])),
        "huge_field": lambda r, ln, sep: _insert(r, ln, b"x" * 140_000),
        "huge_line": lambda r, ln, sep: ln + b"y" * (1 << 20),
        "deep": lambda r, ln, sep: _insert(r, ln, b"[" * 5000),
        "huge_number": lambda r, ln, sep: _number_token(r, ln, sep, b"9" * 5001),
        "out_of_range": lambda r, ln, sep: _number_token(r, ln, sep, r.choice([b"-5", b"1e308", b"-1e308", b"nan", b"inf"])),
        "drop_column": lambda r, ln, sep: sep.join(_drop(r, ln.split(sep))),
        "extra_column": lambda r, ln, sep: ln + sep + b"extra",
        "quote": lambda r, ln, sep: _insert(r, ln, b'"'),
        "binary": lambda r, ln, sep: _rand_bytes(r, r.randint(1, 64)),
    }


def bytearray_flip(rng: random.Random, line: bytes) -> bytes:
    out = bytearray(line or b" ")
    for _ in range(rng.randint(1, 3)):
        out[rng.randrange(len(out))] = rng.choice(_NOT_EOL)
    return bytes(out)


def _drop(rng: random.Random, parts: list[bytes]) -> list[bytes]:
    if len(parts) > 1:
        del parts[rng.randrange(len(parts))]
    return parts


LINE_MUTATORS = _line_mutators()
MUTATORS = [*LINE_MUTATORS, "duplicate", "truncate"]
JSON_MUTATORS = [*MUTATORS, "wrong_type"]
"""JSON Lines files also get ``wrong_type``: one value, at any depth, swapped for one of another JSON type
(a time field, one time in three when the line has one: ``true`` read as second 1 of 1970 was a real bug)."""

TIME_KEYS = frozenset({"timestamp", "Time", "time", "ts"})
"""Keys whose values are times in the fuzzed files (UBI's ``timestamp``, the clicks table's ``Time``)."""

_OTHER_TYPES: list[Any] = [None, True, False, 0, -1, 1.5, 2**63, -(2**31), 1e300, "", " ", "x", "\u0007",
                           "2026-13-45T99:00:00Z", "1e999", [], [1, [2]], ["a", "a"], {}, {"a": {"b": 1}}]


def _wrong_type(rng: random.Random, line: bytes) -> bytes:
    """One value of the line's JSON object (any depth, or the object itself) replaced by another type's."""
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError):
        return bytearray_flip(rng, line)
    slots: list[tuple[Any, Any]] = [(None, None)]  # (container, key); (None, None) is the whole document
    stack = [doc]
    while stack:
        node = stack.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node)) if isinstance(node, list) else []
        for k in keys:
            slots.append((node, k))
            stack.append(node[k])
    times = [s for s in slots if s[1] in TIME_KEYS]
    container, key = rng.choice(times if times and rng.random() < 1 / 3 else slots)
    value = rng.choice(_OTHER_TYPES)
    if container is None:
        doc = value
    else:
        container[key] = value
    try:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate the line held as an escape: keep it escaped
        return json.dumps(doc, separators=(",", ":")).encode()


def mutate(case: Case, rng: random.Random, n_mutations: int = 2) -> Mutation:
    """Damage one file of ``case`` with 1..``n_mutations`` mutations, seeded by ``rng``."""
    spec = rng.choice(case.specs)
    data = case.files[spec.name]
    if spec.kind == "whole":
        return _mutate_whole(rng, spec.name, data)
    if case.pack is not None and rng.random() < 0.15:  # damage the archive around the lines (zip, gzip)
        packed = _packed_bytes(case, spec.name)
        whole = _mutate_whole(rng, "reviews.zip" if case.fmt == "reviews-zh" else spec.name, packed)
        return whole
    ends_with_newline = data.endswith(b"\n")
    lines = data.split(b"\n")
    if ends_with_newline:
        lines = lines[:-1]
    touched: set[int] = set()
    refused: set[int] = set()
    kinds: list[str] = []
    truncated = False
    must_refuse = {"nul", "huge_line", "huge_field"} | ({"bad_utf8"} if spec.encoding == "utf-8" else set())
    for _ in range(rng.randint(1, n_mutations)):
        kind = rng.choice(JSON_MUTATORS if spec.json else MUTATORS)
        kinds.append(kind)
        if not lines:
            break
        if kind == "duplicate":
            lines.append(lines[rng.randrange(spec.header, len(lines)) if len(lines) > spec.header else 0])
            touched.add(len(lines))
        elif kind == "truncate":
            body = b"\n".join(lines)
            cut = rng.randint(1, max(1, len(body) - 1))
            lines = body[:cut].split(b"\n")
            touched = {t for t in touched if t <= len(lines)} | {len(lines)}
            refused = {t for t in refused if t < len(lines)}  # the cut line may have lost what made it bad
            truncated = True
        elif kind == "wrong_type":
            i = rng.randrange(len(lines))
            lines[i] = _wrong_type(rng, lines[i])
            touched.add(i + 1)
        else:
            i = rng.randrange(len(lines))
            lines[i] = LINE_MUTATORS[kind](rng, lines[i], spec.sep)
            touched.add(i + 1)
            if kind in must_refuse and i >= spec.header:
                refused.add(i + 1)
    out = b"\n".join(lines) + (b"" if truncated or not ends_with_newline else b"\n")
    return Mutation(spec.name, out, touched, kinds, whole=any(t <= spec.header for t in touched), refused=refused)


def _packed_bytes(case: Case, name: str) -> bytes:
    with contextlib.ExitStack() as stack:
        import tempfile

        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        assert case.pack is not None
        case.pack(tmp, case.files)
        path = tmp / ("reviews.zip" if case.fmt == "reviews-zh" else case.actual(name))
        return path.read_bytes()


def _mutate_whole(rng: random.Random, name: str, data: bytes) -> Mutation:
    kind = rng.choice(["truncate", "flip", "nul"])
    if kind == "truncate":
        out = data[:rng.randrange(max(1, len(data)))]
    elif kind == "flip":
        out = bytearray_flip(rng, data)
    else:
        out = _insert(rng, data, b"\x00")
    return Mutation(name, out, set(), [f"whole_{kind}"], whole=True)


# -- the promises ------------------------------------------------------------------------------

@dataclass
class Outcome:
    """What one fuzzed import did."""

    summary: ImportSummary | None
    error: str | None  # the ImportFormatError's message, when the import stopped with one


def _files_after(case: Case, m: Mutation) -> dict[str, bytes]:
    files = dict(case.files)
    files[m.file] = m.data
    return files


def run_case(case: Case, folder: Path, store_url: str, files: dict[str, bytes] | None = None) -> tuple[Any, Outcome]:
    case.write(folder, files)
    store = open_store(store_url)
    try:
        summary = run_import(store, case.importer(folder))
    except ImportFormatError as exc:
        return store, Outcome(None, str(exc))
    return store, Outcome(summary, None)


def _event_key(e: Any) -> tuple:
    context = json.dumps(e.context, sort_keys=True) if e.context else None  # UBI: the answer and position clicked
    return (e.key.pos, e.type, e.item, e.user, e.session, e.query, e.value, e.ts, e.ordinal, e.split, context,
            e.ext_id)


def _line_rows(store: Any, kind: str, src: str, lines: list[int]) -> dict[int, list]:
    out: dict[int, list] = {ln: [] for ln in lines}
    if kind == "events":
        for e in store.event_rows(src, lines):
            out.setdefault(e.key.line, []).append(_event_key(e))
    elif kind == "documents":
        for _, d in store.documents():
            if d.key.source == src and d.key.line in out:
                out[d.key.line].append(tuple(d[1:]))
    return {k: sorted(v, key=repr) for k, v in out.items()}


def _quarantined(store: Any) -> dict[tuple[str, int], str]:
    return {(q.key.source, q.key.line): q.reason for q in store.quarantined(limit=10_000_000)}


def _lines_of(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    return lines[:-1] if data.endswith(b"\n") else lines


def check(case: Case, mutation: Mutation, clean_store: Any, clean_folder: Path, folder: Path, store_url: str) -> Outcome:
    """Import the mutated case into ``store_url`` and assert every promise (see the module docstring)."""
    store, outcome = run_case(case, folder, store_url, _files_after(case, mutation))
    try:
        _check(case, mutation, clean_store, clean_folder, folder, store, outcome)
    finally:
        store.close()
    return outcome


def _check(case: Case, m: Mutation, clean: Any, clean_folder: Path, folder: Path, store: Any, out: Outcome) -> None:
    where = f"{case.name}: {m.kinds} on {m.file} lines {sorted(m.touched)}"
    if out.error is not None:
        if not m.whole:
            raise FuzzFailure(f"{where}: the import stopped although no whole-file structure was damaged: {out.error}")
        names = {m.file, Path(m.file).name, case.actual(m.file), Path(case.target).name}
        if not any(n in out.error for n in names):
            raise FuzzFailure(f"{where}: the error does not name the file: {out.error}")
        return
    assert out.summary is not None
    if not out.summary.balanced:
        raise FuzzFailure(f"{where}: read != accepted + already present + quarantined: {out.summary}")
    spec = next((s for s in case.specs if s.name == m.file), None)
    if spec is None or spec.kind == "whole":
        return
    quarantined = _quarantined(store)
    src = case.source(folder, spec)
    for i in sorted(m.refused):
        if (src, i) not in quarantined:
            raise FuzzFailure(f"{where}: line {i} holds a NUL, undecodable bytes or more than a limit allows, "
                              "but it is not in the quarantine")
    if case.dedup:
        _check_duplicates(_lines_of(m.data), src, quarantined, where)
    untouched_users = None
    if case.by_user and spec.kind == "events":
        untouched_users = _users_untouched(case, m)
    for s in case.specs:
        if s.kind == "whole":
            continue
        _check_file(case, s, m if s.name == m.file else None, clean, clean_folder, folder, store, quarantined,
                    untouched_users, where)


def _check_duplicates(lines: list[bytes], src: str, quarantined: dict[tuple[str, int], str], where: str) -> None:
    """A line byte for byte equal to an earlier line that was stored is quarantined as a duplicate."""
    first: dict[bytes, int] = {}
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        k = first.setdefault(line, i)
        if k != i and (src, k) not in quarantined and "duplicate" not in quarantined.get((src, i), ""):
            raise FuzzFailure(f"{where}: line {i} repeats stored line {k} but is not quarantined as a duplicate "
                              f"({quarantined.get((src, i))})")


def _users_untouched(case: Case, m: Mutation) -> set[bytes]:
    """Users none of whose rows the mutation touched (recbole: a user's rows form one sequence)."""
    users: set[bytes] = set()
    touched: set[bytes] = set()
    spec = next(s for s in case.specs if s.name == m.file)
    if any(t <= spec.header for t in m.touched):  # a damaged header changes every row of the file
        return set()
    for s in case.specs:
        if s.kind != "events":
            continue
        clean = _lines_of(case.files[s.name])
        for i, ln in enumerate(clean[s.header:], start=s.header + 1):
            u = ln.split(b"\t", 1)[0]
            users.add(u)
            if s.name == m.file and (i in m.touched or i > len(_lines_of(m.data))):
                touched.add(u)
        if s.name == m.file:
            for i in m.touched:
                lines = _lines_of(m.data)
                if i <= len(lines):
                    touched.add(lines[i - 1].split(b"\t", 1)[0])
    return users - touched


def _check_file(case: Case, s: FileSpec, m: Mutation | None, clean: Any, clean_folder: Path, folder: Path,
                store: Any, quarantined: dict[tuple[str, int], str], untouched_users: set[bytes] | None,
                where: str) -> None:
    src = case.source(folder, s)
    clean_src = case.source(clean_folder, s)
    before = _lines_of(case.files[s.name])
    after = _lines_of(m.data) if m is not None else before
    touched = m.touched if m is not None else set()
    inner = _inner_csv_lines(after, s, touched) if s.csv and m is not None else set()
    kept = [i for i in range(s.header + 1, len(after) + 1) if i not in touched and i <= len(before)
            and after[i - 1] == before[i - 1] and before[i - 1].strip() and i not in inner]
    if any(t <= s.header for t in touched):  # a damaged header changes what every row means
        kept = []
    if untouched_users is not None and s.kind == "events":
        kept = [i for i in kept if before[i - 1].split(b"\t", 1)[0] in untouched_users]
    if s.kind in ("events", "documents"):
        want = _line_rows(clean, s.kind, clean_src, kept)
        got = _line_rows(store, s.kind, src, kept)
        for i in kept:
            if got[i] != want[i] and not _dup_allowed(quarantined, src, i, touched):
                raise FuzzFailure(f"{where}: {s.name} line {i} was untouched but its rows changed: "
                                  f"{got[i][:3]} instead of {want[i][:3]} ({quarantined.get((src, i))})")
        every = [i for i in range(s.header + 1, len(after) + 1) if after[i - 1].strip() and i not in inner]
        stored = _line_rows(store, s.kind, src, every)
        for i in every:
            if not stored[i] and (src, i) not in quarantined:
                raise FuzzFailure(f"{where}: {s.name} line {i} was neither stored nor quarantined: {after[i - 1][:120]!r}")
    else:
        _check_keyed(case, s, before, after, kept, inner, clean, store, src, quarantined, touched, where)


def _dup_allowed(quarantined: dict[tuple[str, int], str], src: str, i: int, touched: set[int]) -> bool:
    """A mutated line may take the id of a later, untouched one: that one is then a duplicate."""
    reason = quarantined.get((src, i), "")
    return bool(touched) and min(touched) < i and "duplicate" in reason


def _check_keyed(case: Case, s: FileSpec, before: list[bytes], after: list[bytes], kept: list[int], inner: set[int],
                 clean: Any, store: Any, src: str, quarantined: dict[tuple[str, int], str], touched: set[int],
                 where: str) -> None:
    assert s.id_of is not None
    if s.kind == "items":
        want = {r.ext_id: _item(case, r) for _, r in clean.items()}
        got = {r.ext_id: _item(case, r) for _, r in store.items()}
    elif s.kind == "exposures":  # UBI queries: one answer's shown items, keyed by its query_id
        want, got = _answers(clean), _answers(store)
    else:
        want = {(q, i): g for q, i, g in clean.judgments()}
        got = {(q, i): g for q, i, g in store.judgments()}
    for i in kept:
        key = s.id_of(before[i - 1])
        if key in want and got.get(key) != want[key] and not _dup_allowed(quarantined, src, i, touched):
            raise FuzzFailure(f"{where}: {s.name} line {i} was untouched but {key!r} is "
                              f"{got.get(key)!r} instead of {want[key]!r}")
    for i in range(s.header + 1, len(after) + 1):
        if not after[i - 1].strip() or i in inner or (src, i) in quarantined:
            continue
        try:
            key = s.id_of(after[i - 1])
        except (IndexError, UnicodeDecodeError):
            key = None
        if key not in got:
            raise FuzzFailure(f"{where}: {s.name} line {i} ({key!r}) was neither stored nor quarantined: "
                              f"{after[i - 1][:120]!r}")


def _answers(store: Any) -> dict[str, list]:
    out: dict[str, list] = {}
    for r in store.read_exposures():
        out.setdefault(r.exposure_id, []).append(tuple(r))
    return {k: sorted(v) for k, v in out.items()}


def _item(case: Case, row: Any) -> Any:
    """An item as compared. RecBole's UniSRec texts: the words of title, categories and brand, not
    where they split, since the layout is learned from the whole file (a quarantined line or a cut
    file can move a boundary or leave the text whole)."""
    if case.fmt != "recbole":
        return row
    words = " ".join([row.title or "", *row.category_path, row.brand or ""]).replace(". ", " ").rstrip(".").split()
    return row._replace(title=" ".join(words), category_path=(), brand=None)


def _inner_csv_lines(lines: list[bytes], s: FileSpec, touched: set[int]) -> set[int]:
    """Lines after the first of a CSV record that a quote on one touched line opened and a quote on
    another touched line closed: they are that record's text, not rows of their own."""
    text = "\n".join(ln.decode(s.encoding, "replace") for ln in lines) + "\n"
    inner: set[int] = set()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=s.sep.decode())
    start = 1
    with contextlib.suppress(csv.Error):
        for _ in reader:
            end = reader.line_num
            if end > start and start in touched and end in touched:
                inner.update(range(start + 1, end + 1))
            start = end + 1
    return inner
