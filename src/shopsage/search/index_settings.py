"""Index settings a merchant edits live: synonyms, stop words, typo tolerance, searchable, facetable and
sortable attributes, and the autocomplete's k (``GET/PATCH /v1/settings``).

:class:`IndexSettings` is the validated document (Meilisearch's names, snake_case);
:class:`SettingsFile` keeps it in the shop's home (``search-settings.json``, written atomically) and
hands every request the current version: a request first compares the file's modification time and
size with what it read last (one ``stat``), so a PATCH through any worker applies to the next request
of every worker. Nothing is re-indexed: each setting is read at query time
(:meth:`shopsage.search.engine.SearchEngine.apply_settings`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shopsage.errors import ConfigError, ValidationError, describe_problems

__all__ = ["IndexSettings", "TypoTolerance", "SettingsPatch", "SettingsFile", "SEARCHABLE", "SETTINGS_FILE"]

SETTINGS_FILE = "search-settings.json"
SEARCHABLE = ("title", "brand", "category", "description", "attributes")
"""The lexical fields a query word may match in."""


def _word(value: str) -> str:
    value = " ".join(value.split())
    if not value or not value.isprintable():
        raise ValueError("must be a non-empty word or phrase of printable characters")
    return value


Word = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_word)]
Attr = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"), AfterValidator(_word)]


class TypoTolerance(BaseModel):
    """How far a query word may be from a known word (Meilisearch's defaults)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    """Off: query words match only as typed (no typo correction, no spelling fallback)."""
    min_word_size_for_one_typo: int = Field(5, ge=1, le=64)
    """A word of at least this many letters may be one edit away."""
    min_word_size_for_two_typos: int = Field(9, ge=1, le=64)
    """From this many letters, two edits."""

    @model_validator(mode="after")
    def _order(self) -> TypoTolerance:
        if self.min_word_size_for_two_typos < self.min_word_size_for_one_typo:
            raise ValueError(f"min_word_size_for_two_typos ({self.min_word_size_for_two_typos}) is below "
                             f"min_word_size_for_one_typo ({self.min_word_size_for_one_typo}): raise it")
        return self


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


class IndexSettings(BaseModel):
    """The search index's settings as a merchant sees and edits them."""

    model_config = ConfigDict(extra="forbid", strict=True)

    synonyms: dict[Word, Annotated[list[Word], Field(min_length=1, max_length=20)]] = Field(
        default_factory=dict, max_length=10_000)
    """One-way: a query word or phrase (up to 3 words) -> the words it also matches (``"tv": ["television"]``)."""
    stop_words: Annotated[list[Word], AfterValidator(_unique)] = Field(default_factory=list, max_length=1000)
    """Query words ignored."""
    typo_tolerance: TypoTolerance = Field(default_factory=lambda: TypoTolerance.model_validate({}))
    searchable_attributes: Annotated[list[Attr], AfterValidator(_unique)] = Field(
        default_factory=lambda: list(SEARCHABLE), min_length=1, max_length=len(SEARCHABLE))
    """The fields query words match in: any of title, brand, category, description, attributes."""
    facetable_attributes: Annotated[list[Attr], AfterValidator(_unique)] = Field(
        default_factory=lambda: ["*"], max_length=200)
    """Attributes ``facets=`` may count (``*``: every attribute)."""
    sortable_attributes: Annotated[list[Attr], AfterValidator(_unique)] = Field(
        default_factory=lambda: ["*"], max_length=200)
    """Attributes ``sort=`` may order by (``*``: every attribute)."""
    autocomplete_min_shoppers: int = Field(5, ge=2, le=100)
    """k: a past query is suggested once this many distinct shoppers searched it (never one shopper's)."""
    updated_at: float | None = None
    """When the settings were last changed (Unix seconds; ``None``: never)."""

    @model_validator(mode="after")
    def _check(self) -> IndexSettings:
        bad = [f for f in self.searchable_attributes if f not in SEARCHABLE]
        if bad:
            raise ValueError(f"searchable_attributes {bad} are not searchable fields: use {', '.join(SEARCHABLE)}")
        for name, values in (("facetable_attributes", self.facetable_attributes),
                             ("sortable_attributes", self.sortable_attributes)):
            if "*" in values and len(values) > 1:
                raise ValueError(f"{name}: '*' already means every attribute; give it alone or list attributes")
        long = [k for k in self.synonyms if len(k.split()) > 3]
        if long:
            raise ValueError(f"synonyms {long[:3]}: a synonym's key is a word or a phrase of up to 3 words")
        return self

    def allows(self, kind: str, attribute: str) -> bool:
        """Whether ``attribute`` is facetable (``kind="facet"``) or sortable (``"sort"``)."""
        values = self.facetable_attributes if kind == "facet" else self.sortable_attributes
        return "*" in values or attribute in values


class SettingsPatch(BaseModel):
    """A PATCH: the fields given replace the current ones whole; ``null`` resets one to its default."""

    model_config = ConfigDict(extra="forbid", strict=True)

    synonyms: dict[str, list[str]] | None = None
    stop_words: list[str] | None = None
    typo_tolerance: dict[str, Any] | None = None
    searchable_attributes: list[str] | None = None
    facetable_attributes: list[str] | None = None
    sortable_attributes: list[str] | None = None
    autocomplete_min_shoppers: int | None = None


class SettingsFile:
    """The settings of one shop home, re-read when another process changed the file."""

    def __init__(self, home: str | Path) -> None:
        self.path = Path(home) / SETTINGS_FILE
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._settings = IndexSettings.model_validate({})

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def current(self) -> IndexSettings:
        """The settings (a new object when they changed since the last call): one ``stat`` when unchanged."""
        stamp = self._stamp()
        if stamp == self._seen:
            return self._settings
        with self._lock:
            stamp = self._stamp()
            if stamp == self._seen:
                return self._settings
            if stamp is None:
                self._settings = IndexSettings.model_validate({})
            else:
                try:
                    self._settings = IndexSettings.model_validate_json(self.path.read_bytes())
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"{self.path} is not valid index settings ({exc}): fix or delete it, "
                                      "or write them again with PATCH /v1/settings") from exc
            self._seen = stamp
            return self._settings

    def update(self, patch: SettingsPatch) -> IndexSettings:
        """Apply ``patch`` to the current settings, validate and write them (atomically); returns them."""
        with self._lock:
            data = self._current_locked().model_dump()
            for name in patch.model_fields_set:
                value = getattr(patch, name)
                data[name] = IndexSettings.model_fields[name].get_default(call_default_factory=True) \
                    if value is None else value
            data["updated_at"] = time.time()
            try:
                new = IndexSettings.model_validate(data)
            except ValueError as exc:
                raise ValidationError(describe_problems(exc)) from exc
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(new.model_dump(), ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
            self._settings, self._seen = new, self._stamp()
            return new

    def _current_locked(self) -> IndexSettings:
        """What a PATCH changes: the file's settings, or the last good ones when the file does not validate
        (the PATCH then writes a valid file again)."""
        stamp = self._stamp()
        if stamp != self._seen and stamp is not None:
            try:
                self._settings = IndexSettings.model_validate_json(self.path.read_bytes())
            except (OSError, ValueError):
                return self._settings
            self._seen = stamp
        return self._settings
