"""An applicant asks to be forgotten: with personal data sealed at rest, ``dossier erase``
deletes their key; afterwards none of their personal values is anywhere in the ledger's
files, an export or ClickHouse, while verify, the proofs, the bundles and ``verify --scores``
all still pass."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from ledger.bundles import signed
from ledger.checkpoints import parse_signing_key
from ledger.proofcheck import main as proofcheck
from tests.conftest import EXAMPLE_EVENTS
from tests.e2e.test_cli_roundtrip import DOSSIER

AS_OF = "2026-10-31"
ERASED_REF = "ref-000.00.22.H40-261001-0001"  # the applicant of d-0001
KEPT_REF = "ref-000.00.22.H40-261002-0002"  # the applicant of d-0002
IN_CLEAR = "Sở Xây dựng tỉnh Quảng Ninh"  # a unit's name: not personal, stored in clear

DUMP_CLICKHOUSE = """
import sys
from pathlib import Path
from projections.clickhouse.writer import open_client
client = open_client(None, Path(sys.argv[1]))
for (table,) in client.query("SHOW TABLES").result_rows:
    rows = client.raw_query(f"SELECT * FROM `{table}` FORMAT JSONEachRow")
    sys.stdout.buffer.write(rows)
client.close()
"""


def env_for(tmp: Path) -> dict[str, str]:
    env = os.environ | {"DOSSIER_DATA_DIR": str(tmp / "data"), "COLUMNS": "200",
                        "DOSSIER_PSEUDONYM_KEY": "test-key",
                        "DOSSIER_PERSONAL_DATA_KEY_FILE": str(tmp / "personal.key")}
    for name in ("DOSSIER_PG_DSN", "DOSSIER_STORE", "DOSSIER_CLICKHOUSE_URL",
                 "DOSSIER_PERSONAL_KEYS_FILE"):
        env.pop(name, None)
    return env


def dossier(tmp: Path, *args: str) -> bytes:
    result = subprocess.run([DOSSIER or "dossier", *args], env=env_for(tmp),
                            capture_output=True, timeout=300, check=False)
    assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


def every_byte(tmp: Path, export: bytes) -> bytes:
    """The ledger's files, the subjects' key store, ClickHouse's files, what ClickHouse
    answers (its parts are compressed), and an export."""
    files = b"".join(p.read_bytes() for p in sorted((tmp / "data").rglob("*")) if p.is_file())
    tables = subprocess.run([sys.executable, "-c", DUMP_CLICKHOUSE, str(tmp / "data" / "olap")],
                            capture_output=True, timeout=300, check=True).stdout
    assert IN_CLEAR.encode() in tables  # the dump does show what is in clear
    return files + tables + export


def personal_values_of_d0001() -> list[bytes]:
    values = [ERASED_REF]
    for line in EXAMPLE_EVENTS.read_bytes().splitlines():
        event = orjson.loads(line)
        if event["id"] == "d-0001" and "reason" in event["data"]:
            values.append(event["data"]["reason"])
    assert len(values) > 1
    return [v.encode() for v in values]


def test_an_erased_applicant_is_nowhere_and_every_check_still_passes(tmp_path: Path) -> None:
    dossier(tmp_path, "keys", "personal", "--new")
    verifier = dossier(tmp_path, "keys", "signing", "--new").decode().strip()
    dossier(tmp_path, "import", str(EXAMPLE_EVENTS))
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", AS_OF)
    before = orjson.loads(dossier(tmp_path, "history", "d-0001", "--json", "--as-of", AS_OF))
    assert before["events"][0]["data"]["applicant_ref"] == ERASED_REF  # readable with its key

    said = dossier(tmp_path, "erase", "--applicant", ERASED_REF).decode()
    assert "erased subject" in said and "recorded at position 32" in said
    assert "erased already" in dossier(tmp_path, "erase", "--applicant", ERASED_REF).decode()

    export = dossier(tmp_path, "export")
    scanned = every_byte(tmp_path, export)
    for value in personal_values_of_d0001():
        assert value not in scanned, value.decode()
    assert KEPT_REF.encode() not in scanned  # sealed at rest too, though not erased
    assert IN_CLEAR.encode() in export

    after = orjson.loads(dossier(tmp_path, "history", "d-0001", "--json", "--as-of", AS_OF))
    assert after["events"][0]["data"]["applicant_ref"] == "[erased]"
    kept = orjson.loads(dossier(tmp_path, "history", "d-0002", "--json", "--as-of", AS_OF))
    assert kept["events"][0]["data"]["applicant_ref"] == KEPT_REF

    dossier(tmp_path, "verify")
    note = tmp_path / "checkpoint.note"
    dossier(tmp_path, "checkpoint", "--out", str(note))
    dossier(tmp_path, "verify", "--checkpoint", str(note), "--key", verifier)
    proof = tmp_path / "proof.json"
    dossier(tmp_path, "prove", "dossier:d-0001:1", "--out", str(proof))
    assert proofcheck(["--key", verifier, str(note), str(proof)]) == 0
    bundle = tmp_path / "d-0001.json"
    dossier(tmp_path, "bundle", "--dossier", "d-0001", "--out", str(bundle))
    dossier(tmp_path, "verify-bundle", str(bundle), "--key", verifier)
    dossier(tmp_path, "follow", "--once", "--quiet", "--as-of", AS_OF)
    assert b"match a recomputation from the ledger" in dossier(tmp_path, "verify", "--scores")

    # the ranking as published in ClickHouse, recomputed from a bundle of the erased ledger
    ranking = tmp_path / "ranking.json"
    dossier(tmp_path, "bundle", "--ranking", "--published", "--period", "2026-10", "--kind",
            "department", "--province", "22", "--out", str(ranking))
    assert ERASED_REF.encode() not in ranking.read_bytes()
    assert b"all 2 scores recomputed and equal" in dossier(
        tmp_path, "verify-bundle", str(ranking), "--key", verifier)
    forged = orjson.loads(ranking.read_bytes())
    forged["scores"][0]["rank"] = 2
    key = parse_signing_key((tmp_path / "data" / "signing.key").read_text())
    ranking.write_bytes(orjson.dumps(signed(forged, key)))
    refused = subprocess.run([DOSSIER or "dossier", "verify-bundle", str(ranking)],
                             env=env_for(tmp_path), capture_output=True, timeout=300)
    assert refused.returncode == 1 and b"rank is 2, recomputed 1" in refused.stdout
