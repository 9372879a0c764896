"""``dossier keys create|list|revoke``: the key printed once, only its hash kept, a revoked
key refused by the store a running server reads."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.api.keys import KeyRefused, KeyStore

ROOT = Path(__file__).resolve().parents[2]


def dossier(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DOSSIER_DATA_DIR": str(data), "COLUMNS": "80",
                        "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", "from app.cli import main; main()", *args],
                          env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_create_list_revoke(tmp_path: Path) -> None:
    data = tmp_path / "data"
    created = dossier(data, "keys", "create", "--role", "agency", "--unit", "22.SXD",
                      "--expires", "2099-12-31", "--note", "một cửa")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("dk_") and "Traceback" not in created.stderr
    stored = (data / "api-keys.json").read_text()
    # the random part may itself hold "_" (URL-safe base64): split as the key store does
    assert secret not in stored and secret.split("_", 2)[2] not in stored
    key = KeyStore(data / "api-keys.json").authenticate(secret, datetime.now(UTC))
    assert key.role.value == "agency" and key.unit == "22.SXD"
    listed = dossier(data, "keys", "list")
    assert listed.returncode == 0 and key.key_id in listed.stdout
    assert all(len(line) <= 80 for line in listed.stdout.splitlines())
    assert dossier(data, "keys", "revoke", key.key_id).returncode == 0
    with pytest.raises(KeyRefused, match="revoked"):
        KeyStore(data / "api-keys.json").authenticate(secret, datetime.now(UTC))
    assert "thu hồi" in dossier(data, "keys", "list").stdout


def test_refusals_are_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for args in (("keys", "create", "--role", "agency"),
                 ("keys", "create", "--role", "boss"),
                 ("keys", "create", "--role", "admin", "--expires", "2001-01-01"),
                 ("keys", "revoke", "nope")):
        result = dossier(data, *args)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:"), \
            (args, result.stderr)
