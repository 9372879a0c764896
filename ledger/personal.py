"""Personal data at rest (docs/personal-data.md): the personal fields of an event are sealed
under its data subject's own key before the event is hashed and stored, and replaced in the
event by salted commitments; deleting the subject's key erases them (crypto-shredding) while
every hash, chain, proof and score still holds.

A sealed event carries, in place of each personal value, ``"sealed:" + commitment`` with::

    commitment = SHA-256( salt ‖ UTF-8(path) ‖ 0x0A ‖ canonical JSON of the value )  (hex)

and, in the envelope, ``"sealed": {"subject": <subject id>, "box": <base64>}`` where the box
is ``nonce (12 bytes) ‖ AES-256-GCM(subject key, nonce, canonical JSON of {"salt": hex,
"values": {path: value}}, associated data "<stream>:<id>:<seq>:<subject>")``. The event's
hash covers the commitments and the box, never the clear values.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.errors import LedgerError

TOKEN = "sealed:"
ERASED = "[erased]"
KEY_BYTES = 32

REASON_TYPES = frozenset({"dossier.refused", "dossier.supplement_requested",
                          "dossier.apology_issued", "dossier.rejected", "dossier.stopped"})
"""Event types whose free-text ``reason`` may name the applicant or hold their details."""


def personal_paths(event_type: str, data: dict[str, Any]) -> list[str]:
    """The personal fields of an event's data, as paths (``components.0.name``): the
    applicant's reference and the free texts an official writes about the applicant's dossier
    (component names, reasons). Staff references (``by``) and codes stay in clear."""
    if event_type == "dossier.submitted":
        paths = ["applicant_ref"]
        components = data.get("components")
        if isinstance(components, list):
            paths += [f"components.{i}.name" for i, c in enumerate(components)
                      if isinstance(c, dict) and "name" in c]
        return paths
    if event_type in REASON_TYPES and "reason" in data:
        return ["reason"]
    return []


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def personal_value(data: Any, path: str) -> Any:
    """The value at a personal path of an event's data (None where there is none)."""
    try:
        return _get(data, path)
    except (KeyError, IndexError, ValueError, TypeError):
        return None


