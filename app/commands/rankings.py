"""How a ranking is shown, the same for ``rank`` (computed from the ledger) and ``live-rank``
(as stored in ClickHouse): a table that fits the terminal with the groups spelled out under it,
JSON (``UnitScore.to_json()`` objects) or CSV. Rows are those JSON objects."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from rich.cells import cell_len

from app.commands.labels import kind_label
from app.console import Col, fail, fitted_table, local_time, out
from domain.units import UnitKind, builtin_units
from projections.periods import InvalidPeriod, Period, parse_period
from projections.rulebook import Rulebook, RulebookError, load_rulebook
from projections.scores import display_round

GROUP_NAMES = {
    "G1": "Công khai, minh bạch",
    "G2": "Tiến độ giải quyết",
    "G3a": "Dịch vụ công trực tuyến",
    "G3b": "Thanh toán trực tuyến",
    "G4": "Số hóa hồ sơ",
    "G5": "Mức độ hài lòng",
}
"""The groups of Decision 766 (a rulebook's own names win where it has them)."""

RANKED_KINDS = tuple(k.value for k in UnitKind)


def check_ranking_options(kind: str, province: str | None, as_json: bool, as_csv: bool
                          ) -> None:
    """Exit 2 on an unknown kind, a --province that is no province, or --json with --csv."""
    if kind not in RANKED_KINDS:
        fail(f"unknown unit kind {kind!r} (use one of: {', '.join(RANKED_KINDS)})")
    if as_json and as_csv:
        fail("choose one of --json and --csv")
    if province is not None:
        found = builtin_units().get(province)
        if found is None or found.kind is not UnitKind.PROVINCE:
            fail(f"--province {province!r} is not a province code (the official 2-digit "
                 "codes, e.g. 22 for Quảng Ninh)")


def rulebook_and_period(rulebook: str, period: str) -> tuple[Rulebook, Period]:
    """The rulebook and period options, checked (exit 2 naming what is wrong)."""
    try:
        book = load_rulebook(rulebook)
    except RulebookError as error:
        fail(str(error))
    try:
        span = parse_period(period)
    except InvalidPeriod as error:
        fail(str(error))
    return book, span


def points(value: float | None) -> str:
    """Points as shown and ranked: half up to 2 decimals, always whole ("20.00")."""
    return "—" if value is None else f"{display_round(value):.2f}"


def groups_of(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """The (code, name) of the groups the rows are scored on, in order."""
    if not rows:
        return []
    return [(g["code"], GROUP_NAMES.get(g["code"], g["name"])) for g in rows[0]["groups"]]


def print_ranking(rows: Sequence[dict[str, Any]], *, title: str, caption: str | None = None,
                  province: str | None = None) -> None:
    """The ranking table on standard output, the groups spelled out under it (units of one
    ``province`` named without it: the title names it)."""
    groups = groups_of(rows)
    columns = [Col("Hạng", numeric=True), Col("Mã", whole=True, drop=2),
               Col("Đơn vị", fold_to=12), Col("Điểm", numeric=True),
               Col("Xếp loại", fold_to=5, drop=1),
               *(Col(code, numeric=True) for code, _ in groups)]
    cells = [["—" if row["rank"] is None else str(row["rank"]), row["unit"],
              _within(row["unit_name"], province),
              points(row["total"]), row["band"], *(points(g["points"]) for g in row["groups"])]
             for row in rows]
    out.print(fitted_table(columns, cells, title=title, caption=caption))
    for line in legend(groups, out.width):
        out.print(line, highlight=False, soft_wrap=True)


def _within(name: str, province: str | None) -> str:
    """``Sở Xây dựng tỉnh Quảng Ninh`` → ``Sở Xây dựng`` in a ranking of Quảng Ninh's units."""
    if province is None:
        return name
    full = builtin_units()[province].name  # "Quảng Ninh", "Thành phố Hà Nội"
    short = full.removeprefix("Thành phố ")
    for suffix in (f" tỉnh {short}", f" thành phố {short}", f" {full}", f" {short}"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def legend(groups: Sequence[tuple[str, str]], width: int) -> list[str]:
    """``Nhóm: G1 Công khai, minh bạch · G2 …`` in lines no wider than ``width``."""
    lines: list[str] = []
    line = "Nhóm:"
    for code, name in groups:
        entry = f"{code} {name}"
        joined = f"{line} {entry}" if line == "Nhóm:" else f"{line} · {entry}"
        if cell_len(joined) > width and line.strip() != "Nhóm:":
            lines.append(line)
            line = f"      {entry}"
        else:
            line = joined
    lines.append(line)
    return lines


def ranking_title(kind: str, period: str, moment: datetime | None, province: str | None,
                  heading: str = "Xếp hạng") -> str:
    where = "" if province is None else f" thuộc {builtin_units()[province].name}"
    when = "" if moment is None else f", tính đến {local_time(moment, seconds=True)}"
    return f"{heading} {kind_label(kind)}{where} — kỳ {period}{when}"


def print_ranking_json(rows: Sequence[dict[str, Any]]) -> None:
    """The rows as indented JSON: highlighted on a terminal; written as they are when piped
    (rich's highlighting takes minutes over every commune's scores)."""
    text = orjson.dumps(list(rows), option=orjson.OPT_INDENT_2).decode()
    if out.is_terminal:
        out.print_json(text)
    else:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def ranking_csv(rows: Sequence[dict[str, Any]], extra: Sequence[str] = ()) -> str:
    """``unit,name,rank,total,band,G1,…`` and then the ``extra`` keys of each row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    groups = [code for code, _ in groups_of(rows)]
    writer.writerow(["unit", "name", "rank", "total", "band", *groups, *extra])
    for row in rows:
        writer.writerow([row["unit"], row["unit_name"],
                         "" if row["rank"] is None else row["rank"], points(row["total"]),
                         row["band"], *(points(g["points"]) for g in row["groups"]),
                         *(row[key] for key in extra)])
    return buffer.getvalue()


def nothing_to_rank(kind: str, period: str, province: str | None, where: str) -> None:
    """Exit 2: no unit of ``kind`` (in ``province``) has a score for ``period`` ``where``."""
    scope = "" if province is None else f" in province {province}"
    fail(f"no {kind} is ranked for {period}{scope} {where}")
