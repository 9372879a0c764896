"""Signed checkpoints: the log's size and Merkle root at a moment, signed with the ledger's
Ed25519 key as a signed note (golang.org/x/mod/sumdb/note; body as c2sp.org/tlog-checkpoint)::

    <origin>
    <size>
    <base64 root>
    time <recorded time, RFC 3339>

    — <origin> <base64(key id ‖ Ed25519 signature)>

Keys are written as the note package writes them: the signing key
``PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 ‖ 32-byte seed)>``, the verifier key (published)
``<name>+<key id hex>+<base64(0x01 ‖ 32-byte public key)>``. Verification lives in
:mod:`ledger.proofcheck`, the auditor's standalone module.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.proofcheck import ED25519, SIGNATURE_PREFIX, key_id

PRIVATE_PREFIX = "PRIVATE+KEY+"


class SigningKeyError(ValueError):
    """A signing key file that cannot be read as a note signing key."""


@dataclass(frozen=True)
class SigningKey:
    """The ledger's checkpoint signer (người ký): a name and an Ed25519 private key."""

    name: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    def verifier_key(self) -> str:
        """The text to publish: what an auditor gives ``proofcheck --key``."""
        raw = base64.b64encode(bytes([ED25519]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{raw}"

    def private_text(self) -> str:
        seed = self.private.private_bytes_raw()
        raw = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"{PRIVATE_PREFIX}{self.name}+{self.key_id.hex()}+{raw}"

    def sign(self, body: str) -> str:
        """The signed note of ``body`` (which ends with a newline)."""
        signature = self.private.sign(body.encode())
        line = base64.b64encode(self.key_id + signature).decode()
        return f"{body}\n{SIGNATURE_PREFIX}{self.name} {line}\n"


def new_signing_key(name: str) -> SigningKey:
    if not name or any(c in name for c in "+ \n\t") or name != name.strip():
        raise SigningKeyError(f"a signer's name has no spaces and no '+': {name!r}")
    return SigningKey(name, Ed25519PrivateKey.generate())


def parse_signing_key(text: str) -> SigningKey:
    if not text.startswith(PRIVATE_PREFIX):
        raise SigningKeyError(f"not a note signing key (it starts with {PRIVATE_PREFIX})")
    name, _, rest = text.strip()[len(PRIVATE_PREFIX):].partition("+")
    hash_hex, _, rest = rest.partition("+")
    try:
        raw = base64.b64decode(rest, validate=True)
    except binascii.Error:
        raise SigningKeyError("the signing key's last part is not base64") from None
    if len(raw) != 33 or raw[0] != ED25519:
        raise SigningKeyError("not an Ed25519 signing key")
    key = SigningKey(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if key.key_id.hex() != hash_hex:
        raise SigningKeyError("the signing key's hash does not match its name and key")
    return key


def checkpoint_body(origin: str, size: int, root: bytes, signed_at: str) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime {signed_at}\n"


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint as the ledger keeps it (table ``checkpoints``)."""

    size: int
    root: str  # hex
    signed_at: str
    signer: str
    key_id: str  # hex
    note: str

    def as_tuple(self) -> tuple[int, str, str, str, str, str]:
        return (self.size, self.key_id, self.root, self.signed_at, self.signer, self.note)

    def as_dict(self) -> dict[str, Any]:
        return {"size": self.size, "root": self.root, "time": self.signed_at,
                "signer": self.signer, "key_id": self.key_id}


def stored_checkpoint(values: Any) -> StoredCheckpoint:
    size, kid, root, signed_at, signer, note = values
    return StoredCheckpoint(int(size), str(root), str(signed_at), str(signer), str(kid),
                            str(note))


def sign_checkpoint(key: SigningKey, size: int, root: bytes, signed_at: str
                    ) -> StoredCheckpoint:
    note = key.sign(checkpoint_body(key.name, size, root, signed_at))
    return StoredCheckpoint(size, root.hex(), signed_at, key.name, key.key_id.hex(), note)
