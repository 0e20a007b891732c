"""Saved artifacts are plain files: a directory with ``manifest.json`` plus ``.npy`` arrays.

Arrays load with ``allow_pickle=False``; nothing ShopSage writes or reads is a pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from shopsage import __version__
from shopsage.errors import ArtifactError

__all__ = ["write_manifest", "read_manifest", "save_arrays", "load_arrays", "fingerprint_arrays", "atomic_write_text"]

MANIFEST = "manifest.json"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(directory: Path, kind: str, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Write ``manifest.json`` describing an artifact of ``kind`` built with ``config``."""
    manifest = {
        "kind": kind,
        "shopsage_version": __version__,
        "created_at": time.time(),
        "config": config,
        **extra,
    }
    atomic_write_text(Path(directory) / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str))
    return manifest


def read_manifest(directory: Path, kind: str | None = None) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{directory} has no {MANIFEST}: it is not a saved ShopSage artifact. Save one with .save(dir).")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if kind is not None and manifest.get("kind") != kind:
        raise ArtifactError(f"{directory} holds a {manifest.get('kind')!r}, not a {kind!r}: load it with the matching class.")
    return manifest


def save_arrays(directory: Path, **arrays: np.ndarray) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, arr in arrays.items():
        np.save(directory / f"{name}.npy", np.asarray(arr), allow_pickle=False)


def load_arrays(directory: Path, *names: str, mmap: bool = False) -> dict[str, np.ndarray]:
    out = {}
    for name in names:
        path = Path(directory) / f"{name}.npy"
        if not path.is_file():
            raise ArtifactError(f"{path} is missing: the artifact in {directory} is incomplete; save it again.")
        out[name] = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    return out


def fingerprint_arrays(*arrays: np.ndarray) -> str:
    """A short content hash identifying the data a model was trained on."""
    h = hashlib.sha256()
    for arr in arrays:
        a = np.ascontiguousarray(arr)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]
