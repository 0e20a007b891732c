"""Pseudonymous user and session ids, and signed shopper tokens.

Every user and session id that enters ShopSage (an API request, a file import) goes through one
:class:`Pseudonymizer` **once, at the edge**, and only the pseudonym is stored (store, state,
Redis key names, logs, models)::

    pseudonym = "p_" + hex(HMAC-SHA256(key, raw id))[:32]      # 128 bits, 34 characters

Hashing is not idempotent on purpose: ``pseudonymize("p_...")`` hashes again. Values are hashed
where they enter and never again, so a caller must not pass a stored pseudonym back through it
(:meth:`Pseudonymizer.is_pseudonym` tells the form apart for diagnostics only: a shop's own ids
could look like pseudonyms).

**The key.** ``SHOPSAGE_ID_KEY`` (hex or base64, at least 16 bytes), else the key file
``<home>/secrets/id.key``, created once (32 random bytes, mode 0600) so that ``make demo`` needs no
set-up. Every worker and importer of a shop must use the same key: the same raw id then gives the
same pseudonym from a file import and from the API. Keep the key secret and backed up: without it a
shop can no longer find a user's data by their raw id (the data stays, unlinkable).

**Raw ids.** ``SHOPSAGE_RAW_IDS=1`` (``Settings.raw_ids``) turns pseudonymisation off: ids are
stored as given. Only for shops whose ids are already pseudonymous, or for benchmarks on public data.

**Key rotation.** A new key gives every id a new pseudonym, so histories recorded under the old key
no longer join new events. To rotate: set the new key as ``SHOPSAGE_ID_KEY`` and the old one as
``SHOPSAGE_ID_KEY_PREVIOUS``; :meth:`Pseudonymizer.all_pseudonyms` then gives both pseudonyms of an
id, so deleting a user (and any other lookup that asks for it) finds data under either key during the
migration window. Remove ``SHOPSAGE_ID_KEY_PREVIOUS`` once the old data has aged out or been
re-keyed. Shopper tokens signed with the previous key stay valid until they expire.

**Shopper tokens** (:meth:`Pseudonymizer.issue_shopper_token`, :meth:`verify_shopper_token`): a
shop's backend hands its shopper a token binding *their* user id and an expiry, and the storefront
reads that user's profile and recommendations with it instead of an API key. The token is
``st1.<expiry unix seconds>.<signature>`` with the signature an HMAC of the raw user id and the
expiry under a key derived from the id key: it names no id, and it cannot be moved to another user.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

from shopsage.errors import ConfigError

__all__ = ["Pseudonymizer", "PREFIX", "KEY_ENV", "PREVIOUS_KEY_ENV", "RAW_IDS_ENV", "key_file"]

PREFIX = "p_"
"""Every pseudonym starts with this prefix."""
KEY_ENV = "SHOPSAGE_ID_KEY"
PREVIOUS_KEY_ENV = "SHOPSAGE_ID_KEY_PREVIOUS"
RAW_IDS_ENV = "SHOPSAGE_RAW_IDS"
_HEX_CHARS = 32  # 128 bits
_TOKEN_VERSION = "st1"
_MIN_KEY_BYTES = 16


def key_file(home: Path) -> Path:
    """Where the shop's id key lives when ``SHOPSAGE_ID_KEY`` is not set."""
    return Path(home) / "secrets" / "id.key"


def _parse_key(text: str, var: str) -> bytes:
    text = text.strip()
    key: bytes | None = None
    if len(text) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in text):
        key = bytes.fromhex(text)
    else:
        try:
            key = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text) else None,
                                   validate=True)
        except (binascii.Error, ValueError):
            key = None
    if key is None or len(key) < _MIN_KEY_BYTES:
        raise ConfigError(f"{var} must be a key of at least {_MIN_KEY_BYTES} bytes in hex or base64; make one with: "
                          "python -c 'import secrets; print(secrets.token_hex(32))'")
    return key


