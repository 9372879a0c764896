"""``dossier dashboards publish`` against a fake Grafana (tests/integration/fake_grafana.py,
which stands in for Grafana's HTTP API): what grafana-client sends, idempotence, errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from dashboards.alerts import FOLDER_UID, RULES
from dashboards.query import DATASOURCE_UID, PLUGIN
from tests.integration.fake_grafana import FakeGrafana, running
from tests.integration.test_clickhouse_live import ROOT

CLI = ("import sys, typer; from app.commands import dashboard_cmds; "
       "app = typer.Typer(pretty_exceptions_enable=False); dashboard_cmds.register(app); "
       "app(sys.argv[1:], prog_name='dossier')")
UIDS = {"dossier-national", "dossier-province", "dossier-audit", "dossier-pipeline"}


def publish(url: str, token: str = "good-token") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, "dashboards", "publish", "--url", url, "--token", token,
         "--ch-password", "s3cret", "--timeout", "5"],
        capture_output=True, text=True, timeout=120, cwd=ROOT)


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with running() as fake:
        yield fake


def test_first_publish_creates_source_folder_dashboards_and_rules(grafana: FakeGrafana
                                                                  ) -> None:
    result = publish(grafana.url)
    assert result.returncode == 0, result.stderr
    assert all(r.authorization == "Bearer good-token" for r in grafana.requests)
    writes = [(r.method, r.path) for r in grafana.writes()]
    assert writes == [("POST", "/api/datasources"), ("POST", "/api/folders"),
                      *[("POST", "/api/dashboards/db")] * 4,
                      *[("POST", "/api/v1/provisioning/alert-rules")] * 3]
    source = grafana.writes()[0].body
    assert source["type"] == PLUGIN and source["uid"] == DATASOURCE_UID
    assert source["jsonData"]["username"] == "grafana_reader"
    assert source["secureJsonData"] == {"password": "s3cret"}
    assert grafana.writes()[1].body == {"title": "Sổ cái hồ sơ (dossier ledger)",
                                        "uid": FOLDER_UID}
    posted = [r.body for r in grafana.writes()[2:6]]
    assert {p["dashboard"]["uid"] for p in posted} == UIDS
    assert all(p["folderUid"] == FOLDER_UID and p["overwrite"] for p in posted)
    rules = [r.body for r in grafana.writes()[6:]]
    assert [r["uid"] for r in rules] == [rule.uid for rule in RULES]
    assert all(r["folderUID"] == FOLDER_UID for r in rules)
    assert "9 created, 0 updated, 0 unchanged" in " ".join(result.stdout.split())


def test_a_second_publish_changes_nothing_and_says_so(grafana: FakeGrafana) -> None:
    assert publish(grafana.url).returncode == 0
    before = len(grafana.writes())
    again = publish(grafana.url)
    assert again.returncode == 0, again.stderr
    assert len(grafana.writes()) == before
    assert "nothing changed: all 9 objects" in " ".join(again.stdout.split())


def test_a_dashboard_edited_in_grafana_is_put_back_alone(grafana: FakeGrafana) -> None:
    assert publish(grafana.url).returncode == 0
    grafana.dashboards["dossier-audit"]["dashboard"]["title"] = "edited by hand"
    before = len(grafana.writes())
    again = publish(grafana.url)
    assert again.returncode == 0, again.stderr
    assert [(r.method, r.body["dashboard"]["uid"]) for r in grafana.writes()[before:]] == [
        ("POST", "dossier-audit")]
    assert "0 created, 1 updated, 8 unchanged" in " ".join(again.stdout.split())


def test_unreachable_grafana_is_one_clear_line() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = publish(f"http://127.0.0.1:{port}")
    assert result.returncode == 2
    assert f"Grafana is unreachable at http://127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_refused_token_is_named(grafana: FakeGrafana) -> None:
    result = publish(grafana.url, token="wrong")
    assert result.returncode == 2
    assert "refused the token (401)" in " ".join(result.stderr.split())
    assert grafana.writes() == []


def test_a_missing_clickhouse_plugin_is_named(grafana: FakeGrafana) -> None:
    grafana.plugins = []
    result = publish(grafana.url)
    assert result.returncode == 2
    assert f"plugin {PLUGIN} is not installed" in " ".join(result.stderr.split())
    assert grafana.writes() == []
