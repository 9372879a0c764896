"""Offline bundles: an auditor checks a dossier's history and recomputes a published ranking
from a bundle alone, and every forged bundle is rejected with its reason."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.commands.bundle_cmds import recompute_ranking
from ledger.application import DossierLedger
from ledger.bundles import signed
from ledger.checkpoints import SigningKey, parse_signing_key
from ledger.config import StoreConfig
from ledger.proofcheck import ProofError, check_bundle, parse_verifier_key
from ledger.proofs import take_checkpoint
from ledger.transfer import import_lines
from tests.conftest import EXAMPLE_EVENTS, FrozenClock
from tests.e2e.test_cli_roundtrip import run
from tests.integration import forgery


def ledger_in(data: Path) -> DossierLedger:
    clock = FrozenClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    return DossierLedger(StoreConfig("sqlite", sqlite_path=data / "ledger.sqlite"), clock=clock)


def ok(data: Path, *args: str) -> str:
    result = run(data, *args)
    assert result.returncode == 0, result.stderr.decode() + result.stdout.decode()
    return result.stdout.decode()


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A ledger of the example events, its key, a checkpoint and the two bundles."""
    tmp = tmp_path_factory.mktemp("bundles")
    data = tmp / "data"
    data.mkdir()
    ledger = ledger_in(data)
    import_lines(ledger, EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True))
    ledger.close()
    verifier = ok(data, "keys", "signing", "--new", "--name", "so-cai.example/qn").strip()
    ok(data, "checkpoint", "--out", str(tmp / "first.note"))
    ok(data, "bundle", "--dossier", "000.00.22.H40-261001-0001", "--out",
       str(tmp / "dossier.json"))
    ok(data, "bundle", "--ranking", "--period", "2026-10", "--kind", "department",
       "--province", "22", "--as-of", "2026-10-31T12:00:00+07:00", "--out",
       str(tmp / "ranking.json"))
    return {"tmp": tmp, "data": data, "verifier": verifier,
            "key": parse_signing_key((data / "signing.key").read_text())}


