"""The server-side ClickHouse files of deploy/: the cluster DDL is what the schema module
generates, every statement parses in the real engine (chDB), and the replicated tables
create on one node with their replication stripped."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from projections.clickhouse.cluster import local_ddl, write_cluster_ddl
from projections.clickhouse.schema import DEPLOYED

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "deploy" / "clickhouse" / "cluster"
# In its own process (chDB: one data directory per process): parse every statement with
# formatQuery, create the local tables without replication (no Keeper here).
SCRIPT = r"""
import json, re, sys, tempfile
from chdb import session
s = session.Session(tempfile.mkdtemp())
parsed, created = 0, 0
for stmt in json.loads(sys.argv[1]):
    literal = "'" + stmt.replace("\\", "\\\\").replace("'", "\\'") + "'"
    s.query(f"SELECT formatQuery({literal})")
    parsed += 1
    if "_local" in stmt.split("\n")[0]:
        single = re.sub(r"Replicated(\w+)\('[^']*', '\{replica\}'(, )?", r"\1(", stmt)
        s.query(single.replace(" ON CLUSTER '{cluster}'", ""))
        created += 1
print(json.dumps([parsed, created]))
"""


def statements() -> list[str]:
    found = []
    for path in sorted(CLUSTER.glob("*.sql")):
        text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                         if not line.startswith("--"))
        found += [s.strip() for s in text.split(";\n") if "CREATE" in s]
    return found


def test_cluster_ddl_is_generated_from_the_schema(tmp_path: Path) -> None:
    write_cluster_ddl(tmp_path)
    assert {p.name: p.read_text() for p in tmp_path.glob("*.sql")} == {
        p.name: p.read_text() for p in CLUSTER.glob("*.sql")}, (
        "run: python -m projections.clickhouse.cluster")
    assert len(statements()) == 2 * len(DEPLOYED) + 1  # and the indicator view
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', " \
           "'{replica}', position)" in local_ddl(DEPLOYED[1])


def test_every_cluster_statement_parses_and_local_tables_create_in_chdb() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(statements())],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [2 * len(DEPLOYED) + 1, len(DEPLOYED)]


def test_grafana_reads_clickhouse_as_a_read_only_user() -> None:
    root = ElementTree.parse(ROOT / "deploy" / "clickhouse" / "users.d" /
                             "grafana_reader.xml").getroot()
    user = root.find("users/grafana_reader")
    assert user is not None
    profile = root.find(f"profiles/{user.findtext('profile')}")
    assert profile is not None and profile.findtext("readonly") in ("1", "2")
    assert [q.text for q in user.findall("grants/query")] == ["GRANT SELECT ON default.*"]
