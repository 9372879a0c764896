"""Scoring commands: a unit's 766 score, rankings among peers, and the items behind a cell."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from app.commands.labels import kind_label
from app.commands.rankings import (
    check_ranking_options,
    nothing_to_rank,
    points,
    print_ranking,
    print_ranking_json,
    ranking_csv,
    ranking_title,
    rulebook_and_period,
)
from app.commands.stores import ledger_to_read
from app.console import (
    AsOfOption,
    AsRecordedOption,
    Col,
    err,
    fail,
    fitted_table,
    local_text,
    local_time,
    out,
    parse_moments,
    progress_bar,
    say,
)
from app.settings import Settings
from domain.units import UnitError
from projections.engine import Explanation, ScoringEngine
from projections.periods import Period, to_datetime, to_instant
from projections.rulebook import (
    DEFAULT_RULEBOOK,
    Indicator,
    Measure,
    Rulebook,
    RulebookError,
)
from projections.scores import UnitScore
from streams.snapshots import RUNNER_STATE, Snapshots, latest_usable


def register(cli: typer.Typer) -> None:
    cli.command("score")(score_cmd)
    cli.command("rank")(rank_cmd)
    cli.command("explain")(explain_cmd)


PeriodOption = Annotated[str, typer.Option(
    "--period", "-p", help="month 2026-10, quarter 2026-Q4 or year 2026 (local time)")]
RulebookOption = Annotated[str, typer.Option(
    "--rulebook", "-r", help="rulebook id (vn-766, vn-766-online12)")]
KindOption = Annotated[str, typer.Option(
    "--kind", "-k", help="province, department or commune")]
ProvinceOption = Annotated[str | None, typer.Option(
    "--province", help="only the departments or communes of this province")]
RecomputeOption = Annotated[bool, typer.Option(
    "--recompute", help="fold the whole ledger instead of starting from the live runner's "
    "latest snapshot (the auditors' independent path)")]


def score_cmd(
    unit: Annotated[str, typer.Option("--unit", "-u", help="unit code: 22, 07090, 22.SXD")],
    period: PeriodOption,
    as_of: AsOfOption = None,
    as_recorded: AsRecordedOption = None,
    rulebook: RulebookOption = DEFAULT_RULEBOOK,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    recompute: RecomputeOption = False,
) -> None:
    """Điểm Bộ chỉ số 766 của một đơn vị: a unit's score for a period, with its rank."""
    book, span, moment, recorded_by = _inputs(rulebook, period, as_of, as_recorded)
    engine = _engine(book, recorded_by, recompute)
    _check_unit(engine, unit)
    score = engine.score(unit, span, moment, book.id)
    if as_json:
        out.print_json(orjson.dumps(score.to_json()).decode())
        return
    out.print(_score_table(score))


def rank_cmd(
    period: PeriodOption,
    kind: KindOption = "province",
    province: ProvinceOption = None,
    as_of: AsOfOption = None,
    as_recorded: AsRecordedOption = None,
    rulebook: RulebookOption = DEFAULT_RULEBOOK,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = False,
    recompute: RecomputeOption = False,
) -> None:
    """Xếp hạng: scores of every unit of a kind, ranked among their peers."""
    check_ranking_options(kind, province, as_json, as_csv)
    book, span, moment, recorded_by = _inputs(rulebook, period, as_of, as_recorded)
    engine = _engine(book, recorded_by, recompute)
    scores = engine.rank(kind, span, moment, book.id, province=province)
    if not scores:
        nothing_to_rank(kind, span.key, province, f"in the ledger as of {local_time(moment)}")
    rows = [s.to_json() for s in scores]
    if as_json:
        print_ranking_json(rows)
    elif as_csv:
        print(ranking_csv(rows), end="")
    else:
        print_ranking(rows, title=ranking_title(kind, span.key, scores[0].evaluated_at,
                                                province),
                      caption=f"{book.id}@{book.version}: {book.name}", province=province)


