"""The two meanings of a moment, the same in every command: ``--as-of T`` is what had
happened by T (events whose ``at`` ≤ T), ``--as-recorded T`` what the ledger knew at T (the
log up to its last event recorded by T). A dossier's resolution that happened on 9 October
but was imported on 1 November counts as of 11 October, not as recorded on 11 October."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
import pytest

from ledger.application import DossierLedger
from ledger.config import StoreConfig
from ledger.transfer import import_lines
from tests.conftest import EXAMPLE_EVENTS, FrozenClock
from tests.e2e.test_cli_roundtrip import run

FIRST = datetime.fromisoformat("2026-10-10T00:00:00+07:00")
LATER = datetime.fromisoformat("2026-11-01T00:00:00+07:00")
BETWEEN = "2026-10-11T00:00:00+07:00"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("moments")
    lines = EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True)
    clock = FrozenClock(FIRST)
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data / "ledger.sqlite"),
                           clock=clock)
    import_lines(ledger, lines[:16])  # d-0001 up to its fee, recorded on 10 October
    clock.now = LATER
    import_lines(ledger, lines[16:])  # its resolution (9 October) and the rest, on 1 November
    ledger.close()
    return data


def json_of(data: Path, *args: str) -> dict:
    result = run(data, *args, "--json")
    assert result.returncode == 0, result.stderr.decode()
    parsed: dict = orjson.loads(result.stdout)
    return parsed


def test_history_as_recorded_shows_what_the_ledger_knew_then(data_dir: Path) -> None:
    known = json_of(data_dir, "history", "d-0001", "--as-recorded", BETWEEN)
    happened = json_of(data_dir, "history", "d-0001", "--as-of", BETWEEN)
    assert [e["seq"] for e in known["events"]] == list(range(1, 10))
    assert [e["seq"] for e in happened["events"]] == list(range(1, 11))
    assert happened["events"][-1]["type"] == "dossier.resolved"
    assert known["state"] != happened["state"]


def test_scores_as_of_and_as_recorded_differ_by_the_late_import(data_dir: Path) -> None:
    def received(*moment: str) -> int:
        score = json_of(data_dir, "score", "--unit", "22.SXD", "-p", "2026-10", *moment)
        (synced,) = [i for g in score["groups"] for i in g["indicators"] if i["code"] == "1.4"]
        return int(synced["denominator"])

    assert received("--as-recorded", BETWEEN) == 1  # d-0003 was imported later
    assert received("--as-of", BETWEEN) == 2
    ranked = orjson.loads(run(data_dir, "rank", "-p", "2026-10", "--as-recorded", BETWEEN,
                              "--json").stdout)
    assert len(ranked) == 34


def test_both_moments_at_once_are_refused_in_one_line(data_dir: Path) -> None:
    for command in (["history", "d-0001"], ["score", "--unit", "22", "-p", "2026-10"],
                    ["rank", "-p", "2026-10"], ["explain", "--unit", "22", "-p", "2026-10",
                                                "-i", "2.1"]):
        result = run(data_dir, *command, "--as-of", BETWEEN, "--as-recorded", BETWEEN)
        assert result.returncode == 2
        assert b"not both" in result.stderr and b"Traceback" not in result.stderr


def test_a_moment_before_anything_was_recorded_says_so(data_dir: Path) -> None:
    result = run(data_dir, "score", "--unit", "22", "-p", "2026-10", "--as-recorded",
                 "2026-09-01")
    assert result.returncode == 2 and b"recorded nothing by" in result.stderr


def test_a_truncated_ledger_file_fails_verification_in_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(data, "import", str(EXAMPLE_EVENTS)).returncode == 0
    path = data / "ledger.sqlite"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    for leftover in data.glob("ledger.sqlite-*"):
        leftover.unlink()
    result = run(data, "verify")
    assert result.returncode == 1
    assert result.stdout.decode().startswith("FAILED") and b"Traceback" not in result.stderr
