"""The compiled fold, counters and fact rows give exactly what their pure-Python references give."""

from __future__ import annotations

import random
from dataclasses import fields
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections import facts
from projections.engine import ScoringEngine
from projections.facts import FactStore
from projections.native import missing
from projections.periods import to_datetime, to_instant
from projections.rulebook import load_rulebook
from projections.synthetic import random_history
from tests.conftest import skip_or_fail

DOSSIER_FIELDS = tuple(f.name for f in fields(facts.DossierFacts))  # the reference's
RULEBOOKS = ("vn-766", "vn-766-online12")
UNITS = ("22", "22.S0", "22.S1")
PERIODS = ("2026-09", "2026-10", "2026-Q4", "2026-11", "2026-12", "2027-01", "2027-Q1", "2026",
           "2027")


@pytest.fixture(autouse=True)
def _built() -> None:
    if missing():
        skip_or_fail(f"compiled projections not built (run `make setup`): {missing()}")


def _store(events: list[dict[str, Any]], pure: bool, monkeypatch: pytest.MonkeyPatch
           ) -> FactStore:
    monkeypatch.setenv("DOSSIER_PURE_PYTHON", "1" if pure else "0")
    return FactStore().fold(events)


def _summary(store: FactStore) -> dict[str, Any]:
    return {
        "dossiers": {i: tuple(getattr(f, n) for n in DOSSIER_FIELDS)
                     for i, f in store.dossiers.items()},
        "by_unit": store.dossiers_by_unit, "petitions": store.petitions,
        "procedures": store.procedures, "activity": store.activity_changed,
        "clock": (store.watermark, store.position, store.events),
    }


def test_the_compiled_dossier_facts_use_the_fields_of_the_reference() -> None:
    from dataclasses import fields

    from projections._fold import FIELDS, DossierFacts

    from projections.facts import DossierFacts as Reference

    assert FIELDS == DOSSIER_FIELDS == tuple(f.name for f in fields(Reference))
    args = ("d", "c", "p", "22", "online", "citizen", True, False, True, False, True, 5)
    ours, theirs = DossierFacts(*args, resolved_at=9), Reference(*args, resolved_at=9)
    assert [getattr(ours, n) for n in FIELDS] == [getattr(theirs, n) for n in FIELDS]
    assert ours.end_at(8) is None and ours.end_at(9) == theirs.end_at(9) == 9
    assert ours == DossierFacts(*args, resolved_at=9) and ours != DossierFacts(*args)
    assert "resolved_at=9" in repr(ours)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 100_000), dossiers=st.integers(1, 40), petitions=st.integers(0, 6))