def explain_cmd(
    unit: Annotated[str, typer.Option("--unit", "-u", help="unit code")],
    period: PeriodOption,
    indicator: Annotated[str, typer.Option("--indicator", "-i", help="indicator code, e.g. 2.1")],
    as_of: AsOfOption = None,
    as_recorded: AsRecordedOption = None,
    rulebook: RulebookOption = DEFAULT_RULEBOOK,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    recompute: RecomputeOption = False,
) -> None:
    """Giải trình: the dossiers (by code, mã hồ sơ), procedures or petitions behind one
    indicator's counts, each with the fact that put it in or out; why an empty one is empty."""
    book, span, moment, recorded_by = _inputs(rulebook, period, as_of, as_recorded)
    try:
        spec = book.indicator(indicator)
    except RulebookError as error:
        fail(str(error))
    engine = _engine(book, recorded_by, recompute)
    _check_unit(engine, unit)
    explanation = engine.explain(unit, span, indicator, moment, book.id)
    items = _items(engine, explanation)
    kind = engine.facts.units.get(unit).kind
    evaluated = to_datetime(span.evaluation_time(to_instant(moment)))
    empty = None if items else _why_empty(spec, kind)
    if as_json:
        data = explanation.to_json() | {"items": items}
        if empty is not None:
            data["empty_reason"] = empty
        out.print_json(orjson.dumps(data).decode())
        return
    name = engine.facts.units.get(unit).name
    title = (f"{explanation.indicator} {explanation.name} — {name} ({unit}), kỳ {span.key}, "
             f"tính đến {local_time(evaluated, seconds=True)}: "
             f"{explanation.numerator}/{explanation.denominator}")
    say(title, style="bold")
    if empty is not None:
        say(empty)
        return
    out.print(_explain_table(items))
    say("Tử số: ✓ có tính vào tử số, ✗ không; mọi mục đều thuộc mẫu số.", style="dim")


def _inputs(rulebook: str, period: str, as_of: str | None, as_recorded: str | None
            ) -> tuple[Rulebook, Period, datetime, datetime | None]:
    book, span = rulebook_and_period(rulebook, period)
    moment, recorded_by = parse_moments(as_of, as_recorded)
    return book, span, moment, recorded_by


READ_STEP = 4096  # events read between two moves of the progress bar


def _engine(book: Rulebook, recorded_by: datetime | None = None,
            recompute: bool = False) -> ScoringEngine:
    """The engine folded over the ledger (with ``recorded_by``, only over what it had
    recorded by then): from the live runner's latest snapshot that checks out, folding only
    the events after it, unless ``recompute`` asks for a fold from the first event (the
    result is the same: a snapshot is the state that fold had at its position)."""
    engine = ScoringEngine([book])
    ledger = ledger_to_read(doing="score")
    try:
        stop = None
        if recorded_by is not None:
            stop = ledger.last_position_recorded_by(recorded_by)
            if stop == 0:
                fail(f"the ledger had recorded nothing by {local_text(recorded_by)}")
        end = stop or ledger.max_position()
        start = 1
        if not recompute:
            snapshots = Snapshots(Settings().data_dir / RUNNER_STATE)
            snapshot, projector, _ = latest_usable(snapshots, ledger, end)
            if snapshot is not None and projector is not None:
                engine, start = projector.engine, snapshot.position + 1
                err.print(f"từ ảnh chụp trạng thái tại vị trí {snapshot.position:,} "
                          f"(from the runner's snapshot; {end - snapshot.position:,} events "
                          "folded after it; --recompute folds them all)", style="dim",
                          highlight=False)
        with progress_bar() as progress:
            task = progress.add_task("đọc sổ cái", total=end - start + 1)
            if start <= end:
                for count, envelope in enumerate(ledger.read_envelopes(start, end), start=1):
                    engine.apply(envelope)
                    if count % READ_STEP == 0:
                        progress.advance(task, READ_STEP)
            engine.flush()
    finally:
        ledger.close()
    return engine


def _check_unit(engine: ScoringEngine, unit: str) -> None:
    try:
        engine.facts.units.get(unit)
    except UnitError as error:
        fail(str(error))


def _score_table(score: UnitScore) -> Table:
    rank = "không xếp hạng" if score.rank is None else f"hạng {score.rank}"
    columns = [Col("Mã", whole=True), Col("Nhóm / chỉ số", fold_to=20),
               Col("Tử số", numeric=True), Col("Mẫu số", numeric=True),
               Col("Tỷ lệ", numeric=True), Col("Điểm", numeric=True),
               Col("Tối đa", numeric=True)]
    rows: list[list[str | Text]] = []
    for group in score.groups:
        rows.append([Text(group.code, style="bold"), Text(group.name, style="bold"), "", "", "",
                     Text(points(group.points), style="bold"), points(group.max)])
        for i in group.indicators:
            if not i.applicable:
                rows.append([i.code, f"  {i.name} (không áp dụng)", "—", "—", "—", "—",
                             points(i.max)])
                continue
            rows.append([i.code, f"  {i.name}", str(i.numerator), str(i.denominator),
                         "—" if i.ratio is None else f"{i.ratio:.1%}", points(i.points),
                         points(i.max)])
    return fitted_table(
        columns, rows,
        title=f"{score.unit_name} ({score.unit}) — kỳ {score.period}, tính đến "
              f"{local_time(score.evaluated_at, seconds=True)}",
        caption=f"Tổng điểm {points(score.total)}/100 · {score.band} · {rank} · "
                f"{score.rulebook_id}@{score.rulebook_version}")


ITEM_KINDS = {"dossier": "hồ sơ", "procedure": "thủ tục", "petition": "phản ánh",
              "unit": "xã"}
CODE_HEADERS = {"dossier": "Mã hồ sơ", "procedure": "Mã thủ tục", "petition": "Mã phản ánh",
                "unit": "Mã xã"}


