"""Offline bundles: what an auditor needs to check a dossier's history, or to recompute a
published ranking, without the ledger (docs/proofs.md, "Offline bundles"). Checked by
:func:`ledger.proofcheck.check_bundle`; a ranking's scores are added and recomputed by the
caller (the ledger does not score)."""

from __future__ import annotations

from typing import Any

import orjson

from ledger.application import DossierLedger
from ledger.audit import find_dossier_id
from ledger.checkpoints import SigningKey, StoredCheckpoint
from ledger.codec import decode_state
from ledger.positions import position_of
from ledger.proofcheck import bundle_body, bundle_digest, read_note
from ledger.proofs import ProofRefused, checkpoints, consistency_proof, inclusion_proof

FORMAT = 1
PROOF_FIELDS = ("position", "recorded_at", "event_hash", "prev_log_hash", "log_hash", "path",
                "event")


def dossier_bundle(ledger: DossierLedger, ref: str, checkpoint: StoredCheckpoint,
                   key: SigningKey, since: list[StoredCheckpoint] | None = None
                   ) -> dict[str, Any]:
    """A dossier's events (as stored) with their inclusion proofs in ``checkpoint``, and
    consistency proofs to it from the ledger's earlier checkpoints by the same key and from
    ``since``. Refused when the dossier has events after the checkpoint."""
    dossier = find_dossier_id(ledger, ref)
    oid = f"dossier:{dossier}"
    envelopes = ledger.stream_envelopes("dossier", dossier)
    proofs = []
    for envelope in envelopes:
        position = position_of(ledger.recorder, oid, envelope["seq"])
        if position is None or position > checkpoint.size:
            raise ProofRefused(f"dossier {ref} has events after the checkpoint of "
                               f"{checkpoint.size} events: take a new checkpoint first")
        proof = inclusion_proof(ledger, position, checkpoint)
        proofs.append({name: proof[name] for name in PROOF_FIELDS})
    earlier = [c for c in checkpoints(ledger)
               if c.size < checkpoint.size and c.key_id == key.key_id.hex()]
    consistency = {}
    for old in [*earlier, *(since or [])]:
        if old.size <= checkpoint.size:
            consistency[old.size] = {"old": old.note,
                                     "path": consistency_proof(ledger, old, checkpoint)["path"]}
    return {"kind": "dossier-bundle", "format": FORMAT, "dossier": dossier,
            "code": envelopes[0]["data"]["code"], "verifier_key": key.verifier_key(),
            "checkpoint": checkpoint.note, "proofs": proofs,
            "consistency": [consistency[size] for size in sorted(consistency)]}


def log_records(ledger: DossierLedger, size: int) -> list[dict[str, Any]]:
    """Every record of the log's first ``size`` positions as stored (the idempotency
    requests too: they are leaves of the tree)."""
    records = [decode_state(row.state) for row in ledger.read_stored(1, size)]
    if len(records) != size:
        raise ProofRefused(f"the log holds {len(records)} of the checkpoint's {size} events")
    return records


def signed(bundle: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """The bundle with its ``signature``: a signed note of its kind and digest, so a byte
    changed anywhere is seen."""
    plain = orjson.loads(orjson.dumps(bundle))  # the JSON values, as a reader will see them
    plain.pop("signature", None)
    note = key.sign(bundle_body(key.name, str(plain["kind"]), bundle_digest(plain)))
    return plain | {"signature": note}


def checkpoint_from_note(note: str) -> StoredCheckpoint:
    body = read_note(note)
    return StoredCheckpoint(body.size, body.root.hex(), body.time, body.signer, "", note)
