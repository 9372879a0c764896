"""Reads: a dossier's history and state, scores, rankings (JSON and CSV open data), the
items behind an indicator, a unit's total over time, and inclusion proofs."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.api import examples, olap_reads
from app.api.access import AUDITORS, READERS, caller, require_unit, roles_extra
from app.api.errors import ApiError, responses
from app.api.examples import answer
from app.api.state import ApiState
from app.commands.rankings import RANKED_KINDS, ranking_csv
from app.commands.scoring_cmds import _items as explain_items
from app.commands.scoring_cmds import _why_empty as why_empty
from domain.calendar import LOCAL_TZ
from domain.units import UnitKind, builtin_units
from ledger.audit import find_dossier_id, history
from ledger.proofs import ProofRefused, find_checkpoint, find_position, inclusion_proof
from projections.periods import parse_period, period_of_kind, to_datetime, to_instant
from projections.rulebook import DEFAULT_RULEBOOK, SHIPPED, load_rulebook

AsOf = Annotated[str | None, Query(
    max_length=40, description="RFC 3339 moment or date (its end, local time): what had "
    "happened by then", examples=["2026-10-12T12:00:00+07:00"])]
AsRecorded = Annotated[str | None, Query(
    max_length=40, description="RFC 3339 moment or date: what the ledger had recorded by "
    "then", examples=["2026-10-12"])]
PeriodQ = Annotated[str | None, Query(
    max_length=16, description="month 2026-10, quarter 2026-Q4 or year 2026; default: the "
    "current month", examples=["2026-10"])]
RulebookQ = Annotated[str, Query(max_length=40, description=f"one of {', '.join(SHIPPED)}",
                                 examples=[DEFAULT_RULEBOOK])]
KindQ = Annotated[str, Query(max_length=16, description="province, department or commune",
                             examples=["province"])]
ProvinceQ = Annotated[str | None, Query(
    max_length=8, description="only the departments or communes of this province",
    examples=["22"])]


def moment(text: str | None, field: str) -> datetime | None:
    """An RFC 3339 moment with its offset, or a date (its end in local time)."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").date()
            return datetime.combine(day, time.max, tzinfo=LOCAL_TZ)
        found = datetime.fromisoformat(text)
    except ValueError:
        found = None
    if found is None or found.tzinfo is None:
        raise ApiError(422, "invalid", f"{field}: {text[:40]!r} is neither an RFC 3339 time "
                       "with its offset nor a date (YYYY-MM-DD)", field=field)
    return found


def moments(as_of: str | None, as_recorded: str | None, now: datetime
            ) -> tuple[datetime, datetime | None]:
    if as_of is not None and as_recorded is not None:
        raise ApiError(422, "invalid", "give as_of or as_recorded, not both", field="as_of")
    recorded = moment(as_recorded, "as_recorded")
    if recorded is not None:
        return recorded, recorded
    return moment(as_of, "as_of") or now, None


def period_key(state: ApiState, period: str | None) -> str:
    """The period asked for, checked; default: the current month of the server's clock."""
    if period is None:
        return period_of_kind("month", to_instant(state.clock())).key
    return parse_period(period).key


def check_kind(kind: str, province: str | None) -> None:
    if kind not in RANKED_KINDS:
        raise ApiError(422, "invalid", f"kind: unknown unit kind {kind!r} (one of "
                       f"{', '.join(RANKED_KINDS)})", field="kind")
    if province is not None:
        found = builtin_units().get(province)
        if found is None or found.kind is not UnitKind.PROVINCE:
            raise ApiError(422, "invalid", f"province: {province!r} is not a province "
                           "code (2 digits, e.g. 22)", field="province")


def ranking_answer(state: ApiState, period: str | None, kind: str, province: str | None,
                   rulebook: str) -> dict[str, Any]:
    """A live ranking with the moment and ledger position it reflects."""
    check_kind(kind, province)
    book = load_rulebook(rulebook)
    key = period_key(state, period)
    with state.live() as client:
        rows = olap_reads.ranking(client, period=key, kind=kind, rulebook=book.id,
                                  province=province)
    return {"period": key, "kind": kind, "province": province, "rulebook": book.id,
            "rulebook_version": book.version,
            "as_of": max((r["as_of"] for r in rows), default=None),
            "position": max((r["position"] for r in rows), default=0), "rows": rows}