def test_the_compiled_fold_equals_the_reference(
    seed: int, dossiers: int, petitions: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = random_history(seed, dossiers, petitions=petitions, departments=2, communes=2,
                            procedures=5)
    random.Random(seed).shuffle(events)  # out of order too: the fold must not care how
    assert _summary(_store(events, False, monkeypatch)) == _summary(
        _store(events, True, monkeypatch))


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 100_000), dossiers=st.integers(1, 25), petitions=st.integers(0, 4))
def test_compiled_and_reference_engines_agree_after_every_flush(
    seed: int, dossiers: int, petitions: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Touched keys and counts at several evaluation times, both rulebooks, flushes at random."""
    events = random_history(seed, dossiers, petitions=petitions, departments=2, communes=1,
                            procedures=4)
    books = [load_rulebook(r) for r in RULEBOOKS]
    monkeypatch.setenv("DOSSIER_PURE_PYTHON", "0")
    compiled = ScoringEngine(books)
    monkeypatch.setenv("DOSSIER_PURE_PYTHON", "1")
    reference = ScoringEngine(books)
    assert compiled.compiled and not reference.compiled
    rng = random.Random(seed)
    for i, event in enumerate(events):
        compiled.apply(event)
        reference.apply(event)
        if rng.random() > 0.3 and i != len(events) - 1:
            continue
        assert compiled.flush() == reference.flush(), i
        now = to_datetime(compiled.facts.watermark)
        for _ in range(3):
            unit, period, rulebook = rng.choice(UNITS), rng.choice(PERIODS), rng.choice(RULEBOOKS)
            if unit not in compiled.facts.units:
                continue
            as_of = now + timedelta(days=rng.choice([0, 1, 10, 40, 200]))
            assert compiled.counts(unit, period, as_of, rulebook) == reference.counts(
                unit, period, as_of, rulebook), (i, unit, period, as_of, rulebook)


def test_the_auditors_recomputation_folds_with_the_reference() -> None:
    """``dossier verify --scores`` recomputes with no compiled code of the live path."""
    from projections.recompute import facts_as_of

    events = random_history(7, 5, departments=1, communes=1, procedures=2)
    store = facts_as_of(events, 2**62, compiled=False)
    assert store.compiled_fold is None
    assert all(type(f) is facts.DossierFacts for f in store.dossiers.values())
    assert FactStore(compiled=True).compiled_fold is not None


def _fact_rows(rulebook: str, compiled: bool) -> Any:
    from projections.clickhouse import _fact_rows, rows

    book = load_rulebook(rulebook)
    maker = _fact_rows.FactRows if compiled else rows.FactRows
    return maker(book.switches, book.working_calendar())


def _exact(made: tuple[tuple[Any, ...], int | None]) -> tuple[bytes, int | None]:
    """A row as its JSON text (True and 1 differ there) with its watch deadline."""
    row, deadline = made
    return orjson.dumps(row), deadline


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 100_000), dossiers=st.integers(1, 40))
def test_the_compiled_fact_rows_equal_the_reference(
    seed: int, dossiers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every dossier's row and deadline, at its events' times and between them, under both
    rulebooks; datetimes compared as the JSON ClickHouse receives."""
    events = random_history(seed, dossiers, departments=2, communes=2, procedures=5)
    random.Random(seed).shuffle(events)
    compiled, reference = _store(events, False, monkeypatch), _store(events, True, monkeypatch)
    rng = random.Random(seed)
    moments = sorted({e["at"] for e in events})
    for rulebook in RULEBOOKS:
        ours, theirs = _fact_rows(rulebook, True), _fact_rows(rulebook, False)
        for dossier_id, f in compiled.dossiers.items():
            for _ in range(4):
                at = to_instant(datetime.fromisoformat(rng.choice(moments)))
                t = at + rng.choice([-1, 0, 1, 3_600_000_000, 86_400_000_000 * rng.randint(1, 60)])
                position = rng.randint(0, 10**6)
                evaluated_at = to_datetime(t)
                assert _exact(ours.row(f, t, "22", evaluated_at, position)) == _exact(
                    theirs.row(reference.dossiers[dossier_id], t, "22", evaluated_at, position)
                ), (rulebook, dossier_id, t)


@pytest.mark.parametrize("instant", [
    -10**15, -1, 0, 1, 189_277_199_999_999, 189_277_200_000_000, 1_767_200_400_123_457,
    4_102_419_599_999_999, 4_102_419_600_000_000, 7 * 10**15,
])
def test_the_compiled_fact_rows_keep_every_instant(instant: int) -> None:
    """The datetimes built from their fields equal ``periods.to_datetime`` inside 1976–2099
    and fall back to it outside (the zone's offsets before 1976 differ)."""
    from projections._fold import DossierFacts

    args = ("d", "c", "p", "22", "online", "citizen", True, False, True, False, True)
    steps = dict(submitted_at=instant, received_at=instant, due_at=instant + 1,
                 appraised_at=instant, approved_at=instant, signed_at=instant,
                 returned_at=instant + 5, resolved_at=instant + 5)
    ours, theirs = DossierFacts(*args, **steps), facts.DossierFacts(*args, **steps)
    for t in (instant, instant + 5, instant + 10**12):
        evaluated_at = to_datetime(t)
        made = _fact_rows("vn-766", True).row(ours, t, "22", evaluated_at, 1)
        assert _exact(made) == _exact(
            _fact_rows("vn-766", False).row(theirs, t, "22", evaluated_at, 1))
        assert made[0][8] == to_datetime(instant)  # received_at
