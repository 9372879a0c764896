"""Rulebooks as data: pydantic models of a TOML rulebook (groups, indicators, bands, switches)."""

from __future__ import annotations

import tomllib
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.calendar import WorkingCalendar

UNIT_KINDS = ("province", "department", "commune", "ministry", "agency")
SHIPPED = ("vn-766", "vn-766-online12")
DEFAULT_RULEBOOK = "vn-766"
RULEBOOK_DIR = Path(__file__).resolve().parent / "rulebooks"


class Measure(StrEnum):
    """What an indicator counts; the engine knows how to count each of these."""

    PROCEDURES_PUBLISHED_ON_TIME = "procedures_published_on_time"  # 1.1
    PROCEDURES_PUBLIC_ON_TIME = "procedures_public_on_time"  # 1.2
    PUBLIC_PROCEDURES_COMPLETE = "public_procedures_complete"  # 1.3
    DOSSIERS_SYNCED = "dossiers_synced"  # 1.4
    DOSSIERS_ON_TIME = "dossiers_on_time"  # 2.1
    PROCEDURES_ONLINE = "procedures_online"  # 3.1
    ONLINE_PROCEDURES_USED = "online_procedures_used"  # 3.2
    DOSSIERS_ONLINE = "dossiers_online"  # 3.3
    FULL_ONLINE_DOSSIERS = "full_online_dossiers"  # single 12-point online tab
    DOSSIERS_PAID_ONLINE = "dossiers_paid_online"  # 3.4
    PROCEDURES_PAID_ONLINE = "procedures_paid_online"  # 3.5
    PROCEDURES_PAYMENT_INTEGRATED = "procedures_payment_integrated"  # 3.6
    ELECTRONIC_RESULTS = "electronic_results"  # 4.1
    DOSSIERS_DIGITIZED = "dossiers_digitized"  # 4.2
    COMMUNES_E_CERTIFIED_COPY = "communes_e_certified_copy"  # 4.3
    DOSSIERS_REUSED = "dossiers_reused"  # 4.4
    DOSSIERS_PERSONAL_STORE = "dossiers_personal_store"  # 4.5
    PROCEDURES_POPULATION_DB = "procedures_population_db"  # 4.6
    DOSSIERS_POPULATION_DB = "dossiers_population_db"  # 4.7
    PETITIONS_ON_TIME = "petitions_on_time"  # 5.1
    PETITION_SATISFACTION = "petition_satisfaction"  # 5.2
    DOSSIER_SATISFACTION = "dossier_satisfaction"  # 5.3