def router(state: ApiState) -> APIRouter:
    api = APIRouter(prefix="/v1")

    @api.get("/dossiers/{ref}/history", tags=["audit"],
             responses=responses(401, 403, 404, 422) | answer(examples.HISTORY),
             summary="A dossier's timeline and state", openapi_extra=roles_extra(READERS))
    def dossier_history(request: Request, ref: str, as_of: AsOf = None,
                        as_recorded: AsRecorded = None) -> dict[str, Any]:
        """A dossier (by id or code, mã hồ sơ) as it stood at ``as_of`` or as the ledger had
        recorded it by ``as_recorded``: its events and its state (status, due date, late so
        far). Auditor, admin, or the agency of its unit."""
        key = caller(request, state, READERS)
        when, recorded_by = moments(as_of, as_recorded, state.clock())
        dossier_id = find_dossier_id(state.ledger, ref)
        events = state.ledger.stream_envelopes("dossier", dossier_id)
        units = [e["data"].get(f) for e in events for f in ("unit", "to_unit")
                 if isinstance(e["data"].get(f), str)]
        require_unit(request, state, key, units, f"dossier {ref}")
        return history(state.ledger, dossier_id, when, recorded_by).as_dict()

    @api.get("/scores/{unit}", tags=["scores"],
             responses=responses(404, 422, 503) | answer(examples.SCORE),
             summary="A unit's score (public)")
    def unit_score(unit: str, period: PeriodQ = None, rulebook: RulebookQ = DEFAULT_RULEBOOK,
                   as_of: AsOf = None, as_recorded: AsRecorded = None) -> dict[str, Any]:
        """Điểm Bộ chỉ số 766: the unit's live score (groups and indicators) with the ledger
        position and moment it reflects; with ``as_of``/``as_recorded`` computed from the
        ledger for that moment."""
        book = load_rulebook(rulebook)
        key = period_key(state, period)
        if as_of is None and as_recorded is None:
            with state.live() as client:
                stored = olap_reads.unit_score(client, unit=unit, period=key, rulebook=book.id)
            if stored is None:
                raise ApiError(404, "not_found", f"no live score of unit {unit!r} for {key} "
                               f"under {book.id}", field="unit")
            return stored
        when, recorded_by = moments(as_of, as_recorded, state.clock())
        with state.engine(recorded_by) as engine:
            engine.facts.units.get(unit)
            return engine.score(unit, parse_period(key), when, book.id).to_json()

    @api.get("/scores/{unit}/series", tags=["scores"],
             responses=responses(422, 503) | answer(examples.SERIES),
             summary="A unit's total over time (public)")
    def unit_series(unit: str, period: PeriodQ = None,
                    rulebook: RulebookQ = DEFAULT_RULEBOOK) -> dict[str, Any]:
        """Every recomputation of the unit's total in a period (score history), oldest
        first: what the page's chart draws."""
        book = load_rulebook(rulebook)
        key = period_key(state, period)
        with state.live() as client:
            points = olap_reads.score_series(client, unit=unit, period=key, rulebook=book.id)
        return {"unit": unit, "period": key, "rulebook": book.id, "points": points}

    @api.get("/rankings", tags=["rankings"], responses=responses(404, 422, 503) | {
             200: {"description": "JSON, or CSV with format=csv", "content": {
                 "application/json": {"example": examples.RANKING},
                 "text/csv": {"example": "unit,name,rank,total,band,G1,G2,G3a,G3b,G4,G5,"
                                         "as_of,position\n22,Quảng Ninh,1,88.19,Tốt,18.00,"
                                         "20.00,8.75,4.83,18.61,18.00,"
                                         "2026-10-12T12:00:00+07:00,20726\n"}}}},
             summary="A live ranking, JSON or CSV (public open data)",
             response_model=None)
    def rankings(period: PeriodQ = None, kind: KindQ = "province", province: ProvinceQ = None,
                 rulebook: RulebookQ = DEFAULT_RULEBOOK,
                 format: Annotated[str, Query(pattern="^(json|csv)$",
                                              description="json or csv")] = "json",
                 ) -> dict[str, Any] | Response:
        """Bảng xếp hạng: every unit of a kind ranked among its peers, as the live tables
        hold it, with the moment (``as_of``) and the ledger position each row reflects."""
        answer = ranking_answer(state, period, kind, province, rulebook)
        if format == "json":
            return answer
        where = f"-{province}" if province else ""
        headers = {"Content-Disposition": f'attachment; filename="rankings-{kind}-'
                                          f'{answer["period"]}{where}.csv"',
                   "X-Ledger-Position": str(answer["position"]),
                   "X-As-Of": answer["as_of"] or ""}
        text = ranking_csv(answer["rows"], extra=("as_of", "position")) if answer["rows"] \
            else "unit,name,rank,total,band,as_of,position\n"
        return Response(text, media_type="text/csv; charset=utf-8", headers=headers)

    @api.get("/periods", tags=["rankings"],
             responses=responses(422, 503) | answer(examples.PERIODS),
             summary="The periods ranked in the live tables (public)")
    def periods(kind: KindQ = "province", rulebook: RulebookQ = DEFAULT_RULEBOOK
                ) -> dict[str, Any]:
        check_kind(kind, None)
        book = load_rulebook(rulebook)
        with state.live() as client:
            found = olap_reads.periods(client, kind=kind, rulebook=book.id)
        return {"kind": kind, "rulebook": book.id, "periods": found,
                "current": period_key(state, None), "rulebooks": list(SHIPPED)}

    @api.get("/explain", tags=["audit"],
             responses=responses(401, 403, 404, 422) | answer(examples.EXPLAIN),
             summary="The items behind one indicator", openapi_extra=roles_extra(READERS))
    def explain(request: Request, unit: Annotated[str, Query(max_length=64, examples=["22"])],
                indicator: Annotated[str, Query(max_length=16, examples=["2.1"])],
                period: PeriodQ = None, rulebook: RulebookQ = DEFAULT_RULEBOOK,
                as_of: AsOf = None, as_recorded: AsRecorded = None) -> dict[str, Any]:
        """Giải trình: the dossiers (by code), procedures or petitions counted in one
        indicator, each with the fact that put it in or out; why an empty one is empty.
        Auditor, admin, or the agency of the unit."""
        key = caller(request, state, READERS)
        require_unit(request, state, key, [unit], f"unit {unit}")
        book = load_rulebook(rulebook)
        spec = book.indicator(indicator)
        span = parse_period(period_key(state, period))
        when, recorded_by = moments(as_of, as_recorded, state.clock())
        with state.engine(recorded_by) as engine:
            kind = engine.facts.units.get(unit).kind
            explanation = engine.explain(unit, span, indicator, when, book.id)
            items = explain_items(engine, explanation)
        data = explanation.to_json() | {"items": items, "evaluated_at": to_datetime(
            span.evaluation_time(to_instant(when))).isoformat()}
        if not items:
            data["empty_reason"] = why_empty(spec, kind)
        return data

    @api.get("/proofs/inclusion", tags=["audit"], responses=responses(401, 403, 404),
             summary="An event's inclusion proof", openapi_extra=roles_extra(AUDITORS))
    def proof(request: Request,
              event: Annotated[str, Query(max_length=200, description="a position, an event "
                                          "hash, or stream:id:seq", examples=["1"])],
              checkpoint: Annotated[int | None, Query(ge=1, description="a kept checkpoint's "
                                                      "size; default the latest")] = None,
              ) -> dict[str, Any]:
        """The Merkle proof that an event is in a signed checkpoint (docs/proofs.md).
        Auditor or admin."""
        caller(request, state, AUDITORS)
        try:
            position = find_position(state.ledger, event)
            found = find_checkpoint(state.ledger, None if checkpoint is None
                                    else str(checkpoint))
            return inclusion_proof(state.ledger, position, found)
        except ProofRefused as refused:
            raise ApiError(404, "not_found", str(refused), field="event") from None

    return api

