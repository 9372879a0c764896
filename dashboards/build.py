"""Every dashboard and the alert rules as JSON files: same code, same bytes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard as build
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.alerts import provisioning_file
from dashboards.audit import audit_dashboard
from dashboards.national import national_dashboard
from dashboards.pipeline import pipeline_dashboard
from dashboards.province import province_dashboard

DASHBOARDS: tuple[tuple[str, Callable[[], build.Dashboard]], ...] = (
    ("national", national_dashboard), ("province", province_dashboard),
    ("audit", audit_dashboard), ("pipeline", pipeline_dashboard))
ALERTS_FILE = "alerting/dossier-alerts.json"
DASHBOARD_DIR = "dashboards"


def dashboard_json(make: Callable[[], build.Dashboard]) -> dict[str, Any]:
    """A dashboard as Grafana stores it (panel ids numbered in order)."""
    model = make().build()
    data: dict[str, Any] = json.loads(json.dumps(model, cls=JSONEncoder))
    for number, panel in enumerate(data.get("panels", []), start=1):
        panel["id"] = number
    data["schemaVersion"] = 41
    return data


def encode(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def all_files() -> dict[str, bytes]:
    """Relative path → bytes of every generated file."""
    files = {f"{DASHBOARD_DIR}/{name}.json": encode(dashboard_json(make))
             for name, make in DASHBOARDS}
    files[ALERTS_FILE] = encode(provisioning_file())
    return files


def write(directory: Path) -> list[Path]:
    """Write the files under ``directory``; returns their paths."""
    written = []
    for relative, content in all_files().items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(path)
    return written