ONLINE_TAB_MEASURES = {
    "2+4+6": {Measure.PROCEDURES_ONLINE, Measure.ONLINE_PROCEDURES_USED, Measure.DOSSIERS_ONLINE},
    "single-12": {Measure.FULL_ONLINE_DOSSIERS},
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Indicator(_Strict):
    code: str = Field(pattern=r"^[1-5]\.[0-9]+$")
    name: str = Field(min_length=1)
    measure: Measure
    max: float = Field(gt=0)
    method: Literal["linear", "threshold"]
    threshold: float | None = Field(None, gt=0, le=1)
    on_empty: Literal["zero", "full", "split"]
    applies_to: tuple[str, ...] = UNIT_KINDS

    @model_validator(mode="after")
    def _threshold_matches_method(self) -> Indicator:
        if (self.method == "threshold") != (self.threshold is not None):
            raise ValueError(f"indicator {self.code}: threshold T is required by, and only by, "
                             "method 'threshold'")
        unknown = set(self.applies_to) - set(UNIT_KINDS)
        if unknown:
            raise ValueError(f"indicator {self.code}: unknown unit kinds {sorted(unknown)}")
        return self

    def applies(self, kind: str) -> bool:
        return kind in self.applies_to


class Group(_Strict):
    code: str
    name: str = Field(min_length=1)
    max: float = Field(gt=0)
    indicators: tuple[Indicator, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _points_add_up(self) -> Group:
        total = sum(indicator.max for indicator in self.indicators)
        if abs(total - self.max) > 1e-9:
            raise ValueError(f"group {self.code}: indicator points add up to {total}, "
                             f"not {self.max}")
        return self


class Band(_Strict):
    min: float
    label: str = Field(min_length=1)


class Switches(_Strict):
    """The choices index.md lists as uncertain."""

    online_tab: Literal["2+4+6", "single-12"] = "2+4+6"
    carried_over_in_2_1: bool = True  # dossiers received earlier, unfinished at P's start
    apology_extends_due: bool = False  # an apology's new_due_at replaces the due date


class CalendarRules(_Strict):
    weekend_workdays: bool = False


class Rulebook(_Strict):
    """A versioned scoring rulebook (bộ chỉ số)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    version: int = Field(ge=1)
    name: str
    total: float = 100
    switches: Switches = Switches()
    calendar: CalendarRules = CalendarRules()
    bands: tuple[Band, ...] = Field(min_length=1)
    groups: tuple[Group, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Rulebook:
        total = sum(group.max for group in self.groups)
        if abs(total - self.total) > 1e-9:
            raise ValueError(f"group points add up to {total}, not {self.total}")
        codes = [i.code for g in self.groups for i in g.indicators]
        if len(codes) != len(set(codes)):
            raise ValueError("indicator codes must be unique")
        measures = {i.measure for g in self.groups for i in g.indicators}
        for variant, wanted in ONLINE_TAB_MEASURES.items():
            present = measures & wanted
            if variant == self.switches.online_tab and present != wanted:
                raise ValueError(f"online_tab {variant!r} needs measures {sorted(wanted)}")
            if variant != self.switches.online_tab and present:
                raise ValueError(f"online_tab is {self.switches.online_tab!r}: measures "
                                 f"{sorted(present)} belong to variant {variant!r}")
        mins = [band.min for band in self.bands]
        if mins != sorted(mins, reverse=True):
            raise ValueError("bands must be listed from the highest minimum down")
        return self

    @property
    def ref(self) -> dict[str, str | int]:
        return {"id": self.id, "version": self.version}

    @property
    def label(self) -> str:
        return f"{self.id}@{self.version}"

    def working_calendar(self) -> WorkingCalendar:
        return WorkingCalendar(weekend_workdays=self.calendar.weekend_workdays)

    def indicator(self, code: str) -> Indicator:
        for group in self.groups:
            for indicator in group.indicators:
                if indicator.code == code:
                    return indicator
        raise UnknownIndicator(self.label, code)

    def band(self, total: float) -> str:
        """The band of a total (see ``scores.band_total``)."""
        for band in self.bands:
            if total >= band.min:
                return band.label
        return self.bands[-1].label


def parse_rulebook(text: str, source: str = "<text>") -> Rulebook:
    """A rulebook from TOML text; raises :class:`InvalidRulebook`."""
    try:
        return Rulebook.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError) as error:
        raise InvalidRulebook(source, str(error)) from None


def load_rulebook_file(path: Path) -> Rulebook:
    return parse_rulebook(path.read_text(encoding="utf-8"), str(path))


@lru_cache(maxsize=16)
def load_rulebook(rulebook_id: str = DEFAULT_RULEBOOK) -> Rulebook:
    """A rulebook shipped in ``projections/rulebooks`` (``vn-766``, ``vn-766-online12``)."""
    if rulebook_id not in SHIPPED:
        raise UnknownRulebook(rulebook_id)
    return load_rulebook_file(RULEBOOK_DIR / f"{rulebook_id}.toml")


class RulebookError(Exception):
    """A rulebook could not be found, parsed or used."""


class UnknownRulebook(RulebookError):
    def __init__(self, rulebook_id: str) -> None:
        super().__init__(f"unknown rulebook {rulebook_id!r} (shipped: {', '.join(SHIPPED)})")
        self.rulebook_id = rulebook_id


class InvalidRulebook(RulebookError):
    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"invalid rulebook {source}: {reason}")
        self.source = source


class UnknownIndicator(RulebookError):
    def __init__(self, rulebook: str, code: str) -> None:
        super().__init__(f"unknown indicator {code!r} in rulebook {rulebook}")
        self.code = code