def bundle(audited: dict[str, Any], name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((audited["tmp"] / name).read_text())
    return loaded


def refused(audited: dict[str, Any], forged: dict[str, Any], earlier: str | None = None
            ) -> str:
    key = parse_verifier_key(audited["verifier"])
    with pytest.raises(ProofError) as caught:
        checked = check_bundle(forged, key, earlier)
        if checked.kind == "ranking-bundle":
            recompute_ranking(forged, checked)
    return str(caught.value)


def resigned(forged: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    """What an operator holding the signing key can do: sign the forged bundle again."""
    return signed(forged, key)


def test_the_auditor_checks_both_bundles_without_the_ledger(audited: dict[str, Any]) -> None:
    data, tmp = audited["data"], audited["tmp"]
    (data / "ledger.sqlite").rename(data / "elsewhere.sqlite")  # the ledger is not needed
    try:
        checked = ok(data, "verify-bundle", str(tmp / "dossier.json"), "--key",
                     audited["verifier"])
        assert "13 events, each proved in the checkpoint" in checked
        ranked = ok(data, "verify-bundle", str(tmp / "ranking.json"), "--key",
                    audited["verifier"], "--since", str(tmp / "first.note"))
        assert "all 2 scores recomputed and equal" in ranked
        assert "22.SXD" in ranked and "recomputed: equal" in ranked
    finally:
        (data / "elsewhere.sqlite").rename(data / "ledger.sqlite")


def test_one_changed_byte_anywhere_is_rejected(audited: dict[str, Any]) -> None:
    for name in ("dossier.json", "ranking.json"):
        text = (audited["tmp"] / name).read_text()
        for needle in ('"total": ', '"path": ["', '"applicant_kind": "', '"name": "',
                       '"unit_kind": "', "time 20", '"satisfied": '):
            at = text.find(needle)
            if at < 0:
                continue
            at += len(needle)
            changed = text[:at] + ("x" if text[at] != "x" else "y") + text[at + 1:]
            try:
                forged = json.loads(changed)
            except ValueError:
                continue  # a changed byte that breaks the JSON is refused by the parser
            assert refused(audited, forged), (name, needle)
        broken = audited["tmp"] / f"broken-{name}"
        broken.write_text(text.replace('"kind": "', '"kind": "x', 1))
        result = run(audited["data"], "verify-bundle", str(broken))
        assert result.returncode == 1 and b"FAILED" in result.stdout
        assert b"Traceback" not in result.stderr


def test_a_changed_score_is_caught_by_the_recomputation_even_when_re_signed(
        audited: dict[str, Any]) -> None:
    forged = bundle(audited, "ranking.json")
    forged["scores"][1]["total"] += 1.0
    reason = refused(audited, resigned(forged, audited["key"]))
    assert "differs from the one recomputed from the events: total is" in reason

    forged = bundle(audited, "ranking.json")
    del forged["records"][20]
    assert "log records, the checkpoint covers" in refused(audited,
                                                           resigned(forged, audited["key"]))
    forged = bundle(audited, "ranking.json")
    forged["records"][5]["data"]["statutory_days"] = 99
    assert "does not give its hash" in refused(audited, resigned(forged, audited["key"]))


def test_a_proof_for_another_event_is_rejected(audited: dict[str, Any]) -> None:
    original = bundle(audited, "dossier.json")
    other = copy.deepcopy(original)
    other["proofs"][2]["path"] = original["proofs"][3]["path"]
    assert "does not lead to the checkpoint's root" in refused(
        audited, resigned(other, audited["key"]))
    other = copy.deepcopy(original)
    other["proofs"][2]["position"] = original["proofs"][3]["position"]
    assert "log hash does not follow" in refused(audited, resigned(other, audited["key"]))
    other = copy.deepcopy(original)
    del other["proofs"][4]  # a proof left out: the dossier's chain shows the gap
    assert "does not follow the dossier's chain" in refused(
        audited, resigned(other, audited["key"]))


def test_a_checkpoint_with_a_bad_signature_is_rejected(audited: dict[str, Any]) -> None:
    forged = bundle(audited, "dossier.json")
    size = forged["checkpoint"].split("\n")[1]
    forged["checkpoint"] = forged["checkpoint"].replace(f"\n{size}\n", f"\n{int(size) + 1}\n")
    assert "bad signature" in refused(audited, forged)
    other = parse_signing_key((audited["data"] / "signing.key").read_text())
    assert refused(audited, bundle(audited, "ranking.json") | {
        "verifier_key": other.verifier_key().replace("+", "x+", 1)})


def test_a_checkpoint_that_does_not_extend_an_earlier_one_is_rejected(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    ledger = ledger_in(data)
    import_lines(ledger, EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True))
    ledger.close()
    verifier = ok(data, "keys", "signing", "--new", "--name", "so-cai.example/qn").strip()
    first = tmp_path / "first.note"
    ok(data, "checkpoint", "--out", str(first))
    # the operator rewrites history, re-chains everything, drops its own checkpoints
    forgery.forge_sqlite(data / "ledger.sqlite",
                         forgery.edited("dossier:d-0001", 2, due_at="2026-12-31T17:00:00+07:00"))
    ledger = ledger_in(data)
    ledger.record({"type": "dossier.synced", "id": "d-0003", "at": "2026-10-28T09:00:00+07:00"})
    key = parse_signing_key((data / "signing.key").read_text())
    take_checkpoint(ledger, key)
    ledger.close()
    for args in (["--dossier", "d-0001", "--since", str(first)],
                 ["--ranking", "--period", "2026-10", "--kind", "department", "--province",
                  "22"]):
        out = tmp_path / "forged.json"
        ok(data, "bundle", *args, "--out", str(out))
        assert ok(data, "verify-bundle", str(out), "--key", verifier).startswith(("OK", "  "))
        result = run(data, "verify-bundle", str(out), "--key", verifier, "--since", str(first))
        assert result.returncode == 1, result.stdout
        assert b"not an extension of the" in result.stdout


def test_bad_requests_are_refused_in_one_line(audited: dict[str, Any]) -> None:
    data, tmp = audited["data"], audited["tmp"]
    for args in (["bundle", "--out", str(tmp / "x.json")],
                 ["bundle", "--ranking", "--out", str(tmp / "x.json")],
                 ["bundle", "--dossier", "no-such", "--out", str(tmp / "x.json")],
                 ["verify-bundle", str(tmp / "missing.json")],
                 ["verify-bundle", str(tmp / "first.note")]):
        result = run(data, *args)
        assert result.returncode in (1, 2), args
        assert b"Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 3
