"""Scores recomputed from facts alone at t, and the items behind every numerator (explain)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from domain.calendar import WorkingCalendar
from projections.facts import DossierFacts, FactStore, PetitionFacts
from projections.judge import (
    dossier_timeliness,
    judge_dossier,
    judge_petition,
    judge_procedure,
    petition_displeased,
)
from projections.periods import Instant, Period, to_datetime
from projections.rulebook import Measure, Switches

E_CERTIFIED_COPY = "e_certified_copy"


@dataclass(frozen=True, slots=True)
class Entry:
    """One item in a measure's denominator; ``numerator`` says whether it also counts above."""

    measure: str
    kind: str  # dossier, procedure, petition, unit
    item: str
    numerator: bool
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"kind": self.kind, "id": self.item, "numerator": self.numerator,
                "reason": self.reason}


def dossier_entries(f: DossierFacts, period: Period, t: Instant, switches: Switches) -> list[Entry]:
    """The dossier-based measures counting ``f`` in ``period`` at t, read straight off index.md."""
    r = f.received_at
    if r is None or r > t:
        return []
    entries: list[Entry] = []

    def add(measure: Measure, numerator: bool, reason: str) -> None:
        entries.append(Entry(measure, "dossier", f.id, numerator, reason))

    received_in_period = period.start <= r <= t
    verdict = judge_dossier(f, t, switches.apology_extends_due)
    on_time = verdict.on_time_at(t)
    late = "" if on_time else "quá hạn"
    end = verdict.end
    carried = (not received_in_period and switches.carried_over_in_2_1
               and (end is None or end >= period.start))
    if received_in_period or carried:
        why = verdict.reason if not verdict.running else (
            "đang giải quyết, trong hạn" if on_time else "đang giải quyết, quá hạn")
        add(Measure.DOSSIERS_ON_TIME, on_time, why + ("; tồn từ kỳ trước" if carried else ""))
    if received_in_period:
        synced = f.synced_at is not None and f.synced_at <= t
        add(Measure.DOSSIERS_SYNCED, synced, "đã đồng bộ" if synced else "chưa đồng bộ")
        online = f.channel == "online"
        add(Measure.DOSSIERS_ONLINE, online, f"kênh nộp: {f.channel}")
        if f.full_online_eligible:
            add(Measure.FULL_ONLINE_DOSSIERS, online, f"kênh nộp: {f.channel}")
        if f.fee_bearing:
            paid = any(at <= t for at in f.online_payments)
            add(Measure.DOSSIERS_PAID_ONLINE, paid,
                "đã thanh toán trực tuyến" if paid else "chưa thanh toán trực tuyến")
        add(Measure.DOSSIERS_DIGITIZED, f.digitized,
            "có thành phần số hóa" if f.digitized else "không có thành phần số hóa")
        add(Measure.DOSSIERS_REUSED, f.reused,
            "tái sử dụng dữ liệu" if f.reused else "không tái sử dụng dữ liệu")
        pushed = f.pushed_to_personal_store and f.resolved_at is not None and f.resolved_at <= t
        personal = f.from_personal_store or pushed
        add(Measure.DOSSIERS_PERSONAL_STORE, personal,
            "thành phần từ kho dữ liệu cá nhân" if f.from_personal_store
            else "kết quả đẩy vào kho dữ liệu cá nhân" if pushed else "không dùng kho cá nhân")
        population = f.vneid_verified or f.from_population_db
        add(Measure.DOSSIERS_POPULATION_DB, population,
            "xác thực VNeID" if f.vneid_verified else
            "thành phần từ CSDL dân cư" if f.from_population_db else "không dùng CSDL dân cư")
        named = f.named_at is not None and f.named_at <= t
        unsatisfied = f.rated_at is not None and f.rated_at <= t and f.satisfied is False
        reasons = [why for why, bad in ((late, not on_time), ("bị phản ánh", named),
                                        ("đánh giá không hài lòng", unsatisfied)) if bad]
        add(Measure.DOSSIER_SATISFACTION, not reasons, "; ".join(reasons) or "hài lòng")
    resolved = f.resolved_at
    if f.requires_result_document and resolved is not None and period.start <= resolved <= t:
        add(Measure.ELECTRONIC_RESULTS, f.electronic_result,
            "kết quả điện tử" if f.electronic_result else "kết quả giấy")
    return entries


def petition_entries(
    p: PetitionFacts, period: Period, t: Instant, calendar: WorkingCalendar
) -> list[Entry]:
    r = p.received_at
    if r > t:
        return []
    received_in_period = r >= period.start
    answered = p.answered_at if p.answered_at is not None and p.answered_at <= t else None
    if not received_in_period and answered is not None and answered < period.start:
        return []
    verdict = judge_petition(p, t, calendar)
    on_time = verdict.on_time_at(t)
    why = ("đã trả lời" if answered is not None else "chưa trả lời") + (
        ", đúng hạn" if on_time else ", quá hạn")
    entries = [Entry(Measure.PETITIONS_ON_TIME, "petition", p.id, on_time,
                     why + ("" if received_in_period else "; tồn từ kỳ trước"))]
    if received_in_period:
        displeased = petition_displeased(p, t)
        good = on_time and not displeased
        entries.append(Entry(Measure.PETITION_SATISFACTION, "petition", p.id, good,
                             "hài lòng" if good else "quá hạn" if not on_time
                             else "không hài lòng hoặc khiếu nại lại"))
    return entries


Tally = tuple[tuple[str, bool], ...]
"""An item's entries as (measure, numerator) pairs, in the order its entries come: what
counting needs of them, without their reasons."""


