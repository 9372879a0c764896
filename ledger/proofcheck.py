"""A standalone verifier of the ledger's signed checkpoints and Merkle proofs (docs/proofs.md):
one file, the standard library plus ``cryptography``, so an auditor can copy, read and run it
without the rest of the project (and without trusting its server)::

    python -m ledger.proofcheck --key KEY FILE...      (or: python proofcheck.py …)

KEY is the ledger's published verifier key (``name+hash+base64``) or a file holding it. Each
FILE is a checkpoint (a signed note), an inclusion proof, a consistency proof or a bundle
(JSON), as written by ``dossier checkpoint --out``, ``dossier prove [--consistency]`` and
``dossier bundle``.
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
        if kind in ("dossier-bundle", "ranking-bundle"):
            summary = check_bundle(proof, key).summary
            if kind == "ranking-bundle":
                summary += " (scores not recomputed here: `dossier verify-bundle` does)"
            return summary
    except (KeyError, TypeError, ValueError) as error:
        if isinstance(error, ProofError):
            raise
        raise ProofError(f"malformed proof file ({error!r})") from None
    raise ProofError(f"unknown proof kind {kind!r}")


# -- offline bundles (docs/proofs.md, "Offline bundles") --------------------------------------

def canonical(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the JSON the hashes and a bundle's digest cover."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def bundle_digest(bundle: dict[str, Any]) -> str:
    """SHA-256 of a bundle's canonical JSON without its ``signature``."""
    return hashlib.sha256(canonical({k: v for k, v in bundle.items()
                                     if k != "signature"})).hexdigest()


def bundle_body(origin: str, kind: str, digest: str) -> str:
    """The signed body of a bundle: its origin, ``bundle <kind>``, its digest."""
    return f"{origin}\nbundle {kind}\n{digest}\n"


def tree_root(leaves: list[bytes]) -> bytes:
    """MTH of RFC 6962 §2.1 over leaf hashes (already ``leaf_hash``-ed), in one pass."""
    stack: list[tuple[bytes, int]] = []
    for leaf in leaves:
        node, size = leaf, 1
        while stack and stack[-1][1] == size:
            left, _ = stack.pop()
            node, size = node_hash(left, node), size * 2
        stack.append((node, size))
    if not stack:
        return hashlib.sha256(b"").digest()
    root = stack[-1][0]
    for left, _ in reversed(stack[:-1]):
        root = node_hash(left, root)
    return root


@dataclass(frozen=True)
class CheckedBundle:
    """A bundle whose proofs hold: its checkpoint and the events it proves (envelopes with
    ``position``; a ranking bundle's are every event of the checkpointed log, in order)."""

    kind: str
    key: VerifierKey
    checkpoint: Checkpoint
    events: list[dict[str, Any]]
    summary: str


def check_bundle(bundle: Any, key: VerifierKey | None = None,
                 earlier: str | None = None) -> CheckedBundle:
    """Check a bundle written by ``dossier bundle`` without the ledger: its checkpoint's
    signature, its events' proofs, its own signature (a changed byte anywhere), and, given
    ``earlier`` (a checkpoint note kept from before), that the bundle's checkpoint extends it.
    ``key`` is the published verifier key; without it the bundle's own is used (compare it
    with the published one). A ranking's scores are recomputed by the caller."""
    if not isinstance(bundle, dict) or bundle.get("format") != 1:
        raise ProofError("not a bundle of format 1 (written by `dossier bundle`)")
    kind = bundle.get("kind")
    try:
        own = parse_verifier_key(str(bundle["verifier_key"]))
        if key is not None and (own.name, own.key_id, own.public) != (key.name, key.key_id,
                                                                        key.public):
            raise ProofError(f"the bundle carries the verifier key of {own.name} "
                             f"({own.key_id.hex()}), not the one given ({key.name}, "
                             f"{key.key_id.hex()})")
        key = key or own
        checkpoint = verify_note(str(bundle["checkpoint"]), key)
        if kind == "dossier-bundle":
            events, what = _dossier_events(bundle, checkpoint, key)
        elif kind == "ranking-bundle":
            events = _log_events(bundle["records"], checkpoint)
            what = (f"the ranking of {bundle['unit_kind']} units for {bundle['period']} as of "
                    f"{bundle['as_of']}: the whole log of {checkpoint.size} positions gives "
                    "the checkpoint's root")
        else:
            raise ProofError(f"unknown bundle kind {kind!r}")
        if earlier is not None:
            what += "; " + _extends(bundle, checkpoint, earlier, key)
        _check_bundle_signature(bundle, key)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
        if isinstance(error, ProofError):
            raise
        raise ProofError(f"malformed bundle ({error!r})") from None
    return CheckedBundle(str(kind), key, checkpoint, events,
                         f"{what}; checkpoint of {checkpoint.size} events signed "
                         f"{checkpoint.time} by {checkpoint.signer}")


def _check_bundle_signature(bundle: dict[str, Any], key: VerifierKey) -> None:
    note = str(bundle["signature"])
    body, _, _ = note.partition("\n\n")
    verify_note_signature(note, key)
    expected = bundle_body(key.name, str(bundle["kind"]), bundle_digest(bundle))
    if body + "\n" != expected:
        raise ProofError("the bundle's content does not match its signature: it was altered "
                         "after it was written")


