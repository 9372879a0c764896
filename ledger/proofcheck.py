"""A standalone verifier of the ledger's signed checkpoints and Merkle proofs (docs/proofs.md):
one file, the standard library plus ``cryptography``, so an auditor can copy, read and run it
without the rest of the project (and without trusting its server)::

    python -m ledger.proofcheck --key KEY FILE...      (or: python proofcheck.py …)

KEY is the ledger's published verifier key (``name+hash+base64``) or a file holding it. Each
FILE is a checkpoint (a signed note), an inclusion proof or a consistency proof (JSON), as
written by ``dossier checkpoint --out``, ``dossier prove`` and ``dossier prove --consistency``.
Prints ``OK: …`` per file and exits 0, or ``FAILED: <file>: <reason>`` and exits 1.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ED25519 = 1  # the signature algorithm byte of a signed note's key (golang.org/x/mod/sumdb/note)
SIGNATURE_PREFIX = "\u2014 "  # "— ": an em dash and a space begin each signature line


class ProofError(ValueError):
    """A checkpoint or proof that does not verify; the message says why."""


# -- RFC 6962 / RFC 9162 hashing ---------------------------------------------------------------

def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes],
                     root: bytes) -> None:
    """RFC 9162 §2.1.3.2: raise ProofError unless ``path`` proves leaf ``index`` (0-based) of
    the tree of ``size`` leaves whose root is ``root``."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("the inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the inclusion proof is shorter than the tree is deep")
    if r != root:
        raise ProofError("the inclusion proof does not lead to the checkpoint's root "
                         "(another event, another position, or an altered log)")


def verify_consistency(old_size: int, new_size: int, path: list[bytes], old_root: bytes,
                       new_root: bytes) -> None:
    """RFC 9162 §2.1.4.2: raise ProofError unless ``path`` proves that the tree of
    ``new_size`` leaves (``new_root``) extends the tree of ``old_size`` leaves (``old_root``)."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"the old tree ({old_size} leaves) is larger than the new one "
                         f"({new_size}): a log never shrinks")
    if old_size == new_size:
        if path:
            raise ProofError("a proof between trees of the same size must be empty")
        if old_root != new_root:
            raise ProofError(f"two different roots for the same size {old_size}")
        return
    if old_size == 0:
        if path:
            raise ProofError("a proof from the empty tree must be empty")
        return
    if not path:
        raise ProofError("the consistency proof is empty")
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path = [old_root, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("the consistency proof is shorter than the tree is deep")
    if fr != old_root:
        raise ProofError(f"the new tree is not an extension of the old one: its first "
                         f"{old_size} leaves do not give the old root")
    if sr != new_root:
        raise ProofError("the consistency proof does not lead to the new root")


# -- the ledger's hashes -----------------------------------------------------------------------

def event_hash(envelope: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of an event without ``hash``, ``position``,
    ``recorded_at`` and ``log_hash`` (docs/events.md, "The hash chain")."""
    body = {k: v for k, v in envelope.items()
            if k not in ("hash", "position", "recorded_at", "log_hash")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def log_hash(previous: str, position: int, recorded_at: str, event: str) -> str:
    """The log chain: SHA-256 of ``previous "\\n" position "\\n" recorded_at "\\n" hash``."""
    return hashlib.sha256(f"{previous}\n{position}\n{recorded_at}\n{event}".encode()).hexdigest()


# -- signed notes (golang.org/x/mod/sumdb/note, Ed25519) ---------------------------------------

@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes  # 4 bytes: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[:4]
    public: bytes  # 32 bytes (Ed25519)


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public).digest()[:4]