def _load_or_create(path: Path) -> bytes:
    """The key in ``path``; created once (mode 0600, atomically: two workers starting together agree)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process made it first: theirs wins
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    try:
        return _parse_key(path.read_text(), str(path))
    except OSError as exc:
        raise ConfigError(f"cannot read the id key {path}: {exc.strerror}. Fix its permissions, or set "
                          f"{KEY_ENV}.") from exc


class Pseudonymizer:
    """Keyed hash of user and session ids (see the module docstring)."""

    __slots__ = ("_key", "_previous", "_token_key", "_previous_token_key", "enabled")

    def __init__(self, key: bytes, previous: bytes | None = None, enabled: bool = True) -> None:
        if len(key) < _MIN_KEY_BYTES or (previous is not None and len(previous) < _MIN_KEY_BYTES):
            raise ConfigError(f"an id key needs at least {_MIN_KEY_BYTES} bytes: use secrets.token_bytes(32)")
        self._key = key
        self._previous = previous
        self._token_key = hmac.digest(key, b"shopsage shopper token", "sha256")
        self._previous_token_key = hmac.digest(previous, b"shopsage shopper token", "sha256") if previous else None
        self.enabled = enabled
        """False: ids are stored raw (``SHOPSAGE_RAW_IDS=1``)."""

    @classmethod
    def from_env(cls, home: Path | None = None, environ: Mapping[str, str] | None = None) -> Pseudonymizer:
        """The shop's pseudonymizer: key from ``SHOPSAGE_ID_KEY``, else ``<home>/secrets/id.key``
        (created on first use; ``home`` None: the settings' home). ``SHOPSAGE_RAW_IDS=1`` disables it."""
        from shopsage.settings import get_settings

        env = os.environ if environ is None else environ
        settings = get_settings(dict(env))
        if env.get(KEY_ENV):
            key = _parse_key(env[KEY_ENV], KEY_ENV)
        else:
            key = _load_or_create(key_file(home if home is not None else settings.home))
        previous = _parse_key(env[PREVIOUS_KEY_ENV], PREVIOUS_KEY_ENV) if env.get(PREVIOUS_KEY_ENV) else None
        return cls(key, previous, enabled=not settings.raw_ids)

    @staticmethod
    def _hash(key: bytes, raw: str) -> str:
        return PREFIX + hmac.digest(key, raw.encode("utf-8", "surrogatepass"), "sha256").hex()[:_HEX_CHARS]

    def pseudonymize(self, raw: str) -> str:
        """The stored form of a raw user or session id (the id itself when disabled)."""
        return self._hash(self._key, raw) if self.enabled else raw

    def maybe(self, raw: str | None) -> str | None:
        """:meth:`pseudonymize`, passing None through (optional ids)."""
        return None if raw is None else self.pseudonymize(raw)

    def all_pseudonyms(self, raw: str) -> tuple[str, ...]:
        """Every stored form ``raw`` may have: under the key, then under the previous key (rotation)."""
        if not self.enabled:
            return (raw,)
        current = self._hash(self._key, raw)
        return (current,) if self._previous is None else (current, self._hash(self._previous, raw))

    @property
    def bucket_secret(self) -> bytes:
        """A key derived from the id key for naming other per-client records (rate-limit buckets by
        API key or address) without storing what they name."""
        return hmac.digest(self._key, b"shopsage bucket names", "sha256")

    @staticmethod
    def is_pseudonym(value: str) -> bool:
        """Whether ``value`` has the form of a pseudonym (for diagnostics; a raw id may look like one)."""
        return (len(value) == len(PREFIX) + _HEX_CHARS and value.startswith(PREFIX)
                and all(c in "0123456789abcdef" for c in value[len(PREFIX):]))

    # -- shopper tokens -------------------------------------------------------------------------

    @staticmethod
    def _sign(key: bytes, user: str, expires: int) -> str:
        mac = hmac.digest(key, f"{user}\x00{expires}".encode("utf-8", "surrogatepass"), "sha256")
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def issue_shopper_token(self, user: str, ttl_s: float, now: float | None = None) -> str:
        """A token letting its holder read ``user``'s profile and recommendations for ``ttl_s`` seconds.
        ``user`` is the raw id the shop knows (the one in the request path)."""
        if not ttl_s > 0:
            raise ConfigError(f"a shopper token needs a positive lifetime, not {ttl_s!r} seconds")
        expires = int((time.time() if now is None else now) + ttl_s)
        return f"{_TOKEN_VERSION}.{expires}.{self._sign(self._token_key, user, expires)}"

    def verify_shopper_token(self, token: str, user: str, now: float | None = None) -> bool:
        """Whether ``token`` was issued for ``user`` (raw id) and has not expired (constant-time check)."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _TOKEN_VERSION or not parts[1].isdigit() or len(parts[1]) > 12:
            return False
        expires = int(parts[1])
        if expires <= (time.time() if now is None else now):
            return False
        given = parts[2].encode("ascii", "replace")
        ok = hmac.compare_digest(given, self._sign(self._token_key, user, expires).encode())
        if self._previous_token_key is not None:
            ok |= hmac.compare_digest(given, self._sign(self._previous_token_key, user, expires).encode())
        return ok