def _put(data: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        data = data[int(part)] if isinstance(data, list) else data[part]
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = orjson.loads(orjson.dumps(data))
    return copied


def commitment(salt: bytes, path: str, value: Any) -> str:
    return hashlib.sha256(salt + path.encode() + b"\n" + orjson.dumps(
        value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def is_token(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(TOKEN) and len(value) == len(TOKEN) + 64


class PersonalDataError(LedgerError):
    """A personal-data key or key store that cannot be used; the message says why."""


class KeyStore:
    """The subjects' data keys, each wrapped (AES-GCM) by the configured master key, in a
    SQLite file kept apart from the ledger (so that a copy of the ledger carries no key).
    Deleting a row is an erasure: ``secure_delete`` overwrites its bytes in the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA secure_delete = ON")
        self._db.execute("CREATE TABLE IF NOT EXISTS subject_keys (subject TEXT PRIMARY KEY, "
                         "wrapped BLOB NOT NULL)")
        self._lock = threading.Lock()

    def get(self, subject: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT wrapped FROM subject_keys WHERE subject = ?",
                                   (subject,)).fetchone()
        return None if row is None else bytes(row[0])

    def add(self, wrapped: dict[str, bytes]) -> dict[str, bytes]:
        """Store new keys (a key another process stored first wins); return the stored."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO subject_keys VALUES (?, ?)",
                                     list(wrapped.items()))
                stored = {}
                for subject in wrapped:
                    (value,) = self._db.execute("SELECT wrapped FROM subject_keys WHERE "
                                                "subject = ?", (subject,)).fetchone()
                    stored[subject] = bytes(value)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return stored

    def delete(self, subject: str) -> bool:
        with self._lock:
            deleted = self._db.execute("DELETE FROM subject_keys WHERE subject = ?",
                                       (subject,)).rowcount
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")
        return bool(deleted)

    def close(self) -> None:
        self._db.close()


def read_master_key(path: Path) -> bytes:
    try:
        text = path.read_text().strip()
    except OSError as error:
        raise PersonalDataError(f"cannot read the personal-data key {path} ({error}); create "
                                "one with `dossier keys personal --new`") from None
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        key = b""
    if len(key) != KEY_BYTES:
        raise PersonalDataError(f"{path}: not a personal-data key (32 bytes in base64)")
    return key


def new_master_key_text() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


@dataclass(frozen=True)
class Unsealed:
    """An event's personal values, clear, or None when its subject was erased."""

    subject: str
    values: dict[str, Any] | None


class Sealer:
    """Seals and unseals the personal fields of events with per-subject keys."""

    def __init__(self, master: bytes, keys: KeyStore) -> None:
        self._index_key = hmac.new(master, b"dossier-ledger subject id", "sha256").digest()
        self._wrap = AESGCM(hmac.new(master, b"dossier-ledger key wrap", "sha256").digest())
        self.keys = keys
        self._ciphers: dict[str, AESGCM] = {}
        self._pending: dict[str, tuple[bytes, bytes]] = {}  # subject -> (key, wrapped)
        self._lock = threading.Lock()

    def subject_id(self, applicant_ref: str) -> str:
        """The data subject's id: a keyed hash of the applicant's reference (so the key
        store names no one, and ``erase --applicant REF`` finds the key)."""
        return hmac.new(self._index_key, applicant_ref.encode(), "sha256").hexdigest()[:32]

    # -- keys ----------------------------------------------------------------------------------

    def _cipher(self, subject: str, create: bool) -> AESGCM | None:
        with self._lock:
            found = self._ciphers.get(subject)
            if found is not None:
                return found
            wrapped = self.keys.get(subject)
            if wrapped is None:
                if not create:
                    return None
                key = AESGCM.generate_key(bit_length=256)
                self._pending[subject] = (key, self._wrap_key(subject, key))
            else:
                key = self._unwrap(subject, wrapped)
            found = self._ciphers[subject] = AESGCM(key)
            return found

    def _wrap_key(self, subject: str, key: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._wrap.encrypt(nonce, key, subject.encode())

    def _unwrap(self, subject: str, wrapped: bytes) -> bytes:
        try:
            return self._wrap.decrypt(wrapped[:12], wrapped[12:], subject.encode())
        except InvalidTag:
            raise PersonalDataError(f"the key of subject {subject} does not open with the "
                                    "configured personal-data key (another key?)") from None

    def flush(self) -> bool:
        """Store the keys made since the last flush, before the events sealed with them are
        committed. False when another process stored a key for one of these subjects first
        (the events must be sealed again: the caller retries)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return True
        stored = self.keys.add({s: wrapped for s, (_, wrapped) in pending.items()})
        lost = [s for s, (_, wrapped) in pending.items() if stored[s] != wrapped]
        with self._lock:
            for subject in lost:
                self._ciphers.pop(subject, None)
        return not lost

    def forget(self, subject: str) -> bool:
        """Erase a subject: delete its key; True when there was one."""
        with self._lock:
            self._ciphers.pop(subject, None)
            self._pending.pop(subject, None)
        return self.keys.delete(subject)

    # -- events --------------------------------------------------------------------------------

    def seal(self, out: dict[str, Any], subject: str) -> None:
        """Replace the personal fields of ``out["data"]`` (a new event, not yet hashed) by
        commitments and add its ``sealed`` box."""
        paths = personal_paths(out["type"], out["data"])
        if not paths:
            return
        cipher = self._cipher(subject, create=True)
        assert cipher is not None
        salt = os.urandom(16)
        data = _copy(out["data"])
        values = {}
        for path in paths:
            value = _get(data, path)
            values[path] = value
            _put(data, path, TOKEN + commitment(salt, path, value))
        nonce = os.urandom(12)
        plain = orjson.dumps({"salt": salt.hex(), "values": values}, option=orjson.OPT_SORT_KEYS)
        box = nonce + cipher.encrypt(nonce, plain, _context(out, subject))
        out["data"] = data
        out["sealed"] = {"subject": subject, "box": base64.b64encode(box).decode()}

    def unseal(self, envelope: dict[str, Any]) -> Unsealed | None:
        """The clear personal values of a stored event (None: nothing sealed in it); their
        values None when the subject was erased. Raises when the box or a commitment does
        not match (an altered event)."""
        sealed = envelope.get("sealed")
        if not isinstance(sealed, dict):
            return None
        subject = str(sealed.get("subject"))
        cipher = self._cipher(subject, create=False)
        if cipher is None:
            return Unsealed(subject, None)
        where = f"{envelope.get('stream')} {envelope.get('id')} seq {envelope.get('seq')}"
        try:
            box = base64.b64decode(str(sealed.get("box")), validate=True)
            opened = orjson.loads(cipher.decrypt(box[:12], box[12:],
                                                 _context(envelope, subject)))
            salt = bytes.fromhex(opened["salt"])
            values = dict(opened["values"])
        except (binascii.Error, InvalidTag, ValueError, KeyError, TypeError):
            raise PersonalDataError(f"{where}: its sealed personal data does not open "
                                    "(altered)") from None
        for path, value in values.items():
            try:
                stored = _get(envelope["data"], path)
            except (KeyError, IndexError, ValueError, TypeError):
                stored = None
            if stored != TOKEN + commitment(salt, path, value):
                raise PersonalDataError(f"{where}: {path} does not match its commitment")
        return Unsealed(subject, values)

    def clear(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The envelope as a person reads it: personal values in clear, or ``[erased]``."""
        unsealed = self.unseal(envelope)
        if unsealed is None:
            return envelope
        shown = _copy(envelope)
        for path in personal_paths(str(envelope.get("type")), envelope.get("data") or {}):
            value = ERASED if unsealed.values is None else unsealed.values.get(path, ERASED)
            try:
                _put(shown["data"], path, value)
            except (KeyError, IndexError, ValueError, TypeError):
                continue
        return shown


def _context(envelope: dict[str, Any], subject: str) -> bytes:
    """The associated data: the box opens only in its own event."""
    return f"{envelope['stream']}:{envelope['id']}:{envelope['seq']}:{subject}".encode()


def sealed_subject(envelope: dict[str, Any]) -> str | None:
    sealed = envelope.get("sealed")
    return str(sealed["subject"]) if isinstance(sealed, dict) and "subject" in sealed else None


def check_sealed(sealed: Any) -> None:
    """The shape of a ``sealed`` member given on import (it is kept as given)."""
    if (not isinstance(sealed, dict) or set(sealed) != {"subject", "box"}
            or not all(isinstance(v, str) and v for v in sealed.values())):
        raise ValueError("sealed: must be {\"subject\": text, \"box\": base64 text}")


def subjects_of(envelopes: Iterable[dict[str, Any]]) -> set[str]:
    return {s for e in envelopes if (s := sealed_subject(e)) is not None}
