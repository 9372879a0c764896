"""deploy/: the compose file against the Compose specification's JSON schema, the Kubernetes
manifests against the Kubernetes JSON schemas (kubernetes-validate), every image pinned, and
the Grafana provisioning consistent with the generated dashboards and the ClickHouse user.
No Docker engine, cluster or Grafana runs here: these files are checked, not started."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import check_jsonschema
import jsonschema
import kubernetes_validate
import pytest
import yaml

from dashboards.alerts import FOLDER_UID
from dashboards.query import DATASOURCE_UID, PLUGIN

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PINNED = re.compile(r"^[\w./-]+:(?!latest$)[\w.-]*\d[\w.-]*$")
MANIFESTS = sorted((DEPLOY / "k8s").glob("*.yaml"))


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    data: dict[str, Any] = load(DEPLOY / "compose.yaml")
    return data


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def test_compose_file_follows_the_compose_specification() -> None:
    schema_path = (Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" /
                   "compose-spec.json")
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    # its $schema names draft 07 by an address jsonschema does not list (https, no "#")
    validator = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft7Validator)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose())]
    assert errors == []


def test_compose_runs_the_whole_distributed_stack() -> None:
    services = compose()["services"]
    assert {"postgres", "kafka", "clickhouse", "grafana", "follower", "api", "relay",
            "worker"} <= set(services)
    commands = {name: services[name]["command"][:2] for name in
                ("follower", "api", "relay", "worker")}
    assert commands == {"follower": ["follow", "--quiet"], "api": ["serve", "--host"],
                        "relay": ["stream", "relay"], "worker": ["stream", "worker"]}
    kafka = services["kafka"]["environment"]
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert PLUGIN in services["grafana"]["environment"]["GF_INSTALL_PLUGINS"]


def images(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["image"]] if isinstance(node.get("image"), str) else []
        return found + [i for value in node.values() for i in images(value)]
    if isinstance(node, list):
        return [i for value in node for i in images(value)]
    return []


def test_every_image_is_pinned_to_a_version() -> None:
    named = images(compose()) + [i for p in MANIFESTS for d in documents(p)
                                 for i in images(d)]
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    named += re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert len(named) > 10
    assert [i for i in named if not PINNED.match(i)] == []


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_kubernetes_manifests_follow_the_kubernetes_schemas(path: Path) -> None:
    version = kubernetes_validate.latest_version()
    for document in documents(path):
        kubernetes_validate.validate(document, version, strict=True)
        if document["kind"] != "Namespace":
            assert document["metadata"]["namespace"] == "dossier-ledger"


def test_kustomization_names_files_that_exist() -> None:
    kustomization = load(DEPLOY / "kustomization.yaml")
    named = kustomization["resources"] + [
        f for generator in kustomization["configMapGenerator"] for f in generator["files"]]
    assert [f for f in named if not (DEPLOY / f).is_file()] == []
    generated = {str(p.relative_to(DEPLOY)) for p in
                 (DEPLOY / "grafana" / "generated").rglob("*.json")}
    assert generated <= set(named)


def test_grafana_provisioning_matches_the_dashboards_and_the_read_only_user() -> None:
    source = load(DEPLOY / "grafana/provisioning/datasources/clickhouse.yaml")["datasources"][0]
    assert (source["uid"], source["type"]) == (DATASOURCE_UID, PLUGIN)
    users = (DEPLOY / "clickhouse/users.d/grafana_reader.xml").read_text(encoding="utf-8")
    assert f"<{source['jsonData']['username']}>" in users
    provider = load(DEPLOY / "grafana/provisioning/dashboards/dossier.yaml")["providers"][0]
    assert provider["folderUid"] == FOLDER_UID
    mounts = compose()["services"]["grafana"]["volumes"]
    assert f"./grafana/generated/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./grafana/generated/alerting:/etc/grafana/provisioning/alerting:ro" in mounts
