"""The main job: `dossier demo` on a fresh data directory ranks every province, at any hour
of any day (it replays the last five working days), and says why a second run right after
has nothing to add; `--fresh` starts it again."""

from __future__ import annotations

import orjson

from tests.e2e.test_cli_roundtrip import run


def test_demo_ranks_all_34_provinces_and_a_fresh_second_run_ranks_them_again(tmp_path) -> None:
    data = tmp_path / "data"
    first = run(data, "demo", "--headless", "--speed", "0", "--scale", "0.001", timeout=600)
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    ranking = orjson.loads(first.stdout)
    assert len(ranking) == 34
    assert [r["rank"] for r in ranking] == sorted(r["rank"] for r in ranking)
    assert all(r["rank"] is not None and r["kind"] == "province" for r in ranking)
    assert len({round(r["total"], 2) for r in ranking}) > 10, "the ranking should spread"
    summary = first.stderr.decode()
    assert "Traceback" not in summary and "live-rank -p" in summary
    assert (data / "DEMO").exists()

    again = run(data, "demo", "--headless", "--speed", "0", "--scale", "0.001", timeout=600)
    assert again.returncode == 1
    said = " ".join(again.stderr.decode().split())
    assert "already reaches now" in said and "demo --fresh" in said
    assert "Traceback" not in said

    fresh = run(data, "demo", "--headless", "--speed", "0", "--scale", "0.001", "--fresh",
                timeout=600)
    assert fresh.returncode == 0, fresh.stderr.decode()[-2000:]
    assert len(orjson.loads(fresh.stdout)) == 34
    assert run(data, "verify").returncode == 0


def test_fresh_refuses_a_directory_the_demo_did_not_make(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "ledger.sqlite").write_bytes(b"")
    refused = run(data, "demo", "--headless", "--fresh")
    assert refused.returncode == 2
    assert "not made by `dossier demo`" in " ".join(refused.stderr.decode().split())
    assert (data / "ledger.sqlite").exists()
