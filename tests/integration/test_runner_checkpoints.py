"""With a signing key, the runner signs a checkpoint covering every score row before writing
it, and the row records it; ``verify --scores`` accepts those checkpoints and names any other;
a log that no longer extends its checkpoint stops the runner instead of publishing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from ledger.application import DossierLedger
from ledger.checkpoints import new_signing_key
from ledger.config import StoreConfig
from tests.conftest import WORKLOAD_AS_OF, WORKLOAD_START
from tests.integration import forgery
from tests.integration.test_clickhouse_live import dossier, olap, olap_command, simulate


def checkpoint_sizes(data_dir: Path) -> set[int]:
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data_dir / "ledger.sqlite"))
    try:
        return {c.size for c in ledger.recorder.select_checkpoints()}  # type: ignore[attr-defined]
    finally:
        ledger.close()


def signing_key_in(data_dir: Path) -> None:
    """The signing key where the runner looks for it (``dossier keys signing --new``)."""
    (data_dir / "signing.key").write_text(new_signing_key("so-cai.example/test").private_text()
                                          + "\n")


def test_every_published_row_records_a_signed_checkpoint_covering_it(tmp_path: Path) -> None:
    head = simulate(tmp_path)
    signing_key_in(tmp_path)
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    signed = checkpoint_sizes(tmp_path)
    assert signed == {head}
    rows = olap(tmp_path, "SELECT position, checkpoint FROM rankings_current FINAL")
    assert rows and all(position <= checkpoint and checkpoint in signed
                        for position, checkpoint in rows)

    # more events: a new checkpoint covers the rows written for them, the old rows keep theirs
    more = simulate(tmp_path, days=1, start=WORKLOAD_START + timedelta(days=2, hours=1))
    assert more > head
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    signed = checkpoint_sizes(tmp_path)
    assert signed == {head, more}
    rows = olap(tmp_path, "SELECT position, checkpoint FROM rankings_current FINAL")
    assert {checkpoint for _, checkpoint in rows} == {head, more}
    assert all(position <= checkpoint for position, checkpoint in rows)
    assert "OK:" in dossier(tmp_path, "verify", "--scores").stdout

    printed = json.loads(dossier(tmp_path, "live-rank", "--period", "2026-10", "--json").stdout)
    assert printed and all(row["checkpoint"] in signed for row in printed)

    # a row naming a checkpoint the ledger does not have is named
    olap_command(tmp_path, "INSERT INTO rankings_current SELECT * REPLACE (checkpoint + 7 AS "
                           "checkpoint, position + 0 AS position) FROM rankings_current FINAL "
                           "ORDER BY unit LIMIT 1")
    refused = dossier(tmp_path, "verify", "--scores", check=False)
    assert refused.returncode == 1
    assert "rankings_current" in refused.stdout and ": checkpoint" in refused.stdout


def test_the_runner_refuses_to_publish_over_a_log_that_no_longer_extends_its_checkpoint(
        tmp_path: Path) -> None:
    simulate(tmp_path)
    signing_key_in(tmp_path)
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF)
    forgery.forge_sqlite(tmp_path / "ledger.sqlite", forgery.without_last(3),
                         drop_checkpoints=False)
    simulate(tmp_path, days=1, start=WORKLOAD_START + timedelta(days=2, hours=1))
    result = dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", WORKLOAD_AS_OF,
                     check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not publishing scores" in result.stderr
    assert "Traceback" not in result.stderr
