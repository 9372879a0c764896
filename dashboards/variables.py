"""Template variables shared by the dashboards (rulebook, period, province, unit kind …) and
the links between dashboards."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as build
from grafana_foundation_sdk.models import dashboard as model

from dashboards.query import datasource_ref
from projections.clickhouse import schema

NATIONAL_UID = "dossier-national"
PROVINCE_UID = "dossier-province"
AUDIT_UID = "dossier-audit"
PIPELINE_UID = "dossier-pipeline"


def _query(name: str, label: str, description: str, sql: str,
           sort: model.VariableSort = model.VariableSort.ALPHABETICAL_ASC
           ) -> build.QueryVariable:
    return (build.QueryVariable(name).label(label).description(description)
            .datasource(datasource_ref()).query(sql)
            .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD).sort(sort))


def rulebook() -> build.QueryVariable:
    return _query("rulebook", "Bộ chỉ số", "Rulebook (scoring rules) the scores follow",
                  f"SELECT DISTINCT rulebook_id FROM {schema.RANKINGS} ORDER BY rulebook_id")


def period() -> build.QueryVariable:
    return _query("period", "Kỳ đánh giá",
                  "Scoring period: a month (2026-10), a quarter (2026-Q4) or a year",
                  f"SELECT DISTINCT period FROM {schema.RANKINGS} "
                  "WHERE rulebook_id = '${rulebook}' ORDER BY period DESC",
                  model.VariableSort.DISABLED)


def province() -> build.QueryVariable:
    return _query("province", "Tỉnh, thành phố", "Province code (22 is Quảng Ninh)",
                  f"SELECT DISTINCT unit FROM {schema.RANKINGS} "
                  "WHERE rulebook_id = '${rulebook}' AND kind = 'province' ORDER BY unit")


def unit_kind() -> build.CustomVariable:
    return (build.CustomVariable("kind").label("Cấp đơn vị")
            .description("Kind of unit listed per unit: departments (sở, ngành) or communes "
                         "(xã, phường)")
            .values("department,commune")
            .current(model.VariableOption(selected=True, text="department",
                                          value="department")))


def indicator() -> build.QueryVariable:
    return _query("indicator", "Chỉ số / nhóm",
                  "An indicator (2.1) or a group of indicators (G2) of the rulebook",
                  f"SELECT DISTINCT arrayJoin(indicators) FROM {schema.SCORE_HISTORY} "
                  "WHERE rulebook_id = '${rulebook}' UNION ALL "
                  "SELECT DISTINCT toString(arrayJoin(group_codes)) "
                  f"FROM {schema.SCORE_HISTORY} WHERE rulebook_id = '${{rulebook}}'")


def text(name: str, label: str, description: str, default: str) -> build.TextBoxVariable:
    return (build.TextBoxVariable(name).label(label).description(description)
            .default_value(default)
            .current(model.VariableOption(selected=True, text=default, value=default)))


# -- drill-down links (Grafana data links; ``${__data.fields.X}`` is the row's X) -----------

KEEP = "&var-rulebook=${rulebook}&var-period=${period}&${__url_time_range}"


def to_province(field: str = "unit") -> str:
    return f"/d/{PROVINCE_UID}/tinh?var-province=${{__data.fields.{field}}}{KEEP}"


def to_audit_score(indicator_code: str, unit_field: str = "unit") -> str:
    """The audit dashboard's score history of the row's unit for ``indicator_code``
    (a fixed code, or ``${__data.fields.indicator}``)."""
    return (f"/d/{AUDIT_UID}/kiem-toan?var-unit=${{__data.fields.{unit_field}}}"
            f"&var-indicator={indicator_code}{KEEP}")


def to_timeline(field: str = "code") -> str:
    return (f"/d/{AUDIT_UID}/kiem-toan?var-code=${{__data.fields.{field}}}"
            f"&var-rulebook=${{rulebook}}&${{__url_time_range}}")
