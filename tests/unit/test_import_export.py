"""Import (all or nothing) and export of the canonical JSONL format."""

from __future__ import annotations

import orjson
import pytest

from ledger.application import DossierLedger
from ledger.config import StoreConfig
from ledger.errors import ImportRejected
from ledger.transfer import export_lines, import_lines
from tests.conftest import EXAMPLE_EVENTS, FrozenClock


def example() -> list[bytes]:
    return EXAMPLE_EVENTS.read_bytes().splitlines(keepends=True)


def fresh(clock: FrozenClock) -> DossierLedger:
    return DossierLedger(StoreConfig("memory"), clock=clock)


def without_ledger_fields(lines: list[bytes]) -> list[dict]:
    return [{k: v for k, v in orjson.loads(x).items() if k not in ("position", "recorded_at")}
            for x in lines]


def test_export_then_import_into_an_empty_ledger_gives_the_same_events(
    clock: FrozenClock,
) -> None:
    first = fresh(clock)
    import_lines(first, example())
    exported = list(export_lines(first))
    second = fresh(clock)
    result = import_lines(second, exported)
    assert result.events == len(exported) == 30
    assert without_ledger_fields(list(export_lines(second))) == without_ledger_fields(exported)


def test_importing_the_same_file_twice_records_nothing_new(clock: FrozenClock) -> None:
    ledger = fresh(clock)
    import_lines(ledger, example())
    head = ledger.max_position()
    assert import_lines(ledger, example()).already_imported
    assert ledger.max_position() == head


def test_export_since_a_position(clock: FrozenClock) -> None:
    ledger = fresh(clock)
    import_lines(ledger, example())
    tail = list(export_lines(ledger, since=28))
    assert [orjson.loads(x)["position"] for x in tail] == [29, 30]


def _mutated(index: int, change: dict) -> list[bytes]:
    lines = example()
    event = orjson.loads(lines[index])
    for key, value in change.items():
        if key.startswith("data."):
            event["data"][key[5:]] = value
        elif value is None:
            event.pop(key)
        else:
            event[key] = value
    lines[index] = orjson.dumps(event) + b"\n"
    return lines


BAD_FILES = [
    ("bad json", lambda: [*example()[:3], b"{not json\n", *example()[3:]], 4, "json"),
    ("unknown type", lambda: _mutated(5, {"type": "procedure.renamed"}), 6, "format"),
    ("unknown field", lambda: _mutated(8, {"data.colour": "blue"}), 9, "format"),
    ("wrong type", lambda: _mutated(2, {"data.statutory_days": "15"}), 3, "format"),
    ("naive timestamp", lambda: _mutated(9, {"at": "2026-10-01T09:00:00"}), 10, "format"),
    ("gap in seq", lambda: _mutated(10, {"seq": 5}), 11, "sequence"),
    ("repeat in seq", lambda: _mutated(10, {"seq": 2}), 11, "sequence"),
    ("missing seq", lambda: _mutated(10, {"seq": None}), 11, "sequence"),
    ("dropped events", lambda: example()[:9] + example()[11:], 10, "sequence"),
    ("unknown unit", lambda: _mutated(2, {"data.unit": "22.SXX"}), 3, "unknown reference"),
    ("unknown procedure", lambda: _mutated(7, {"data.procedure": "p-x"}), 8,
     "unknown reference"),
    ("missing field", lambda: _mutated(7, {"data.channel": None}), 8, "format"),
]


@pytest.mark.parametrize(("name", "make", "line", "rule"), BAD_FILES,
                         ids=[b[0] for b in BAD_FILES])
def test_one_bad_line_rejects_the_whole_file(clock: FrozenClock, name: str, make, line: int,
                                             rule: str) -> None:
    ledger = fresh(clock)
    lines = make()
    if name == "missing field":
        event = orjson.loads(lines[7])
        del event["data"]["channel"]
        lines[7] = orjson.dumps(event) + b"\n"
    with pytest.raises(ImportRejected) as caught:
        import_lines(ledger, lines)
    assert (caught.value.line, caught.value.rule) == (line, rule), str(caught.value)
    assert ledger.max_position() == 0


def test_an_illegal_action_in_a_file_names_its_line(clock: FrozenClock) -> None:
    lines = example()
    event = orjson.loads(lines[12])  # d-0001 approved → resolved while supplement open? no:
    event.update(type="dossier.supplement_completed", data={})  # none is open at seq 6
    lines[12] = orjson.dumps(event) + b"\n"
    with pytest.raises(ImportRejected, match=r"line 13: .lifecycle.*no supplement request"):
        import_lines(fresh(clock), lines)


def test_a_hash_that_does_not_verify_rejects_the_file(clock: FrozenClock) -> None:
    source = fresh(clock)
    import_lines(source, example())
    exported = list(export_lines(source))
    event = orjson.loads(exported[4])
    event["data"]["components_complete"] = False  # altered after hashing
    exported[4] = orjson.dumps(event) + b"\n"
    target = fresh(clock)
    with pytest.raises(ImportRejected, match=r"line 5: .hash. .*does not verify"):
        import_lines(target, exported)
    assert target.max_position() == 0


def test_import_continues_existing_streams(clock: FrozenClock) -> None:
    ledger = fresh(clock)
    import_lines(ledger, example()[:12])
    result = import_lines(ledger, example()[12:])
    assert result.events == 18