def parse_verifier_key(text: str) -> VerifierKey:
    """``<name>+<8 hex digits>+<base64(0x01 ‖ 32-byte Ed25519 public key)>``."""
    name, _, rest = text.strip().partition("+")  # a name has no "+"; base64 may
    hash_hex, _, rest = rest.partition("+")
    try:
        raw = base64.b64decode(rest, validate=True)
        given = bytes.fromhex(hash_hex)
    except (binascii.Error, ValueError):
        raise ProofError("the verifier key is not name+hash+base64") from None
    if not name or len(raw) != 33 or raw[0] != ED25519 or len(given) != 4:
        raise ProofError("the verifier key is not an Ed25519 note key")
    if key_id(name, raw[1:]) != given:
        raise ProofError("the verifier key's hash does not match its name and key")
    return VerifierKey(name, given, raw[1:])


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint: the log ``origin`` had ``size`` events whose tree has ``root``,
    at ``time``, as signed by ``signer``."""

    origin: str
    size: int
    root: bytes
    time: str
    signer: str


def verify_note(note: str, key: VerifierKey) -> Checkpoint:
    """Check a checkpoint's signature by ``key`` and read its body (c2sp.org/tlog-checkpoint:
    origin, size, base64 root, then extension lines; ours is ``time <RFC 3339>``)."""
    body, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise ProofError("not a signed note (no blank line before its signatures, or no "
                         "final newline)")
    text = body + "\n"
    found = False
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise ProofError(f"malformed signature line {line!r}")
        name, _, b64 = line[len(SIGNATURE_PREFIX):].rpartition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise ProofError(f"malformed signature line {line!r}") from None
        if name != key.name or raw[:4] != key.key_id:
            continue
        _check_ed25519(key.public, raw[4:], text.encode())
        found = True
    if not found:
        raise ProofError(f"the checkpoint carries no signature by the key {key.name} "
                         f"({key.key_id.hex()})")
    return _checkpoint_body(body, key.name)


def read_note(note: str) -> Checkpoint:
    """A checkpoint's body read WITHOUT checking its signature (to name it; verify_note
    checks it). The signer is the name on its first signature line."""
    body, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.startswith(SIGNATURE_PREFIX):
        raise ProofError("not a signed note (no blank line before its signatures)")
    signer = signatures[len(SIGNATURE_PREFIX):].split(" ", 1)[0]
    return _checkpoint_body(body, signer)


def _check_ed25519(public: bytes, signature: bytes, message: bytes) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        raise ProofError("bad signature: the checkpoint was altered or not signed by "
                         "this key") from None


def _checkpoint_body(body: str, signer: str) -> Checkpoint:
    lines = body.split("\n")
    if len(lines) < 3 or not lines[1].isdigit() or (lines[1] != "0" and lines[1][0] == "0"):
        raise ProofError("the checkpoint's body is not origin, size, root")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error:
        raise ProofError("the checkpoint's root is not base64") from None
    if len(root) != 32:
        raise ProofError("the checkpoint's root is not 32 bytes")
    time = next((x[5:] for x in lines[3:] if x.startswith("time ")), "")
    return Checkpoint(lines[0], int(lines[1]), root, time, signer)


# -- proof files -------------------------------------------------------------------------------

def check_inclusion(proof: dict[str, Any], key: VerifierKey) -> str:
    """Verify an inclusion proof file's content; return what it proves."""
    checkpoint = verify_note(proof["checkpoint"], key)
    position, recorded_at = int(proof["position"]), str(proof["recorded_at"])
    event = str(proof["event_hash"])
    envelope = proof.get("event")
    if envelope is not None:
        if event_hash(envelope) != event or envelope.get("hash") != event:
            raise ProofError("the event's content does not give the proof's event hash")
        if envelope.get("recorded_at") != recorded_at:
            raise ProofError("the event's recorded_at is not the proof's")
    chained = log_hash(str(proof["prev_log_hash"]), position, recorded_at, event)
    if chained != proof["log_hash"]:
        raise ProofError("the log hash does not follow from the previous log hash, the "
                         "position, the recorded time and the event hash")
    if int(proof["tree_size"]) != checkpoint.size:
        raise ProofError(f"the proof is for a tree of {proof['tree_size']} events, the "
                         f"checkpoint covers {checkpoint.size}")
    path = [bytes.fromhex(h) for h in proof["path"]]
    verify_inclusion(leaf_hash(bytes.fromhex(chained)), position - 1, checkpoint.size, path,
                     checkpoint.root)
    return (f"event {event[:16]}… at position {position} (recorded {recorded_at}) is in "
            f"{checkpoint.origin}'s checkpoint of {checkpoint.size} events")


def check_consistency(proof: dict[str, Any], key: VerifierKey) -> str:
    old = verify_note(proof["old"], key)
    new = verify_note(proof["new"], key)
    if old.origin != new.origin:
        raise ProofError(f"checkpoints of two logs ({old.origin!r}, {new.origin!r})")
    path = [bytes.fromhex(h) for h in proof["path"]]
    verify_consistency(old.size, new.size, path, old.root, new.root)
    return (f"{new.origin}'s checkpoint of {new.size} events extends its checkpoint of "
            f"{old.size} events")


def check_file(text: str, key: VerifierKey) -> str:
    if not text.lstrip().startswith("{"):
        checkpoint = verify_note(text, key)
        return (f"checkpoint of {checkpoint.origin}: {checkpoint.size} events, root "
                f"{checkpoint.root.hex()}, signed {checkpoint.time} by {checkpoint.signer}")
    try:
        proof = json.loads(text)
        kind = proof["kind"]
        if kind == "inclusion":
            return check_inclusion(proof, key)
        if kind == "consistency":
            return check_consistency(proof, key)
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, ProofError):
            raise
        raise ProofError(f"malformed proof file ({error!r})") from None
    raise ProofError(f"unknown proof kind {kind!r}")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] != "--key":
        print(__doc__, file=sys.stderr)
        return 2
    given = args[1]
    key_text = Path(given).read_text() if Path(given).is_file() else given
    try:
        key = parse_verifier_key(key_text)
    except ProofError as error:
        print(f"FAILED: {error}")
        return 1
    failed = False
    for name in args[2:]:
        try:
            print(f"OK: {name}: {check_file(Path(name).read_text(encoding='utf-8'), key)}")
        except (ProofError, OSError) as error:
            print(f"FAILED: {name}: {error}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
