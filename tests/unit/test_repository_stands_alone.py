"""The repository stands alone: no tracked file names a path outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# A sibling folder of the checkout, or an absolute path of a developer's machine.
SIBLING = ".." + "/shared"  # spelt in two parts, so that this file does not name it
OUTSIDE = re.compile(re.escape(SIBLING) + r"|(?<![\w.])/(?:work|root|home|Users)/[\w.-]+")


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                                check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: nothing tracked to check")
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_no_tracked_file_names_a_path_outside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:80]}")
    assert not offenders, "paths outside the repository:\n" + "\n".join(offenders)


def test_the_pattern_catches_what_it_is_for() -> None:
    assert OUTSIDE.search(f"see {SIBLING}/spec/events.md")
    assert OUTSIDE.search("Anchors (see /" + "work/shared/background)")
    assert OUTSIDE.search('open("/' + 'root/data.jsonl")')
    assert not OUTSIDE.search("docs/events.md and tests/fixtures/example-events.jsonl")
    assert not OUTSIDE.search("https://example.org/work/x")
