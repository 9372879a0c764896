"""Checkpoints and proofs of the ledger's log: sign the tree's head, prove that an event is in a
checkpoint, prove that one checkpoint extends another. An auditor checks what these write with
:mod:`ledger.proofcheck` alone (docs/proofs.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from ledger.application import DossierLedger
from ledger.chain import is_hex_hash
from ledger.checkpoints import SigningKey, StoredCheckpoint, sign_checkpoint
from ledger.errors import LedgerError
from ledger.log_chain import GENESIS, LogRow, stamp_text
from ledger.merkle import TreeView
from ledger.positions import position_of
from ledger.proofcheck import ProofError, read_note


class ProofRefused(LedgerError):
    """A checkpoint or proof the ledger cannot give; the message says why."""


def take_checkpoint(ledger: DossierLedger, key: SigningKey) -> tuple[StoredCheckpoint, bool]:
    """Sign the log's current size and root, under the write lock, and keep the checkpoint;
    refused when the log no longer extends the latest checkpoint. Returns the checkpoint and
    whether it is new (False: the latest one by this key already covers every event)."""
    created = False

    def make(view: TreeView, head: LogRow | None, latest: StoredCheckpoint | None
             ) -> StoredCheckpoint:
        nonlocal created
        size = head.position if head is not None else 0
        if head is None:
            raise ProofRefused("the ledger holds no events: nothing to checkpoint")
        if latest is not None:
            if latest.size > size:
                raise ProofRefused(f"the log holds {size} events, fewer than its checkpoint of "
                                   f"{latest.size} (signed {latest.signed_at}): events were "
                                   "removed; not signing")
            if view.root(latest.size).hex() != latest.root:
                raise ProofRefused(f"the log's first {latest.size} events no longer give the "
                                   f"root of its checkpoint signed {latest.signed_at}: the "
                                   "log was altered; not signing")
            if latest.size == size and latest.key_id == key.key_id.hex():
                return latest
        moment = max(ledger.clock(), datetime.fromisoformat(head.recorded_at))
        created = True
        return sign_checkpoint(key, size, view.root(size), stamp_text(moment))

    checkpoint = ledger.recorder.insert_checkpoint(make)  # type: ignore[attr-defined]
    return checkpoint, created


def checkpoints(ledger: DossierLedger) -> list[StoredCheckpoint]:
    return list(ledger.recorder.select_checkpoints())  # type: ignore[attr-defined]


def find_checkpoint(ledger: DossierLedger, ref: str | None) -> StoredCheckpoint:
    """The checkpoint named by its size (a kept one), by a file holding its note, or (None)
    the latest kept."""
    kept = checkpoints(ledger)
    if ref is None:
        if not kept:
            raise ProofRefused("the ledger has no checkpoint yet: run `dossier checkpoint`")
        return max(kept, key=lambda c: (c.size, c.signed_at))
    if ref.isdigit():
        found = [c for c in kept if c.size == int(ref)]
        if not found:
            sizes = ", ".join(str(c.size) for c in kept) or "none"
            raise ProofRefused(f"no checkpoint of {ref} events is kept (kept: {sizes})")
        return max(found, key=lambda c: c.signed_at)
    try:
        with open(ref, encoding="utf-8") as file:
            note = file.read()
        body = read_note(note)
    except (OSError, ProofError) as error:
        raise ProofRefused(f"{ref}: not a checkpoint size nor a readable checkpoint file "
                           f"({error})") from None
    return StoredCheckpoint(body.size, body.root.hex(), body.time, body.signer, "", note)


def find_position(ledger: DossierLedger, ref: str) -> int:
    """An event's position from its position, its hash, or ``stream:id:seq``."""
    last = ledger.max_position()
    if ref.isdigit():
        if not 1 <= int(ref) <= last:
            raise ProofRefused(f"no event at position {ref} (the log holds {last})")
        return int(ref)
    if is_hex_hash(ref):
        start = 1
        while rows := ledger.recorder.select_log(start, 10_000):  # type: ignore[attr-defined]
            for row in rows:
                if row.event_hash == ref:
                    return int(row.position)
            start = rows[-1].position + 1
        raise ProofRefused(f"no event with hash {ref}")
    oid, _, seq = ref.rpartition(":")
    position = position_of(ledger.recorder, oid, int(seq)) if seq.isdigit() and oid else None
    if position is None:
        raise ProofRefused(f"no event {ref!r} (give a position, an event hash, or "
                           "stream:id:seq such as dossier:d-0001:3)")
    return position


def inclusion_proof(ledger: DossierLedger, position: int, checkpoint: StoredCheckpoint
                    ) -> dict[str, Any]:
    """The proof that the event at ``position`` is in ``checkpoint``'s tree, with the event
    itself and the log-chain values that bind it to its leaf."""
    if position > checkpoint.size:
        raise ProofRefused(f"position {position} was recorded after the checkpoint of "
                           f"{checkpoint.size} events: take a new checkpoint first")
    rows = ledger.recorder.select_log(  # type: ignore[attr-defined]
        max(position - 1, 1), 2 if position > 1 else 1)
    row = rows[-1]
    if row.position != position:
        raise ProofRefused(f"the log has no entry for position {position}")
    (stored,) = list(ledger.read_stored(position, position, page=1))
    with ledger.recorder.tree() as view:  # type: ignore[attr-defined]
        path = view.inclusion(position - 1, checkpoint.size)
    return {
        "kind": "inclusion",
        "position": position,
        "recorded_at": row.recorded_at,
        "event_hash": row.event_hash,
        "prev_log_hash": rows[0].log_hash if position > 1 else GENESIS,
        "log_hash": row.log_hash,
        "tree_size": checkpoint.size,
        "path": [p.hex() for p in path],
        "event": orjson.loads(stored.state),
        "checkpoint": checkpoint.note,
    }


def consistency_proof(ledger: DossierLedger, old: StoredCheckpoint, new: StoredCheckpoint
                      ) -> dict[str, Any]:
    """The proof that ``new``'s tree extends ``old``'s, computed from the log as it is now."""
    if old.size > new.size:
        raise ProofRefused(f"the old checkpoint ({old.size} events) is larger than the new "
                           f"one ({new.size}): give the older first")
    if new.size > ledger.max_position():
        raise ProofRefused(f"the log holds {ledger.max_position()} events, fewer than the "
                           f"checkpoint of {new.size}: events were removed")
    with ledger.recorder.tree() as view:  # type: ignore[attr-defined]
        path = view.consistency(old.size, new.size)
    return {"kind": "consistency", "old": old.note, "new": new.note,
            "path": [p.hex() for p in path]}
