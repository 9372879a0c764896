"""A file of events tried as a new user would, with the installed ``dossier`` command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import EXAMPLE_EVENTS

DOSSIER = shutil.which("dossier", path=str(Path(sys.executable).parent)) or shutil.which("dossier")


def run(data_dir: Path, *args: str, stdin: bytes | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    if DOSSIER is None:
        pytest.fail("the `dossier` command is not installed (run `make setup`)")
    env = os.environ | {"DOSSIER_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    env.pop("DOSSIER_PG_DSN", None)
    env.pop("DOSSIER_STORE", None)
    return subprocess.run([DOSSIER, *args], env=env, input=stdin, capture_output=True,
                          timeout=timeout, check=False)


def comparable(exported: bytes) -> list[dict]:
    return [{k: v for k, v in orjson.loads(x).items() if k not in ("position", "recorded_at")}
            for x in exported.splitlines()]


def test_export_import_elsewhere_export_again(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert run(first, "import", str(EXAMPLE_EVENTS)).returncode == 0
    exported = run(first, "export")
    assert exported.returncode == 0
    dump = tmp_path / "export.jsonl"
    dump.write_bytes(exported.stdout)

    imported = run(second, "import", str(dump))
    assert imported.returncode == 0, imported.stderr.decode()
    again = run(second, "export")
    assert comparable(again.stdout) == comparable(exported.stdout)
    assert len(comparable(again.stdout)) == 30

    verified = run(second, "verify")
    assert verified.returncode == 0
    assert b"OK: 31 events" in verified.stdout


def test_a_file_with_one_bad_line_leaves_the_ledger_unchanged(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "import", str(EXAMPLE_EVENTS)).returncode == 0
    before = run(data, "export").stdout

    more = [
        {"type": "dossier.rated", "stream": "dossier", "id": "d-0003", "seq": 6,
         "at": "2026-10-28T09:00:00+07:00", "data": {"satisfied": False}},
        {"type": "dossier.appraised", "stream": "dossier", "id": "d-0003", "seq": 7,
         "at": "2026-10-28T10:00:00+07:00", "data": {"by": "staff-1"}},
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in more))
    result = run(data, "import", str(bad))
    assert result.returncode == 2
    message = result.stderr.decode()
    assert "line 2" in message and "lifecycle" in message and "withdrawn" in message
    assert run(data, "export").stdout == before


def test_history_by_code_as_of_and_json(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(data, "import", str(EXAMPLE_EVENTS))
    shown = run(data, "history", "000.00.22.H40-261001-0001", "--as-of",
                "2026-10-03T00:00:00+07:00", "--json")
    assert shown.returncode == 0, shown.stderr.decode()
    history = orjson.loads(shown.stdout)
    assert history["dossier"] == "d-0001"
    assert history["state"]["status"] == "supplement_requested"
    assert [e["seq"] for e in history["events"]] == [1, 2, 3]
    missing = run(data, "history", "no-such-dossier")
    assert missing.returncode == 2 and b"no dossier" in missing.stderr


def test_verify_names_a_tampered_event(tmp_path: Path) -> None:
    import sqlite3

    data = tmp_path / "data"
    run(data, "import", str(EXAMPLE_EVENTS))
    with sqlite3.connect(data / "ledger.sqlite") as db:
        state = db.execute("SELECT state FROM stored_events WHERE rowid = 21").fetchone()[0]
        altered = state.replace(b'"citizen"', b'"citizeN"')
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = 21", (altered,))
    result = run(data, "verify")
    assert result.returncode == 1
    assert b"dossier d-0002 seq 1 at position 21" in result.stdout
    assert b"payload altered" in result.stdout


def test_record_with_an_idempotency_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run(data, "import", str(EXAMPLE_EVENTS))
    action = b'{"type": "dossier.rated", "id": "d-0003", "at": "2026-10-28T09:00:00+07:00",' \
             b' "data": {"satisfied": false}}'
    first = run(data, "record", "-", "--idempotency-key", "one-stop/42", stdin=action)
    second = run(data, "record", "-", "--idempotency-key", "one-stop/42", stdin=action)
    assert first.returncode == second.returncode == 0
    assert orjson.loads(first.stdout)["hash"] == orjson.loads(second.stdout)["hash"]
    assert len(run(data, "export").stdout.splitlines()) == 31
