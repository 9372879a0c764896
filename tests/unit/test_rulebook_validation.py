"""Rulebooks are validated data: totals, switches, methods and unknown keys."""

from __future__ import annotations

import pytest

from projections.rulebook import (
    RULEBOOK_DIR,
    InvalidRulebook,
    UnknownIndicator,
    UnknownRulebook,
    load_rulebook,
    parse_rulebook,
)

TEXT = (RULEBOOK_DIR / "vn-766.toml").read_text("utf-8")


def test_shipped_rulebooks_total_100_and_name_their_switches() -> None:
    base, alt = load_rulebook("vn-766"), load_rulebook("vn-766-online12")
    assert sum(g.max for g in base.groups) == sum(g.max for g in alt.groups) == 100
    assert [i.code for g in base.groups for i in g.indicators][:6] == [
        "1.1", "1.2", "1.3", "1.4", "2.1", "3.1"]
    assert base.switches.online_tab == "2+4+6" and alt.switches.online_tab == "single-12"
    assert base.switches.carried_over_in_2_1 and not alt.switches.carried_over_in_2_1
    assert not base.switches.apology_extends_due and alt.switches.apology_extends_due
    assert base.indicator("4.2").method == "linear"
    assert alt.indicator("4.2").threshold == 0.80
    assert base.indicator("4.3").applies_to == ("province",)
    assert base.calendar.weekend_workdays is False
    assert base.label == "vn-766@1"


@pytest.mark.parametrize(("old", "new", "complaint"), [
    ("max = 18", "max = 19", "add up"),
    ('code = "1.1"\n', 'code = "1.1"\ncolour = "red"\n', "colour"),
    ('online_tab = "2+4+6"', 'online_tab = "single-12"', "online_tab"),
    ('method = "threshold"\nthreshold = 0.80', 'method = "threshold"', "threshold"),
    ('on_empty = "zero"', 'on_empty = "maybe"', "on_empty"),
])
def test_invalid_rulebooks_are_refused_with_the_reason(old: str, new: str, complaint: str) -> None:
    with pytest.raises(InvalidRulebook, match=complaint):
        parse_rulebook(TEXT.replace(old, new, 1))


def test_unknown_rulebook_and_indicator_name_what_was_asked() -> None:
    with pytest.raises(UnknownRulebook, match="nope"):
        load_rulebook("nope")
    with pytest.raises(UnknownIndicator, match=r"9\.9"):
        load_rulebook().indicator("9.9")
