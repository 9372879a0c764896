"""A newcomer's first hour, as far as it can be automated: a fresh clone of the repository
alone, the README's two commands as make knows them, then every documented command on the
example ledger from the clone's own folder — and the wrong turns a newcomer takes on the
way (commands before the tables exist, a mistyped data directory, both moments at once)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-10-31T12:00:00+07:00"  # fixed: nothing depends on the day the suite runs


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    target = tmp_path_factory.mktemp("newcomer") / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True)
    return target


def dossier(clone: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The clone's own code (not the installed copy), as `dossier` from the clone's folder."""
    env = os.environ | {"DOSSIER_DATA_DIR": str(data), "PYTHONPATH": str(clone),
                        "COLUMNS": "80"}
    for name in ("DOSSIER_PG_DSN", "DOSSIER_STORE", "DOSSIER_CLICKHOUSE_URL"):
        env.pop(name, None)
    return subprocess.run([sys.executable, "-c", "from app.cli import main; main()", *args],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=300)


def test_the_clone_stands_alone_and_make_knows_both_commands(clone: Path) -> None:
    assert (clone / "tests" / "fixtures" / "example-events.jsonl").is_file()
    assert (clone / "docs" / "events.md").is_file() and (clone / "docs" / "index.md").is_file()
    for target in ("demo", "test"):
        plan = subprocess.run(["make", "-n", target], cwd=clone, capture_output=True,
                              text=True, check=True).stdout
        assert "pip install" in plan and ".venv" in plan
    assert "dossier demo --fresh" in subprocess.run(
        ["make", "-n", "demo"], cwd=clone, capture_output=True, text=True).stdout
    readme = (clone / "README.md").read_text(encoding="utf-8")
    assert readme.index("make demo") < readme.index("make test") < 400


def test_every_documented_command_and_the_wrong_turns_on_the_way(clone: Path,
                                                                  tmp_path: Path) -> None:
    data = tmp_path / "data"
    example = str(clone / "tests" / "fixtures" / "example-events.jsonl")

    def ok(*args: str) -> str:
        result = dossier(clone, data, *args)
        assert result.returncode == 0, f"dossier {' '.join(args)}:\n{result.stderr[-1500:]}"
        assert "Traceback" not in result.stderr + result.stdout
        return result.stdout

    def refused(*args: str, code: int = 2, says: str = "") -> None:
        result = dossier(clone, data, *args)
        assert result.returncode == code, f"dossier {' '.join(args)}: {result.returncode}"
        assert "Traceback" not in result.stderr + result.stdout
        assert says in " ".join(result.stderr.split()), result.stderr

    # the wrong turns before anything exists
    refused("rank", "-p", "2026-10", says="no data directory")
    refused("verify", says="no data directory")
    assert not data.exists(), "a reading command created the data directory"
    ok("import", example)
    refused("live-rank", "-p", "2026-10", says="no live tables yet")
    refused("verify", "--scores", says="no live tables yet")
    refused("score", "-u", "22", "-p", "2026-10", "--as-of", AS_OF, "--as-recorded", AS_OF,
            says="not both")
    refused("import", example.replace("example-events", "no-such-file"))

    # every documented command
    assert ok("verify").startswith("OK:")
    exported = ok("export").splitlines()
    assert len(exported) == 30 and all(orjson.loads(line)["hash"] for line in exported)
    assert "d-0001" in ok("history", "d-0001", "--as-of", AS_OF)
    assert orjson.loads(ok("score", "-u", "22", "-p", "2026-10", "--as-of", AS_OF, "--json")
                        )["unit"] == "22"
    assert len(orjson.loads(ok("rank", "-p", "2026-10", "--as-of", AS_OF, "--json"))) == 34
    assert ok("rank", "-p", "2026-10", "--as-of", AS_OF, "--csv").startswith("unit,")
    ok("explain", "-u", "22.SXD", "-p", "2026-10", "-i", "2.1", "--as-of", AS_OF)
    ok("follow", "--once", "--quiet", "--as-of", AS_OF)
    assert len(orjson.loads(ok("live-rank", "-p", "2026-10", "--json"))) == 34
    assert "OK:" in ok("verify", "--scores")
    ok("replay")
    ok("replay", "--as-of", "2026-10-10")
    assert len(orjson.loads(ok("live-rank", "-p", "2026-10", "--as-of", "2026-10-10",
                               "--json"))) == 34
    assert len(orjson.loads(ok("replay", "--list", "--json"))) == 1
    ok("replay", "--remove", "--as-of", "2026-10-10")
    assert orjson.loads(ok("replay", "--list", "--json")) == []
    assert "Usage" in ok("--help")