def _items(engine: ScoringEngine, explanation: Explanation) -> list[dict[str, Any]]:
    """The entries with the code people know them by (mã hồ sơ, mã thủ tục), sorted."""
    facts = engine.facts
    items = []
    for entry in explanation.entries:
        code = entry.item
        if entry.kind == "dossier" and (dossier := facts.dossier(entry.item)) is not None:
            code = dossier.code
        elif entry.kind == "procedure" and entry.item in facts.procedures:
            code = facts.procedures[entry.item].code
        items.append(entry.to_json() | {"code": code})
    order = list(ITEM_KINDS)
    items.sort(key=lambda item: (order.index(item["kind"]) if item["kind"] in order
                                 else len(order), item["code"], item["id"]))
    return items


def _explain_table(items: list[dict[str, Any]]) -> Table:
    kinds = {item["kind"] for item in items}
    header = CODE_HEADERS.get(next(iter(kinds)), "Mã") if len(kinds) == 1 else "Mã"
    columns = [Col("Loại", whole=True, drop=1), Col(header, whole=True),
               Col("Tử số", whole=True), Col("Lý do", fold_to=16)]
    rows = [[ITEM_KINDS.get(item["kind"], item["kind"]), item["code"],
             "✓ có" if item["numerator"] else "✗ không", item["reason"]] for item in items]
    return fitted_table(columns, rows)


EMPTY_BECAUSE = {
    Measure.PROCEDURES_PUBLISHED_ON_TIME: "không có quyết định công bố thủ tục nào trong kỳ",
    Measure.PROCEDURES_PUBLIC_ON_TIME: "không có quyết định công bố thủ tục nào trong kỳ",
    Measure.PUBLIC_PROCEDURES_COMPLETE: "không có thủ tục nào đã công khai",
    Measure.DOSSIERS_SYNCED: "không có hồ sơ tiếp nhận trong kỳ",
    Measure.DOSSIERS_ON_TIME: "không có hồ sơ tiếp nhận trong kỳ (hay còn tồn từ kỳ trước)",
    Measure.PROCEDURES_ONLINE: "đơn vị không có thủ tục nào đang áp dụng",
    Measure.ONLINE_PROCEDURES_USED: "không có thủ tục nào cung cấp dịch vụ công trực tuyến",
    Measure.DOSSIERS_ONLINE: "không có hồ sơ tiếp nhận trong kỳ",
    Measure.FULL_ONLINE_DOSSIERS:
        "không có hồ sơ tiếp nhận trong kỳ thuộc thủ tục trực tuyến toàn trình",
    Measure.DOSSIERS_PAID_ONLINE: "không có hồ sơ có phí, lệ phí tiếp nhận trong kỳ",
    Measure.PROCEDURES_PAID_ONLINE: "không có thủ tục nào có phí, lệ phí",
    Measure.PROCEDURES_PAYMENT_INTEGRATED: "không có thủ tục nào có phí, lệ phí",
    Measure.ELECTRONIC_RESULTS:
        "không có hồ sơ giải quyết xong trong kỳ thuộc thủ tục có kết quả là văn bản",
    Measure.DOSSIERS_DIGITIZED: "không có hồ sơ tiếp nhận trong kỳ",
    Measure.COMMUNES_E_CERTIFIED_COPY: "không có xã, phường trực thuộc",
    Measure.DOSSIERS_REUSED: "không có hồ sơ tiếp nhận trong kỳ",
    Measure.DOSSIERS_PERSONAL_STORE: "không có hồ sơ tiếp nhận trong kỳ",
    Measure.PROCEDURES_POPULATION_DB: "không có thủ tục nào dành cho công dân",
    Measure.DOSSIERS_POPULATION_DB: "không có hồ sơ tiếp nhận trong kỳ",
    Measure.PETITIONS_ON_TIME: "không có phản ánh, kiến nghị phải xử lý trong kỳ",
    Measure.PETITION_SATISFACTION: "không có phản ánh, kiến nghị tiếp nhận trong kỳ",
    Measure.DOSSIER_SATISFACTION: "không có hồ sơ tiếp nhận trong kỳ",
}
"""Why an indicator's denominator is empty, by what it counts."""

ON_EMPTY = {"zero": "chỉ số được 0 điểm", "full": "chỉ số được tính đủ điểm",
            "split": "chỉ số nhận phần điểm theo tỷ lệ điểm nhóm đạt được"}


def _why_empty(spec: Indicator, kind: str) -> str:
    if not spec.applies(kind):
        return f"Chỉ số {spec.code} không áp dụng cho cấp {kind_label(kind)}."
    because = EMPTY_BECAUSE.get(spec.measure, "không có mục nào được tính")
    return f"Chỉ số trống (0/0): {because}; theo bộ chỉ số, {ON_EMPTY[spec.on_empty]}."

