"""Judgements of single dossiers, petitions and procedures at an evaluation time t."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from domain.calendar import WorkingCalendar
from projections.facts import DossierFacts, PetitionFacts, ProcedureFacts, last_value_at
from projections.periods import Instant, Period, local_day, start_of_local_day

PETITION_DAYS = 15  # phản ánh, kiến nghị: answered within 15 working days
PUBLICATION_DAYS = 5  # 1.1 / 1.2: 5 working days before the legal basis / after the decision
ONLINE_LEVELS = frozenset({"partial", "full"})


@dataclass(frozen=True, slots=True)
class Timeliness:
    """2.1's judgement of a dossier at t (hồ sơ đúng hạn / quá hạn)."""

    running: bool  # still open, clock running: on time while t ≤ deadline
    on_time: bool  # the verdict when not running
    deadline: Instant  # when running: due date plus the completed supplement waits
    end: Instant | None  # end per 2.1 (resolved, else returned, else rejected/stopped/withdrawn)
    adjusted_end: Instant | None  # end minus completed waits, or frozen at an open request
    due: Instant
    reason: str

    def on_time_at(self, t: Instant) -> bool:
        return t <= self.deadline if self.running else self.on_time


def _clock(f: DossierFacts, t: Instant, apology_extends_due: bool
           ) -> tuple[Instant | None, Instant, Instant, int, Instant | None]:
    """2.1's inputs at t: the end, the due date, the completed supplement waits, the number
    of supplement requests, and the request still open (if any)."""
    end = f.end_at(t)
    stop = end if end is not None else t
    due = f.due_at if f.due_at is not None else (f.received_at or 0)
    if apology_extends_due:
        for at, new_due in f.apologies:
            if at <= stop:
                due = new_due
    waits, requests, open_request = 0, 0, None
    for requested, completed in f.supplements:
        if requested is None or requested > stop:
            break
        requests += 1
        if completed is not None and completed <= stop:
            waits += completed - requested
        else:
            open_request = requested
    return end, due, waits, requests, open_request


def judge_dossier(f: DossierFacts, t: Instant, apology_extends_due: bool) -> Timeliness:
    """Is a received dossier on time at t, per 2.1 (events with at ≤ t only)?"""
    end, due, waits, requests, open_request = _clock(f, t, apology_extends_due)
    if open_request is not None:
        adjusted = open_request - waits
        if requests > 1:
            return Timeliness(False, False, due, end, adjusted, due,
                              "quá hạn: nhiều lần yêu cầu bổ sung, một lần chưa hoàn thành")
        on_time = adjusted <= due
        return Timeliness(False, on_time, due, end, adjusted, due,
                          "đúng hạn: dừng tính tại yêu cầu bổ sung" if on_time
                          else "quá hạn: yêu cầu bổ sung sau hạn")
    if end is not None:
        adjusted = end - waits
        on_time = adjusted <= due
        return Timeliness(False, on_time, due, end, adjusted, due,
                          "đúng hạn" if on_time else "quá hạn")
    return Timeliness(True, True, due + waits, None, None, due, "đang giải quyết")


def dossier_timeliness(f: DossierFacts, t: Instant,
                       apology_extends_due: bool) -> tuple[bool, bool, Instant]:
    """(running, on_time, deadline) of :func:`judge_dossier` without building its reasons
    (for the counters)."""
    end, due, waits, requests, open_request = _clock(f, t, apology_extends_due)
    if open_request is not None:
        return False, requests == 1 and open_request - waits <= due, due
    if end is not None:
        return False, end - waits <= due, due
    return True, True, due + waits


@dataclass(frozen=True, slots=True)
class PetitionTimeliness:
    running: bool
    on_time: bool
    deadline: Instant  # 24:00 of the 15th working day after the day it was received

    def on_time_at(self, t: Instant) -> bool:
        return t <= self.deadline if self.running else self.on_time


@lru_cache(maxsize=65536)
def working_days_deadline(calendar: WorkingCalendar, day: date, days: int) -> Instant:
    """24:00 of the N-th working day after ``day`` as an instant."""
    return start_of_local_day(calendar.nth_working_day_after(day, days)) + 86_400_000_000


def petition_deadline(p: PetitionFacts, calendar: WorkingCalendar) -> Instant:
    return working_days_deadline(calendar, local_day(p.received_at), PETITION_DAYS)


def judge_petition(p: PetitionFacts, t: Instant, calendar: WorkingCalendar) -> PetitionTimeliness:
    deadline = petition_deadline(p, calendar)
    if p.answered_at is not None and p.answered_at <= t:
        return PetitionTimeliness(False, p.answered_at <= deadline, deadline)
    return PetitionTimeliness(True, True, deadline)


