"""API keys (khóa API): a role and a unit each, kept only as hashes in a file of the data
directory (``api-keys.json``), so that a stolen copy of the file opens nothing."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import orjson

KEY_PREFIX = "dk"
FILE_NAME = "api-keys.json"


class Role(StrEnum):
    """What a key may do: ``admin`` manages keys and imports; ``agency`` records actions on
    its unit and the units below it; ``auditor`` reads histories, explanations and proofs."""

    ADMIN = "admin"
    AGENCY = "agency"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One key as stored: its id (public, printed in logs), the hash of its secret, its role,
    its unit (None: every unit), when it expires (None: never) and whether it was revoked."""

    key_id: str
    digest: str
    role: Role
    unit: str | None
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    note: str = ""

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and datetime.fromisoformat(self.expires_at) <= now

    def public(self) -> dict[str, object]:
        """What a listing shows: everything but the hash."""
        shown = asdict(self)
        del shown["digest"]
        shown["role"] = self.role.value
        return shown


class KeyRefused(Exception):
    """A key that opens nothing; ``reason`` says why (never the key itself)."""

    def __init__(self, reason: str, key_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key_id = key_id


class KeyProblem(Exception):
    """A key command that cannot be done (unknown id, a unit missing for an agency key)."""


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class KeyStore:
    """The keys in ``path``; re-read when the file changes, so that a key revoked with
    ``dossier keys revoke`` stops working in a running server at its next request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, ApiKey] = {}

    # -- reading ---------------------------------------------------------------------
    def listed(self) -> list[ApiKey]:
        self._reload()
        return sorted(self._keys.values(), key=lambda k: (k.created_at, k.key_id))

    def authenticate(self, secret: str, now: datetime) -> ApiKey:
        """The key whose secret this is, when it is valid at ``now``; else KeyRefused."""
        key_id = _key_id(secret)
        if key_id is None:
            raise KeyRefused("malformed key")
        self._reload()
        key = self._keys.get(key_id)
        if key is None or not hmac.compare_digest(key.digest, _digest(secret)):
            raise KeyRefused("unknown key", key_id if key is not None else None)
        if key.revoked_at is not None:
            raise KeyRefused("revoked key", key_id)
        if key.expired(now):
            raise KeyRefused("expired key", key_id)
        return key

    # -- changing --------------------------------------------------------------------
    def create(self, role: Role, unit: str | None, now: datetime, *,
               expires_at: datetime | None = None, note: str = "") -> tuple[ApiKey, str]:
        """A new key and its secret (shown once: only its hash is kept)."""
        if role is Role.AGENCY and not unit:
            raise KeyProblem("an agency key needs a unit (--unit 22, 22.SXD, 07090 …)")
        if expires_at is not None and expires_at <= now:
            raise KeyProblem(f"the expiry {expires_at.isoformat()} is already past")
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(24)}"
        key = ApiKey(key_id, _digest(secret), role, unit or None, now.isoformat(),
                     expires_at.isoformat() if expires_at else None, None, note)
        with self._locked() as keys:
            keys[key_id] = key
        return key, secret

    def revoke(self, key_id: str, now: datetime) -> ApiKey:
        with self._locked() as keys:
            key = keys.get(key_id)
            if key is None:
                raise KeyProblem(f"no key with id {key_id!r} (`dossier keys list` shows them)")
            if key.revoked_at is None:
                key = ApiKey(**(asdict(key) | {"revoked_at": now.isoformat()}))
                keys[key_id] = key
        return key

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, ApiKey]]:
        """The keys, read and written back under an exclusive lock (two CLI runs at once)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            keys = _read(self.path)
            yield keys
            tmp = self.path.with_suffix(".tmp")
            data = [asdict(k) for k in keys.values()]
            descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as stream:
                stream.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            os.replace(tmp, self.path)
        self._stamp = None

    def _reload(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._keys, self._stamp = {}, None
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._keys, self._stamp = _read(self.path), stamp


def _read(path: Path) -> dict[str, ApiKey]:
    if not path.exists():
        return {}
    rows = orjson.loads(path.read_bytes() or b"[]")
    return {row["key_id"]: ApiKey(**(row | {"role": Role(row["role"])})) for row in rows}


def _key_id(secret: str) -> str | None:
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]
