"""The model registry: every trained model is a versioned directory; one pointer says which is live.

Layout under the registry root (``$SHOPSAGE_HOME/models`` by default)::

    <name>/v0001/manifest.json   + the model's own files (safetensors, .npy, adapter, ...)
    <name>/v0002/...
    <name>/state.json            {"current": "v0002", "history": ["v0001", "v0002"]}

``state.json`` is replaced atomically, so a reader (the service) sees either the old or the new
model, never half of one. ``promote`` makes a version live; ``rollback`` returns to the one that
was live before it. Promotion hooks (re-embedding the catalogue, swapping the vector index) are
the caller's: the registry only records versions and which one is current.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shopsage.artifacts import atomic_write_text, read_manifest, write_manifest
from shopsage.errors import ArtifactError, NotBetterError, NotFoundError, ValidationError

__all__ = ["ModelRegistry", "ModelVersion"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    path: Path
    manifest: dict[str, Any]
    current: bool


class ModelRegistry:
    """Versioned model directories with a current pointer, promotion and rollback."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def _dir(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValidationError(f"model name {name!r} must be 1-64 lower-case letters, digits, '.', '_' or '-'")
        return self.root / name

    def _state(self, name: str) -> dict[str, Any]:
        path = self._dir(name) / "state.json"
        if not path.is_file():
            return {"current": None, "history": []}
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return state

    def _write_state(self, name: str, state: dict[str, Any]) -> None:
        atomic_write_text(self._dir(name) / "state.json", json.dumps(state, indent=2))

    def versions(self, name: str) -> list[ModelVersion]:
        folder = self._dir(name)
        current = self._state(name)["current"]
        out = []
        for path in sorted(folder.glob("v[0-9][0-9][0-9][0-9]")):
            if (path / "manifest.json").is_file():
                out.append(ModelVersion(name, path.name, path, read_manifest(path), path.name == current))
        return out

    def names(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name)) if self.root.is_dir() else []

    def new_version_dir(self, name: str) -> Path:
        """A fresh, empty directory for the next version (not registered until :meth:`register`)."""
        folder = self._dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        while True:  # two trainings finishing together: mkdir is the claim, the loser takes the next number
            taken = [int(p.name[1:]) for p in folder.glob("v[0-9][0-9][0-9][0-9]")]
            path = folder / f"v{max(taken, default=0) + 1:04d}"
            try:
                path.mkdir()
            except FileExistsError:
                continue
            return path

    def register(self, name: str, path: Path, kind: str, config: dict[str, Any], **extra: Any) -> ModelVersion:
        """Record the model saved in ``path`` (from :meth:`new_version_dir`) with its manifest."""
        path = Path(path)
        if path.parent != self._dir(name) or not path.is_dir():
            raise ArtifactError(f"{path} is not a version directory of {name!r}; get one from new_version_dir({name!r})")
        manifest = write_manifest(path, kind, config, name=name, version=path.name, **extra)
        return ModelVersion(name, path.name, path, manifest, False)

    def current(self, name: str) -> ModelVersion | None:
        state = self._state(name)
        if state["current"] is None:
            return None
        path = self._dir(name) / state["current"]
        return ModelVersion(name, state["current"], path, read_manifest(path), True)

    def get(self, name: str, version: str) -> ModelVersion:
        path = self._dir(name) / version
        if not (path / "manifest.json").is_file():
            known = ", ".join(v.version for v in self.versions(name)) or "none"
            raise NotFoundError(f"model {name!r} has no version {version!r} (known: {known})")
        return ModelVersion(name, version, path, read_manifest(path), self._state(name)["current"] == version)

    def promote(self, name: str, version: str) -> ModelVersion:
        """Make ``version`` the live one; the previous live version is remembered for rollback."""
        target = self.get(name, version)
        state = self._state(name)
        if state["current"] != version:
            state["history"] = [*state["history"], version]
            state["current"] = version
            self._write_state(name, state)
        return ModelVersion(name, version, target.path, target.manifest, True)

    def promote_if_better(self, name: str, version: str, metric: str, live_value: float | None = None) -> ModelVersion:
        """Promote ``version`` only when its held-out ``metric`` beats the live version's, both measured
        on the same held-out tail (same ``test_fingerprint``); otherwise refuse and say why.
        ``live_value``: the live version scored again on ``version``'s own tail (continuous retraining,
        :mod:`shopsage.training.retrain`), which stands for the figure in its manifest."""
        target = self.get(name, version)
        value = target.manifest.get("metrics", {}).get(metric)
        if value is None:
            known = ", ".join(sorted(target.manifest.get("metrics", {}))) or "none"
            raise ValidationError(f"{name} {version} has no held-out {metric!r} (its metrics: {known}); train it with "
                                  "shopsage models train (with its held-out tail) or promote without --if-better")
        live = self.current(name)
        if live is None or live.version == version:
            return self.promote(name, version)
        rescored = live_value is not None
        live_value = live_value if rescored else live.manifest.get("metrics", {}).get(metric)
        if not rescored and live_value is not None and \
                live.manifest.get("test_fingerprint") != target.manifest.get("test_fingerprint"):
            raise ValidationError(f"{name} {version} and the live {live.version} were scored on different held-out tails "
                                  f"(test fingerprints {target.manifest.get('test_fingerprint')} and "
                                  f"{live.manifest.get('test_fingerprint')}): their {metric} cannot be compared. Retrain "
                                  "the challenger on the live version's data, or promote without --if-better.")
        if live_value is not None and not float(value) > float(live_value):
            raise NotBetterError(f"{name} {version} is not better than the live {live.version}: {metric} "
                                 f"{float(value):.4f} <= {float(live_value):.4f}; the live version stays")
        return self.promote(name, version)

    def previous(self, name: str) -> str | None:
        """The version a :meth:`rollback` would return to (``None`` when there is none)."""
        history = self._state(name)["history"]
        return history[-2] if len(history) >= 2 else None

    def rollback(self, name: str) -> ModelVersion:
        """Return to the version that was live before the current one."""
        state = self._state(name)
        history = list(state["history"])
        if len(history) < 2:
            raise NotFoundError(f"model {name!r} has no earlier promoted version to roll back to")
        history.pop()
        state["history"], state["current"] = history, history[-1]
        self._write_state(name, state)
        return self.get(name, history[-1])

    def delete(self, name: str, version: str) -> None:
        """Remove a version that is not live."""
        target = self.get(name, version)
        if target.current:
            raise ValidationError(f"{name} {version} is live; promote another version before deleting it")
        shutil.rmtree(target.path)

    def training(self, name: str) -> list[tuple[str, float]]:
        """Versions being trained now: ``(version, started at)`` of each directory claimed by
        :meth:`new_version_dir` whose manifest is not written yet (a training that died leaves one too:
        its start time says how long ago)."""
        folder = self._dir(name)
        return [(p.name, p.stat().st_mtime) for p in sorted(folder.glob("v[0-9][0-9][0-9][0-9]"))
                if p.is_dir() and not (p / "manifest.json").is_file()]
