"""The main job: `dossier demo --headless` on a fresh data directory ranks every province."""

from __future__ import annotations

import orjson

from tests.e2e.test_cli_roundtrip import run


def test_demo_ranks_all_34_provinces_and_a_second_run_continues(tmp_path) -> None:
    data = tmp_path / "data"
    first = run(data, "demo", "--headless", "--days", "1", "--speed", "0")
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    ranking = orjson.loads(first.stdout)
    assert len(ranking) == 34
    assert [r["rank"] for r in ranking] == sorted(r["rank"] for r in ranking)
    assert all(r["rank"] is not None and r["kind"] == "province" for r in ranking)
    assert len({round(r["total"], 2) for r in ranking}) > 10, "the ranking should spread"

    second = run(data, "demo", "--headless", "--days", "1", "--speed", "0")
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    assert len(orjson.loads(second.stdout)) == 34
    assert run(data, "verify").returncode == 0
