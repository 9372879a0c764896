"""A replay that moves ended dossiers out of memory as it goes (into a store of its own, on
disk) rebuilds exactly the tables a replay holding every dossier in memory rebuilds."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

from projections.clickhouse.moments import moment_suffix
from tests.conftest import WORKLOAD_AS_OF
from tests.integration.test_clickhouse_live import ROOT, dossier, env_for, simulate, snapshot

REPLAY = """
import sys
from datetime import datetime
from pathlib import Path
from ledger.application import DossierLedger
from ledger.config import StoreConfig
from projections.clickhouse.writer import open_client
from streams.rebuild import replay
data = Path(sys.argv[1])
ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data / "ledger.sqlite"))
client = open_client(None, data / "olap")
result = replay(ledger, client, pseudonym_key=b"test-key",
                as_of=datetime.fromisoformat(sys.argv[2]), state_dir=data / "runner-state",
                take_out_every=int(sys.argv[3]))
client.close()
ledger.close()
print(result.taken_out)
"""


def test_a_replay_taking_dossiers_out_of_memory_rebuilds_the_same_tables(
        tmp_path: Path) -> None:
    simulate(tmp_path, days=3)
    out = subprocess.run([sys.executable, "-c", REPLAY, str(tmp_path), WORKLOAD_AS_OF, "150"],
                         env=env_for(tmp_path), cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) > 0, "no dossier was taken out of memory"
    assert not list((tmp_path / "runner-state").glob("replay-*")), "its store is left behind"
    suffix = moment_suffix("asof", datetime.fromisoformat(WORKLOAD_AS_OF))
    bounded = snapshot(tmp_path, suffix)

    dossier(tmp_path, "replay", "--as-of", WORKLOAD_AS_OF)  # every dossier held
    whole = snapshot(tmp_path, suffix)
    assert bounded["facts"] and bounded["rankings"]
    for table in whole:
        assert bounded[table] == whole[table], table
