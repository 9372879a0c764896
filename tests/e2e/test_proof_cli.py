"""An auditor's round: the operator creates the signing key and signs checkpoints, hands out
a checkpoint file and proofs; the auditor checks them with the standalone verifier, and later
checks the ledger against the checkpoint it kept — and sees a forgery."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ledger.application import DossierLedger
from ledger.config import StoreConfig
from ledger.proofcheck import main as proofcheck
from ledger.transfer import import_lines
from tests.conftest import EXAMPLE_EVENTS, FrozenClock
from tests.e2e.test_cli_roundtrip import run
from tests.integration import forgery


def ledger_in(data: Path) -> DossierLedger:
    clock = FrozenClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    return DossierLedger(StoreConfig("sqlite", sqlite_path=data / "ledger.sqlite"), clock=clock)


def ok(data: Path, *args: str) -> str:
    result = run(data, *args)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def test_checkpoints_and_proofs_round_trip_and_a_forgery_is_seen(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    ledger = ledger_in(data)
    import_lines(ledger, EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True))
    ledger.close()
    key = tmp_path / "verifier.key"
    key.write_text(ok(data, "keys", "signing", "--new", "--name", "so-cai.example/qn"))
    assert run(data, "keys", "signing", "--new").returncode == 2  # never replaced
    assert ok(data, "keys", "signing") == key.read_text()

    first = tmp_path / "first.note"
    assert ok(data, "checkpoint", "--out", str(first)) == first.read_text()
    ledger = ledger_in(data)
    ledger.record({"type": "dossier.synced", "id": "d-0003", "at": "2026-10-28T09:00:00+07:00"})
    ledger.close()
    second = tmp_path / "second.note"
    ok(data, "checkpoint", "--out", str(second))
    proof, extends = tmp_path / "proof.json", tmp_path / "extends.json"
    ok(data, "prove", "dossier:d-0001:3", "--checkpoint", str(first), "--out", str(proof))
    ok(data, "prove", "--consistency", "31", str(second), "--out", str(extends))
    files = [str(first), str(second), str(proof), str(extends)]
    assert proofcheck(["--key", str(key), *files]) == 0

    checked = ok(data, "verify", "--checkpoint", str(second), "--key", str(key))
    assert "Merkle root matches at 31" in checked and "32 (the checkpoint second.note)" in checked

    forged_note = tmp_path / "forged.note"
    forged_note.write_text(second.read_text().replace("\n32\n", "\n33\n"))
    refused = run(data, "verify", "--checkpoint", str(forged_note), "--key", str(key))
    assert refused.returncode == 1 and b"bad signature" in refused.stdout

    forgery.forge_sqlite(data / "ledger.sqlite", forgery.without_last(2))
    assert run(data, "verify").returncode == 0  # the chains alone cannot see it
    caught = run(data, "verify", "--checkpoint", str(second), "--key", str(key))
    assert caught.returncode == 1
    assert b"covers 32 events: 2 deleted since" in caught.stdout
    assert run(data, "prove", "--consistency", str(first), str(second)).returncode == 1