def verify_note_signature(note: str, key: VerifierKey) -> None:
    """Check that ``note`` carries a good signature by ``key`` (whatever its body)."""
    body, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise ProofError("the bundle's signature is not a signed note")
    for line in signatures[:-1].split("\n"):
        name, _, b64 = line[len(SIGNATURE_PREFIX):].rpartition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise ProofError(f"malformed signature line {line!r}") from None
        if line.startswith(SIGNATURE_PREFIX) and name == key.name and raw[:4] == key.key_id:
            _check_ed25519(key.public, raw[4:], (body + "\n").encode())
            return
    raise ProofError(f"the bundle carries no signature by the key {key.name}")


def _dossier_events(bundle: dict[str, Any], checkpoint: Checkpoint, key: VerifierKey
                    ) -> tuple[list[dict[str, Any]], str]:
    """Each event's inclusion proof, then the dossier's own chain: its events in order, seq
    1, 2, … each naming the previous one's hash, the first a submission with its code."""
    dossier, code = str(bundle["dossier"]), str(bundle["code"])
    events: list[dict[str, Any]] = []
    previous = "0" * 64
    for seq, proof in enumerate(bundle["proofs"], start=1):
        check_inclusion(proof | {"checkpoint": bundle["checkpoint"],
                                 "tree_size": checkpoint.size}, key)
        event = proof["event"]
        where = f"event {seq} of the bundle (position {proof['position']})"
        if (event.get("stream"), event.get("id")) != ("dossier", dossier):
            raise ProofError(f"{where} is an event of {event.get('stream')} "
                             f"{event.get('id')}, not of dossier {dossier}")
        if event.get("seq") != seq or event.get("prev_hash") != previous:
            raise ProofError(f"{where} does not follow the dossier's chain (seq "
                             f"{event.get('seq')}, expected {seq}): an event is missing, "
                             "repeated or out of order")
        if events and proof["position"] <= events[-1]["position"]:
            raise ProofError(f"{where} is not after the previous one in the log")
        previous = event["hash"]
        events.append(event | {"position": proof["position"]})
    if not events:
        raise ProofError(f"the bundle holds no event of dossier {dossier}")
    first = events[0]
    if first.get("type") != "dossier.submitted" or first["data"].get("code") != code:
        raise ProofError(f"the first event is not the submission of dossier {code}")
    return events, (f"dossier {code} ({dossier}): {len(events)} events, each proved in the "
                    "checkpoint, in the dossier's chain")


def _log_events(records: list[dict[str, Any]], checkpoint: Checkpoint
                ) -> list[dict[str, Any]]:
    """Every record of the log up to the checkpoint: each hash recomputed from its content,
    the log chain rebuilt, the tree's root compared with the checkpoint's."""
    if len(records) != checkpoint.size:
        raise ProofError(f"the bundle holds {len(records)} log records, the checkpoint "
                         f"covers {checkpoint.size}")
    previous, leaves, events = "0" * 64, [], []
    for position, record in enumerate(records, start=1):
        computed = event_hash(record)
        if computed != record.get("hash"):
            raise ProofError(f"the record at position {position} ({record.get('stream')} "
                             f"{record.get('id')} seq {record.get('seq')}) does not give its "
                             "hash: its content was altered")
        previous = log_hash(previous, position, str(record["recorded_at"]), computed)
        leaves.append(leaf_hash(bytes.fromhex(previous)))
        if record.get("stream") != "request":
            events.append(record | {"position": position})
    if tree_root(leaves) != checkpoint.root:
        raise ProofError(f"the {checkpoint.size} records do not give the checkpoint's root: "
                         "an event was altered, removed, added or reordered")
    return events


def _extends(bundle: dict[str, Any], checkpoint: Checkpoint, earlier: str,
             key: VerifierKey) -> str:
    old = verify_note(earlier, key)
    if old.origin != checkpoint.origin:
        raise ProofError(f"the earlier checkpoint is of another log ({old.origin!r})")
    if old.size > checkpoint.size:
        raise ProofError(f"the earlier checkpoint ({old.size} events) is larger than the "
                         f"bundle's ({checkpoint.size}): a log never shrinks")
    if bundle["kind"] == "ranking-bundle":
        leaves, previous = [], "0" * 64
        for position, record in enumerate(bundle["records"][:old.size], start=1):
            previous = log_hash(previous, position, str(record["recorded_at"]),
                                str(record["hash"]))
            leaves.append(leaf_hash(bytes.fromhex(previous)))
        if tree_root(leaves) != old.root:
            raise ProofError(f"the bundle's checkpoint is not an extension of the earlier "
                             f"one: its first {old.size} events do not give the earlier root")
    else:
        found = [c for c in bundle.get("consistency", [])
                 if read_note(str(c["old"])).size == old.size]
        if not found:
            raise ProofError(f"the bundle has no consistency proof from a checkpoint of "
                             f"{old.size} events")
        try:
            verify_consistency(old.size, checkpoint.size,
                               [bytes.fromhex(h) for h in found[0]["path"]], old.root,
                               checkpoint.root)
        except ProofError as error:
            raise ProofError(f"the bundle's checkpoint is not an extension of the earlier "
                             f"one of {old.size} events ({error})") from None
    return f"it extends the earlier checkpoint of {old.size} events"


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