def petition_displeased(p: PetitionFacts, t: Instant) -> bool:
    """dislikes > likes in the last rating by t, or recomplained (khiếu nại lại) by t."""
    if p.recomplained_at is not None and p.recomplained_at <= t:
        return True
    rating = last_value_at([(at, (likes, dislikes)) for at, likes, dislikes in p.ratings], t)
    return rating is not None and rating[1] > rating[0]


def any_between(times: list[Instant], start: Instant, t: Instant) -> bool:
    """Whether the sorted list ``times`` holds an instant in [start, t]."""
    i = bisect_left(times, start)
    return i < len(times) and times[i] <= t


ProcedureVerdict = tuple[str, bool, str]
"""(measure, in the numerator, why) for a measure whose denominator holds the procedure."""


def judge_procedure(
    p: ProcedureFacts, period: Period, t: Instant, calendar: WorkingCalendar, why: bool = True,
    turns: list[Instant] | None = None,
) -> list[ProcedureVerdict]:
    """Every procedure-based measure counting ``p`` for ``period`` at t (abolished: none);
    ``why=False`` leaves the reasons empty (for counting only).

    With no event after t, the verdicts stay the same at every later time but for one: a
    publication still awaited turns late after its deadline, appended to ``turns`` (given)."""
    if not p.active_at(t):
        return []
    verdicts: list[ProcedureVerdict] = []
    if p.decisions:
        verdicts.extend(_judge_decisions(p, period, t, calendar, why, turns))
    last_publication = last_value_at(p.publications, t)
    if last_publication is not None:
        verdicts.append(("public_procedures_complete", last_publication,
                         "công khai đầy đủ" if last_publication else "thiếu thành phần"))
    level = last_value_at(p.levels, t) or "none"
    online = level in ONLINE_LEVELS
    verdicts.append(("procedures_online", online, f"mức độ trực tuyến: {level}" if why else ""))
    if online:
        used = any_between(p.online_received, period.start, t)
        verdicts.append(("online_procedures_used", used,
                         "có hồ sơ trực tuyến" if used else "không có hồ sơ trực tuyến"))
    if p.fee_vnd > 0:
        paid = any_between(p.online_paid, period.start, t)
        verdicts.append(("procedures_paid_online", paid,
                         "có thanh toán trực tuyến" if paid else "không có thanh toán trực tuyến"))
        integrated = bool(last_value_at(p.integrations, t))
        verdicts.append(("procedures_payment_integrated", integrated,
                         "đã tích hợp thanh toán" if integrated else "chưa tích hợp thanh toán"))
    if p.citizen_target:
        used = any_between(p.population_db_received, period.start, t)
        verdicts.append(("procedures_population_db", used,
                         "có hồ sơ khai thác CSDL dân cư" if used
                         else "không có hồ sơ khai thác CSDL dân cư"))
    return verdicts


def _judge_decisions(
    p: ProcedureFacts, period: Period, t: Instant, calendar: WorkingCalendar, why: bool,
    turns: list[Instant] | None = None,
) -> list[ProcedureVerdict]:
    first_day, last_day = local_day(period.start), local_day(period.last)
    decided = [on for at, on in p.decisions if at <= t and first_day <= on <= last_day]
    if not decided:
        return []
    limit = calendar.nth_working_day_before(p.legal_basis_effective_on, PUBLICATION_DAYS)
    late = [on for on in decided if on > limit]
    verdicts: list[ProcedureVerdict] = [(
        "procedures_published_on_time", not late,
        "" if not why else
        f"quyết định công bố {late[0].isoformat()} sau hạn {limit.isoformat()}" if late
        else f"quyết định công bố đúng hạn (≤ {limit.isoformat()})",
    )]
    first = min(decided)
    deadline_day = calendar.nth_working_day_after(first, PUBLICATION_DAYS)
    # One instant for both branches: 24:00 of the 5th working day (00:00:00 of the next day).
    deadline = working_days_deadline(calendar, first, PUBLICATION_DAYS)
    published = next((at for at, _ in p.publications if at <= t and local_day(at) >= first), None)
    if published is not None:
        on_time = published <= deadline
        reason = (f"công khai ngày {local_day(published).isoformat()}, "
                  f"hạn {deadline_day.isoformat()}") if why else ""
    else:
        on_time = t <= deadline
        if on_time and turns is not None:
            turns.append(deadline)
        reason = f"chưa công khai, hạn {deadline_day.isoformat()}" if why else ""
    verdicts.append(("procedures_public_on_time", on_time, reason))
    return verdicts
