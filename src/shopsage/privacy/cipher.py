"""Optional encryption at rest of the personal free-text fields of events (``cryptography``'s AES-SIV).

**What is encrypted**: an event's ``query`` (what a shopper typed) and its ``context`` (page,
device, experiment...), but for the answer it names (``query_id``/``recomm_id`` and ``position``), and
the query of a search's exposures. **What is not**: ids (user and session ids are already keyed pseudonyms,
:mod:`shopsage.privacy.ids`; item ids, types, times and values are what training and serving compute
on), the catalogue, relevance judgments, and the quarantine's raw text of rejected import rows.

**How**: set ``SHOPSAGE_FIELD_KEY`` (32, 48 or 64 random bytes in hex or base64; make one with
``python -c 'import secrets; print(secrets.token_hex(64))'``). Writers call :meth:`FieldCipher.protect`
(an import through :class:`~shopsage.privacy.imports.PrivateImporter`; the API's ingest with
``protect_event``), readers :meth:`FieldCipher.reveal_query` / :meth:`reveal_context`. A stored value
is ``enc1.<key id>.<base64url(AES-SIV(key, text, field name))>``; the query's ciphertext moves with
its field name as associated data, so it cannot be pasted into another field.

AES-SIV is deterministic on purpose: the same query encrypts to the same text, so re-importing a file
still finds its rows already present (a random nonce would make every re-import a conflict), and
queries can still be grouped; the price is that equal queries are visibly equal in the store.

**Keys**: the key never touches the store. Lose it and the encrypted fields are gone (the rest of
the data stays usable). To rotate: set the new key as ``SHOPSAGE_FIELD_KEY`` and the old one as
``SHOPSAGE_FIELD_KEY_PREVIOUS``; values written under either are read (the key id in each value
says which), new ones are written under the new key. Values stored before a key was set stay
plaintext and are read as they are.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Iterable, Mapping
from typing import Any

from shopsage.data.rows import EventBlock, EventRow
from shopsage.errors import ConfigError, FieldKeyError

__all__ = ["FieldCipher", "FIELD_KEY_ENV", "PREVIOUS_FIELD_KEY_ENV", "TAG", "reveal_query_events"]

FIELD_KEY_ENV = "SHOPSAGE_FIELD_KEY"
PREVIOUS_FIELD_KEY_ENV = "SHOPSAGE_FIELD_KEY_PREVIOUS"
TAG = "enc1"
"""Every encrypted value starts with ``enc1.``."""
_CONTEXT_KEY = "_enc"
CLEAR_CONTEXT = frozenset({"query_id", "recomm_id", "position"})
"""Context keys kept readable: the answer an event came from (attribution joins on them)."""
_KEY_SIZES = (32, 48, 64)


def _parse(text: str, var: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text) if all(c in "0123456789abcdefABCDEF" for c in text) and len(text) % 2 == 0 else \
            base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        key = b""
    if len(key) not in _KEY_SIZES:
        raise ConfigError(f"{var} must be 32, 48 or 64 bytes in hex or base64 (AES-SIV), not {len(key)} bytes; make "
                          "one with: python -c 'import secrets; print(secrets.token_hex(64))'")
    return key


def _key_id(key: bytes) -> str:
    return hmac.digest(key, b"shopsage field key id", "sha256")[:4].hex()


class FieldCipher:
    """Deterministic authenticated encryption of event queries and contexts (see the module docstring)."""

    def __init__(self, key: bytes, previous: bytes | None = None) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESSIV
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise ConfigError("field encryption needs the cryptography package: pip install cryptography") from exc
        self._kid = _key_id(key)
        self._siv = AESSIV(key)
        self._readers = {self._kid: self._siv}
        if previous is not None:
            self._readers[_key_id(previous)] = AESSIV(previous)
        self._cache: dict[tuple[str, str], str] = {}  # (field, text) -> token: imports repeat queries

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FieldCipher | None:
        """The cipher of ``SHOPSAGE_FIELD_KEY`` (and ``..._PREVIOUS``); None when no key is set."""
        env = os.environ if environ is None else environ
        if not env.get(FIELD_KEY_ENV):
            return None
        previous = env.get(PREVIOUS_FIELD_KEY_ENV)
        return cls(_parse(env[FIELD_KEY_ENV], FIELD_KEY_ENV),
                   _parse(previous, PREVIOUS_FIELD_KEY_ENV) if previous else None)

    # -- one value ----------------------------------------------------------------------------------
    def encrypt(self, text: str, field: str) -> str:
        token = self._cache.get((field, text))
        if token is None:
            sealed = self._siv.encrypt(text.encode("utf-8", "surrogatepass"), [field.encode()])
            token = f"{TAG}.{self._kid}.{base64.urlsafe_b64encode(sealed).rstrip(b'=').decode()}"
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[(field, text)] = token
        return token

    def decrypt(self, value: str, field: str) -> str:
        """The plaintext of a stored value; a value stored before encryption was on comes back as is."""
        if not is_encrypted(value):
            return value
        _, kid, body = value.split(".", 2)
        siv = self._readers.get(kid)
        if siv is None:
            raise FieldKeyError(f"a stored {field} was encrypted with field key {kid}, which is neither "
                                f"{FIELD_KEY_ENV} nor {PREVIOUS_FIELD_KEY_ENV}: set the key it was written with")
        from cryptography.exceptions import InvalidTag

        try:
            return siv.decrypt(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)), [field.encode()]).decode(
                "utf-8", "surrogatepass")
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise FieldKeyError(f"a stored {field} does not decrypt with field key {kid}: it was altered, or moved "
                                "from another field") from exc

    # -- event fields ------------------------------------------------------------------------------
    def protect_query(self, query: str | None) -> str | None:
        return None if query is None else self.encrypt(query, "query")

    def protect_context(self, context: dict[str, Any] | None) -> dict[str, Any] | None:
        """The context as ``{"_enc": token}`` (still a JSON object, so stores keep it as they do now). The
        answer an event names (``query_id``/``recomm_id``, ``position``) stays readable beside the token:
        ids, not personal text, which attribution reads in the store without the key."""
        if context is None or _CONTEXT_KEY in context:
            return context
        import json

        secret = {k: v for k, v in context.items() if k not in CLEAR_CONTEXT}
        clear = {k: v for k, v in context.items() if k in CLEAR_CONTEXT}
        if not secret:
            return context
        return {_CONTEXT_KEY: self.encrypt(json.dumps(secret, sort_keys=True), "context"), **clear}

    def reveal_query(self, query: str | None) -> str | None:
        return None if query is None else self.decrypt(query, "query")

    def reveal_context(self, context: dict[str, Any] | None) -> dict[str, Any] | None:
        if context is None or _CONTEXT_KEY not in context:
            return context
        import json

        clear = {k: v for k, v in context.items() if k != _CONTEXT_KEY}
        return {**json.loads(self.decrypt(context[_CONTEXT_KEY], "context")), **clear}

    def protect_event(self, e: EventRow) -> EventRow:
        """The row as it should be stored: query and context encrypted."""
        if e.query is None and e.context is None:
            return e
        return e._replace(query=self.protect_query(e.query), context=self.protect_context(e.context))

    def reveal_event(self, e: EventRow) -> EventRow:
        if e.query is None and e.context is None:
            return e
        return e._replace(query=self.reveal_query(e.query), context=self.reveal_context(e.context))

    def protect_block(self, b: EventBlock) -> EventBlock:
        """Encrypt a block's query and context columns in place (columns that are all None cost nothing)."""
        n = len(b)
        if b.query.count(None) != n:
            b.query = list(map(self.protect_query, b.query))
        if b.context.count(None) != n:
            b.context = list(map(self.protect_context, b.context))
        return b


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TAG + ".") and value.count(".") >= 2


def reveal_query_events(rows: Iterable[tuple[str, str]], cipher: FieldCipher | None) -> list[tuple[str, str]]:
    """``store.query_events(...)`` rows with their queries readable (a stored ciphertext without a
    key is refused with :class:`FieldKeyError`)."""
    rows = list(rows)
    if cipher is None:
        if any(is_encrypted(q) for q, _ in rows):
            raise FieldKeyError(f"the store's queries are encrypted: set {FIELD_KEY_ENV} to the key they were "
                                "written with to train on them")
        return rows
    return [(cipher.decrypt(q, "query"), item) for q, item in rows]
