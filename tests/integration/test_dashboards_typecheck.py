"""Each generated dashboard type-checks against Grafana's own TypeScript schema
(@grafana/schema from npm, installed by ``make setup`` under tests/typecheck) with
``tsc --noEmit --strict`` on ``<dashboard JSON> satisfies Dashboard``.

Two adaptations, both of the JSON's spelling and not its content: string values of the
schema's TypeScript string enums are written as the enum's members (a string literal is not
assignable to a TypeScript enum), and the interval-variable fields the SDK writes on every
template variable (``auto``, ``auto_count``, ``auto_min``, which Grafana ignores elsewhere)
are left out, because the schema's VariableModel does not declare them."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dashboards.build import DASHBOARDS, dashboard_json
from tests.conftest import skip_or_fail

TYPECHECK = Path(__file__).resolve().parents[1] / "typecheck"
SCHEMA = TYPECHECK / "node_modules" / "@grafana" / "schema" / "dist" / "types" / "index.d.ts"
TSC = TYPECHECK / "node_modules" / "typescript" / "bin" / "tsc"
# (parent key, key) → the string enum its value belongs to, with each value's member.
ENUMS: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
    ("thresholds", "mode"): ("ThresholdsMode", {"absolute": "Absolute",
                                                "percentage": "Percentage"}),
    ("color", "mode"): ("FieldColorModeId", {"thresholds": "Thresholds",
                                             "palette-classic": "PaletteClassic",
                                             "fixed": "Fixed"}),
}
SDK_ONLY_VARIABLE_FIELDS = ("auto", "auto_count", "auto_min")


def typescript(value: Any, parent: str = "", key: str = "") -> str:
    """``value`` as a TypeScript literal, enum-typed strings as enum members."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {typescript(v, key, k)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(typescript(v, parent, key) for v in value) + "]"
    if isinstance(value, str) and (parent, key) in ENUMS:
        enum, members = ENUMS[(parent, key)]
        return f"{enum}.{members[value]}"
    return json.dumps(value, ensure_ascii=False)


def source(name: str, dashboard: dict[str, Any]) -> str:
    for variable in dashboard.get("templating", {}).get("list", []):
        for field in SDK_ONLY_VARIABLE_FIELDS:
            variable.pop(field, None)
    enums = sorted({enum for enum, _ in ENUMS.values()})
    return (f"import {{ type Dashboard, {', '.join(enums)} }} from '@grafana/schema';\n"
            f"export const {name} = {typescript(dashboard)} satisfies Dashboard;\n")


def tsc(directory: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    """``tsc --noEmit --strict`` on ``files`` in ``directory``."""
    if shutil.which("node") is None or not TSC.exists() or not SCHEMA.exists():
        skip_or_fail("node and tests/typecheck/node_modules are needed (make setup)")
    (directory / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "target": "es2022",
                            "module": "esnext", "moduleResolution": "bundler",
                            "skipLibCheck": True,
                            "paths": {"@grafana/schema": [str(SCHEMA)]}},
        "files": files}), encoding="utf-8")
    return subprocess.run(["node", str(TSC), "-p", str(directory)], capture_output=True,
                          text=True, timeout=300)


def test_every_dashboard_satisfies_the_grafana_schema(tmp_path: Path) -> None:
    for name, make in DASHBOARDS:
        (tmp_path / f"{name}.ts").write_text(source(name, dashboard_json(make)),
                                             encoding="utf-8")
    result = tsc(tmp_path, [f"{name}.ts" for name, _ in DASHBOARDS])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_the_check_fails_on_a_field_the_schema_lacks(tmp_path: Path) -> None:
    dashboard = dashboard_json(DASHBOARDS[0][1])
    dashboard["panels"][0]["gridPos"]["width"] = 3
    (tmp_path / "bad.ts").write_text(source("bad", dashboard), encoding="utf-8")
    result = tsc(tmp_path, ["bad.ts"])
    assert result.returncode != 0
    assert "'\"width\"' does not exist in type 'GridPos'" in result.stdout


pytestmark = pytest.mark.slow
