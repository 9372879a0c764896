"""Scoring commands: a unit's 766 score, rankings among peers, and the items behind a cell."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from app.console import fail, parse_moment
from domain.units import UnitError, UnitKind
from projections.engine import ScoringEngine
from projections.periods import InvalidPeriod, Period, parse_period
from projections.rulebook import DEFAULT_RULEBOOK, Rulebook, RulebookError, load_rulebook
from projections.scores import UnitScore, display_round

console = Console(stderr=True)
out = Console()


def register(cli: typer.Typer) -> None:
    cli.command("score")(score_cmd)
    cli.command("rank")(rank_cmd)
    cli.command("explain")(explain_cmd)


PeriodOption = Annotated[str, typer.Option(
    "--period", "-p", help="month 2026-10, quarter 2026-Q4 or year 2026 (local time)")]
AsOfOption = Annotated[str | None, typer.Option(
    "--as-of", help="evaluation moment (RFC 3339 or a date); default: now")]
RulebookOption = Annotated[str, typer.Option(
    "--rulebook", "-r", help="rulebook id (vn-766, vn-766-online12)")]


def score_cmd(
    unit: Annotated[str, typer.Option("--unit", "-u", help="unit code: 22, 07090, 22.SXD")],
    period: PeriodOption,
    as_of: AsOfOption = None,
    rulebook: RulebookOption = DEFAULT_RULEBOOK,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Điểm Bộ chỉ số 766 của một đơn vị: a unit's score for a period, with its rank."""
    book, span, moment = _inputs(rulebook, period, as_of)
    engine = _engine(book)
    _check_unit(engine, unit)
    score = engine.score(unit, span, moment, book.id)
    if as_json:
        out.print_json(orjson.dumps(score.to_json()).decode())
        return
    out.print(_score_table(score))


def rank_cmd(
    period: PeriodOption,
    kind: Annotated[str, typer.Option("--kind", "-k", help="province, department or commune")]
    = "province",
    province: Annotated[str | None, typer.Option(
        "--province", help="only the departments or communes of this province")] = None,
    as_of: AsOfOption = None,
    rulebook: RulebookOption = DEFAULT_RULEBOOK,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = False,
) -> None:
    """Xếp hạng: scores of every unit of a kind, ranked among their peers."""
    if kind not in {k.value for k in UnitKind}:
        fail(f"unknown unit kind {kind!r} (use one of: {', '.join(k.value for k in UnitKind)})")
    if as_json and as_csv:
        fail("choose one of --json and --csv")
    book, span, moment = _inputs(rulebook, period, as_of)
    engine = _engine(book)
    if province is not None:
        _check_unit(engine, province)
    scores = engine.rank(kind, span, moment, book.id, province=province)
    if as_json:
        out.print_json(orjson.dumps([s.to_json() for s in scores]).decode())
    elif as_csv:
        print(_rank_csv(scores, book), end="")
    else:
        out.print(_rank_table(scores, book, span))


def explain_cmd(
    unit: Annotated[str, typer.Option("--unit", "-u", help="unit code")],
    period: PeriodOption,
    indicator: Annotated[str, typer.Option("--indicator", "-i", help="indicator code, e.g. 2.1")],
    as_of: AsOfOption = None,
    rulebook: RulebookOption = DEFAULT_RULEBOOK,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Giải trình: the dossiers, procedures or petitions behind one indicator's counts."""
    book, span, moment = _inputs(rulebook, period, as_of)
    try:
        book.indicator(indicator)
    except RulebookError as error:
        fail(str(error))
    engine = _engine(book)
    _check_unit(engine, unit)
    explanation = engine.explain(unit, span, indicator, moment, book.id)
    if as_json:
        out.print_json(orjson.dumps(explanation.to_json()).decode())
        return
    table = Table(title=f"{explanation.indicator} {explanation.name} — {unit}, {span.key}: "
                  f"{explanation.numerator}/{explanation.denominator}")
    for column in ("Loại", "Mã", "Tử số", "Lý do"):
        table.add_column(column)
    for entry in explanation.entries:
        table.add_row(entry.kind, entry.item, "✓" if entry.numerator else "✗", entry.reason)
    out.print(table)


def _inputs(rulebook: str, period: str, as_of: str | None) -> tuple[Rulebook, Period, datetime]:
    try:
        book = load_rulebook(rulebook)
    except RulebookError as error:
        fail(str(error))
    try:
        span = parse_period(period)
    except InvalidPeriod as error:
        fail(str(error))
    return book, span, parse_moment(as_of)


def _engine(book: Rulebook) -> ScoringEngine:
    from app.wiring import open_ledger_from_settings

    engine = ScoringEngine([book])
    ledger: Any = open_ledger_from_settings()
    try:
        with console.status("Đang đọc sổ cái…"):
            for envelope in ledger.read_envelopes():
                engine.apply(envelope)
            engine.flush()
    finally:
        close = getattr(ledger, "close", None)
        if close is not None:
            close()
    return engine


def _check_unit(engine: ScoringEngine, unit: str) -> None:
    try:
        engine.facts.units.get(unit)
    except UnitError as error:
        fail(str(error))


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{display_round(value):.{digits}f}" if digits == 2 else f"{value:.{digits}f}"


def _score_table(score: UnitScore) -> Table:
    rank = "—" if score.rank is None else str(score.rank)
    table = Table(title=f"{score.unit_name} ({score.unit}) — kỳ {score.period}, "
                  f"tính đến {score.evaluated_at:%Y-%m-%d %H:%M}",
                  caption=f"Tổng điểm {_fmt(score.total)}/100 · {score.band} · hạng {rank} · "
                  f"{score.rulebook_id}@{score.rulebook_version}")
    for column, justify in (("Mã", "left"), ("Nhóm / chỉ số", "left"), ("Tử số", "right"),
                            ("Mẫu số", "right"), ("Tỷ lệ", "right"), ("Điểm", "right"),
                            ("Tối đa", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for group in score.groups:
        table.add_row(group.code, f"[bold]{group.name}[/bold]", "", "", "",
                      f"[bold]{_fmt(group.points)}[/bold]", _fmt(group.max))
        for i in group.indicators:
            if not i.applicable:
                table.add_row(i.code, f"  {i.name}", "—", "—", "không áp dụng", "—", _fmt(i.max))
                continue
            table.add_row(i.code, f"  {i.name}", str(i.numerator), str(i.denominator),
                          "—" if i.ratio is None else f"{i.ratio:.1%}", _fmt(i.points),
                          _fmt(i.max))
    return table


def _rank_table(scores: list[UnitScore], book: Rulebook, span: Period) -> Table:
    table = Table(title=f"Xếp hạng kỳ {span.key} — {book.name}")
    for column in ("Hạng", "Mã", "Đơn vị", "Tổng điểm", "Xếp loại",
                   *(g.code for g in book.groups)):
        table.add_column(column)
    for s in scores:
        table.add_row("—" if s.rank is None else str(s.rank), s.unit, s.unit_name,
                      _fmt(s.total), s.band, *(_fmt(g.points) for g in s.groups))
    return table


def _rank_csv(scores: list[UnitScore], book: Rulebook) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["unit", "name", "rank", "total", "band", *(g.code for g in book.groups)])
    for s in scores:
        writer.writerow([s.unit, s.unit_name, "" if s.rank is None else s.rank,
                         _fmt(s.total), s.band, *(_fmt(g.points) for g in s.groups)])
    return buffer.getvalue()