def dossier_tally(f: DossierFacts, start: Instant, t: Instant, switches: Switches) -> Tally:
    """:func:`dossier_entries` of ``f`` for a period starting at ``start``, without reasons
    (scanning many dossiers to count them: no string or :class:`Entry` built)."""
    r = f.received_at
    if r is None or r > t:
        return ()
    running, settled_on_time, deadline = dossier_timeliness(f, t, switches.apology_extends_due)
    on_time = t <= deadline if running else settled_on_time
    tally: list[tuple[str, bool]] = []
    if start <= r:
        tally.append((Measure.DOSSIERS_ON_TIME, on_time))
        tally += _received_in_period(f, t, on_time)
    elif switches.carried_over_in_2_1:
        end = f.end_at(t)
        if end is None or end >= start:
            tally.append((Measure.DOSSIERS_ON_TIME, on_time))
    resolved = f.resolved_at
    if f.requires_result_document and resolved is not None and start <= resolved <= t:
        tally.append((Measure.ELECTRONIC_RESULTS, f.electronic_result))
    return tuple(tally)


def _received_in_period(f: DossierFacts, t: Instant, on_time: bool) -> list[tuple[str, bool]]:
    """The (measure, numerator) pairs of a dossier received in the period, after 2.1's."""
    online = f.channel == "online"
    synced = f.synced_at is not None and f.synced_at <= t
    tally: list[tuple[str, bool]] = [(Measure.DOSSIERS_SYNCED, synced),
                                     (Measure.DOSSIERS_ONLINE, online)]
    if f.full_online_eligible:
        tally.append((Measure.FULL_ONLINE_DOSSIERS, online))
    if f.fee_bearing:
        tally.append((Measure.DOSSIERS_PAID_ONLINE, any(at <= t for at in f.online_payments)))
    pushed = f.pushed_to_personal_store and f.resolved_at is not None and f.resolved_at <= t
    named = f.named_at is not None and f.named_at <= t
    unsatisfied = f.rated_at is not None and f.rated_at <= t and f.satisfied is False
    tally += [(Measure.DOSSIERS_DIGITIZED, f.digitized), (Measure.DOSSIERS_REUSED, f.reused),
              (Measure.DOSSIERS_PERSONAL_STORE, f.from_personal_store or pushed),
              (Measure.DOSSIERS_POPULATION_DB, f.vneid_verified or f.from_population_db),
              (Measure.DOSSIER_SATISFACTION, on_time and not named and not unsatisfied)]
    return tally


def petition_tally(p: PetitionFacts, start: Instant, t: Instant,
                   calendar: WorkingCalendar) -> Tally:
    """:func:`petition_entries` of ``p`` for a period starting at ``start``, without
    reasons."""
    r = p.received_at
    if r > t:
        return ()
    answered = p.answered_at if p.answered_at is not None and p.answered_at <= t else None
    if r < start and answered is not None and answered < start:
        return ()
    on_time = judge_petition(p, t, calendar).on_time_at(t)
    if r < start:
        return ((Measure.PETITIONS_ON_TIME, on_time),)
    return ((Measure.PETITIONS_ON_TIME, on_time),
            (Measure.PETITION_SATISFACTION, on_time and not petition_displeased(p, t)))


def scope_units(store: FactStore, unit: str) -> list[str]:
    return [unit, *(u.code for u in store.units.descendants(unit))]


def scope_entries(
    store: FactStore, unit: str, period: Period, t: Instant, switches: Switches,
    calendar: WorkingCalendar, kinds: Iterable[str] = ("dossier", "petition", "procedure", "unit"),
) -> Iterator[Entry]:
    """Every entry of every measure for the unit's scope, by scanning its facts."""
    wanted = set(kinds)
    codes = scope_units(store, unit)
    for code in codes:
        if "dossier" in wanted:
            for dossier in store.dossiers_of_unit(code):
                yield from dossier_entries(dossier, period, t, switches)
        if "petition" in wanted:
            for petition_id in store.petitions_by_unit.get(code, ()):
                yield from petition_entries(store.petitions[petition_id], period, t, calendar)
        if "procedure" in wanted:
            for procedure_id in store.procedures_by_unit.get(code, ()):
                procedure = store.procedures[procedure_id]
                for measure, numerator, why in judge_procedure(procedure, period, t, calendar):
                    yield Entry(measure, "procedure", procedure_id, numerator, why)
    if "unit" in wanted:
        yield from commune_entries(store, unit, codes, t)


def commune_entries(store: FactStore, unit: str, codes: list[str], t: Instant) -> Iterator[Entry]:
    """4.3: communes under ``unit`` offering electronic certified copies at t."""
    for code in codes:
        found = store.units.find(code)
        if code == unit or found is None or found.kind != "commune":
            continue
        if not store.unit_exists_at(code, t):
            continue
        enabled = store.capability_at(code, E_CERTIFIED_COPY, t)
        yield Entry(Measure.COMMUNES_E_CERTIFIED_COPY, "unit", code, enabled,
                    "có chứng thực bản sao điện tử" if enabled else "chưa có chứng thực điện tử")


def count_entries(entries: Iterable[Entry]) -> dict[str, tuple[int, int]]:
    counts: dict[str, list[int]] = {}
    for entry in entries:
        pair = counts.setdefault(entry.measure, [0, 0])
        pair[0] += entry.numerator
        pair[1] += 1
    return {measure: (pair[0], pair[1]) for measure, pair in counts.items()}


def describe_instant(instant: Instant | None) -> str | None:
    return None if instant is None else to_datetime(instant).isoformat()
