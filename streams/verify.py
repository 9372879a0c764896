"""Recompute the current score rows stored in ClickHouse from the ledger and list differences."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledger.application import DossierLedger
from projections.clickhouse.queries import StoredScore, current_scores
from projections.facts import Event, FactStore
from projections.periods import parse_period, to_datetime
from projections.recompute import facts_as_of, recompute_counts
from projections.rulebook import load_rulebook
from projections.scores import UnitScore, make_unit_score, standard_competition_ranks, with_rank

TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Difference:
    row: StoredScore
    field: str
    stored: Any
    recomputed: Any

    def describe(self) -> str:
        r = self.row
        return (f"{r.rulebook_id} {r.kind} {r.unit} {r.period} @position {r.position} "
                f"as_of {to_datetime(r.as_of_us).isoformat()}: {self.field} stored "
                f"{self.stored!r}, recomputed {self.recomputed!r}")


@dataclass
class ScoreCheck:
    rows: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def verify_scores(ledger: DossierLedger, client: Any,
                  progress: Callable[[int, int], None] | None = None) -> ScoreCheck:
    """Recompute every current score row from scratch (projections.recompute: the auditors'
    path, not the live engine) from the ledger's events up to the row's position, under the
    row's rulebook, at the row's as_of, and compare totals, bands, ranks and every indicator."""
    rows = current_scores(client)
    check = ScoreCheck(rows=len(rows))
    if not rows:
        return check
    envelopes = list(ledger.read_envelopes(1, max(r.position for r in rows)))
    positions = [e["position"] for e in envelopes]
    groups: dict[tuple[str, str, int, int], list[StoredScore]] = {}
    for row in rows:
        groups.setdefault((row.rulebook_id, row.period, row.position, row.as_of_us),
                          []).append(row)
    stores: dict[tuple[int, int], FactStore] = {}
    for (rulebook_id, period, position, as_of_us), members in groups.items():
        events = envelopes[: bisect_right(positions, position)]
        recomputed = _recompute(events, stores, position, [m.unit for m in members], period,
                                as_of_us, rulebook_id)
        for member in members:
            check.differences.extend(compare(member, recomputed[member.unit].to_json()))
        if progress is not None:
            progress(len(members), len(rows))
    return check


def _recompute(events: list[Event], stores: dict[tuple[int, int], FactStore], position: int,
               units: list[str], period_key: str, as_of_us: int,
               rulebook_id: str) -> dict[str, UnitScore]:
    """projections.recompute.recompute_scores, with each unit's score computed once per
    group (ranking a group of n peers there costs n² scores)."""
    rulebook = load_rulebook(rulebook_id)
    period = parse_period(period_key)
    as_of = to_datetime(as_of_us)
    t = period.evaluation_time(as_of_us)
    store = stores.get((position, t))
    if store is None:
        if len(stores) >= 8:  # rows come ordered by position: older stores are done with
            stores.clear()
        # the reference fold: the recomputation shares no compiled code with the live path
        store = stores[(position, t)] = facts_as_of(events, t, compiled=False)
    cache: dict[str, UnitScore] = {}

    def score(code: str) -> UnitScore:
        if code not in cache:
            counts = recompute_counts(store, code, period, t, rulebook)
            cache[code] = make_unit_score(store.units.get(code), period, as_of, t, rulebook,
                                          counts, store.position)
        return cache[code]

    result: dict[str, UnitScore] = {}
    for code in units:
        own = score(code)
        peers = [u.code for u in store.units.peers(code) if store.unit_exists_at(u.code, t)]
        if peers:
            ranks = standard_competition_ranks({p: score(p).total for p in peers})
            own = with_rank(own, ranks[code])
        result[code] = own
    return result


def compare(row: StoredScore, fresh: dict[str, Any]) -> list[Difference]:
    """Differences between a stored score (JSON) and a recomputed one."""
    found: list[Difference] = []
    stored = row.score

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, float) and isinstance(b, float | int):
            return abs(a - b) <= TOLERANCE
        return bool(a == b)

    for key in ("total", "band", "rank"):
        if not same(stored.get(key), fresh.get(key)):
            found.append(Difference(row, key, stored.get(key), fresh.get(key)))
    if stored.get("rulebook") != fresh.get("rulebook"):
        found.append(Difference(row, "rulebook", stored.get("rulebook"), fresh.get("rulebook")))
    fresh_indicators = {i["code"]: i for g in fresh.get("groups", []) for i in g["indicators"]}
    for group in stored.get("groups", []):
        for indicator in group["indicators"]:
            other = fresh_indicators.get(indicator["code"], {})
            for key in ("numerator", "denominator", "points", "applicable"):
                if not same(indicator.get(key), other.get(key)):
                    found.append(Difference(row, f"{indicator['code']}.{key}",
                                            indicator.get(key), other.get(key)))
    return found
