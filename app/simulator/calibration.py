"""Per-province demand and service-quality parameters, calibrated to public figures.

Anchors (public reports of the provincial one-stop centre): Quảng Ninh received 1,094,919
dossiers and resolved 1,062,504 from 1 January to 15 November 2022 (319 days), ≥ 99.6 % on
time, about 70 % handled online, with 1,552 procedures offered online of which 625 fully;
nationally far fewer dossiers are filed online (about 17 % in mid-2024). Every other province
gets a latent quality drawn from the seed, and each parameter is interpolated between a weak
and a strong value from it, so that the 100-point ranking spreads from about 45 to 95 and
drifts from day to day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields, replace

QUANG_NINH = "22"

# Approximate population of the 34 provinces formed on 1 July 2025, in thousands, by official
# code (sums of the merged provinces' 2024 figures, rounded): good enough to share out demand.
POPULATION_THOUSANDS: dict[str, int] = {
    "01": 8_700, "04": 570, "08": 1_870, "11": 650, "12": 480, "14": 1_300, "15": 1_780,
    "19": 1_800, "20": 810, "22": 1_430, "24": 3_620, "25": 4_020, "31": 4_660, "33": 3_570,
    "37": 4_410, "38": 3_760, "40": 3_470, "42": 1_320, "44": 1_870, "46": 1_160, "48": 3_070,
    "51": 2_160, "52": 3_580, "56": 2_240, "66": 3_350, "68": 3_870, "75": 4_490, "79": 14_000,
    "80": 3_250, "82": 4_370, "86": 4_260, "91": 4_950, "92": 4_200, "96": 2_610,
}

# Quảng Ninh: 1,094,919 dossiers in 319 days for ~1.43 M people ≈ 0.88 dossiers a person a year.
QUANG_NINH_DOSSIERS_PER_CAPITA = 1_094_919 / 319 * 365 / 1_430_000
# Default --scale: a simulated week over the 34 provinces is about 3,000 dossiers.
DEFAULT_SCALE = 0.003


@dataclass(frozen=True, slots=True)
class Quality:
    """Probabilities that drive one province's workload on one simulated day."""

    online_share: float = 0.2  # dossiers filed online (3.3)
    on_time: float = 0.95  # resolved on or before the due date (2.1)
    sync: float = 0.9  # synchronised to the national portal (1.4)
    decision_on_time: float = 0.9  # decision ≥ 5 working days before the legal basis (1.1)
    publish_on_time: float = 0.9  # public within 5 working days of the decision (1.2)
    components_complete: float = 0.95  # published with complete content (1.3)
    offer_online: float = 0.8  # procedures offered online, partial or full (3.1)
    full_given_offer: float = 0.4  # of those, fully online
    payment_integrated: float = 0.7  # fee-bearing procedures with online payment (3.6)
    pay_online: float = 0.5  # fees paid online when the procedure allows it (3.4)
    e_result: float = 0.8  # electronic results (4.1)
    digitized: float = 0.7  # dossiers with a digitised component (4.2)
    e_copy: float = 0.5  # communes offering electronic certified copies (4.3)
    reused: float = 0.4  # dossiers reusing digitised data (4.4)
    personal_store: float = 0.3  # data from or results pushed to the personal store (4.5)
    population_db: float = 0.6  # VNeID-verified or population-database data (4.6, 4.7)
    petition_rate: float = 0.01  # petitions per dossier
    petition_on_time: float = 0.9  # answered within 15 working days (5.1)
    petition_happy: float = 0.8  # rated with more likes than dislikes (5.2)
    recomplain: float = 0.1  # petitions complained about again (5.2)
    rated: float = 0.4  # dossiers rated by the applicant
    satisfied: float = 0.95  # ratings that are satisfied (5.3)
    supplement: float = 0.08  # dossiers asked to supplement (bổ sung)
    same_day: float = 0.85  # "5 tại chỗ" for procedures of 0–1 statutory days


# (weak, strong): the value of each parameter at latent quality 0 and 1.
RANGES: dict[str, tuple[float, float]] = {
    "online_share": (0.03, 0.42),
    "on_time": (0.72, 0.995),
    "sync": (0.45, 1.0),
    "decision_on_time": (0.35, 1.0),
    "publish_on_time": (0.35, 1.0),
    "components_complete": (0.6, 1.0),
    "offer_online": (0.45, 0.95),
    "full_given_offer": (0.15, 0.6),
    "payment_integrated": (0.2, 1.0),
    "pay_online": (0.05, 0.9),
    "e_result": (0.3, 1.0),
    "digitized": (0.3, 1.0),
    "e_copy": (0.05, 1.0),
    "reused": (0.05, 0.9),
    "personal_store": (0.02, 0.7),
    "population_db": (0.25, 0.97),
    "petition_rate": (0.03, 0.008),
    "petition_on_time": (0.55, 1.0),
    "petition_happy": (0.45, 0.95),
    "recomplain": (0.3, 0.02),
    "rated": (0.2, 0.6),
    "satisfied": (0.8, 0.995),
    "supplement": (0.15, 0.04),
    "same_day": (0.3, 0.98),
}

# Quảng Ninh's published figures, held fixed whatever its latent quality does.
ANCHORS: dict[str, dict[str, float]] = {
    QUANG_NINH: {
        "online_share": 0.70,
        "on_time": 0.997,
        "offer_online": 0.93,  # 1,552 procedures at levels 3–4 (92.99 %)
        "full_given_offer": 625 / 1_552,  # 625 at level 4
        "same_day": 0.95,
    },
}

DRIFT_SIGMA = 0.025  # daily random step of the latent quality
DRIFT_PULL = 0.04  # daily pull back towards the province's own level
PARAMETER_SPREAD = 0.12  # how much a province's parameters scatter around its latent quality


@dataclass
class ProvinceProfile:
    """A province's demand and its drifting quality (chất lượng phục vụ)."""

    code: str
    population: int  # people
    dossiers_per_capita: float  # a year
    base_quality: float
    quality: float
    offsets: dict[str, float] = field(default_factory=dict)
    anchors: dict[str, float] = field(default_factory=dict)

    @property
    def dossiers_per_day(self) -> float:
        """Expected dossiers a calendar day, before the --scale factor."""
        return self.population * self.dossiers_per_capita / 365

    def params(self) -> Quality:
        values: dict[str, float] = {}
        for name, (weak, strong) in RANGES.items():
            level = min(1.0, max(0.0, self.quality + self.offsets.get(name, 0.0)))
            values[name] = weak + (strong - weak) * level
        values.update(self.anchors)
        return replace(Quality(), **values)

    def drift(self, rng: random.Random) -> None:
        """One simulated day of random walk, pulled back towards the base quality."""
        step = rng.gauss(0.0, DRIFT_SIGMA) + DRIFT_PULL * (self.base_quality - self.quality)
        self.quality = min(1.0, max(0.0, self.quality + step))


def draw_profiles(rng: random.Random, codes: list[str]) -> dict[str, ProvinceProfile]:
    """Every province's profile, drawn from ``rng`` (Quảng Ninh near the top)."""
    profiles: dict[str, ProvinceProfile] = {}
    for code in sorted(POPULATION_THOUSANDS):
        base = rng.uniform(0.05, 0.85)
        per_capita = rng.uniform(0.35, 0.75)
        offsets = {name: rng.gauss(0.0, PARAMETER_SPREAD) for name in RANGES}
        if code == QUANG_NINH:
            base, per_capita = 0.93, QUANG_NINH_DOSSIERS_PER_CAPITA
            offsets = {name: abs(value) / 2 for name, value in offsets.items()}
        if code in codes:
            profiles[code] = ProvinceProfile(
                code, POPULATION_THOUSANDS[code] * 1000, per_capita, base, base, offsets,
                dict(ANCHORS.get(code, {})))
    return profiles


def quality_fields() -> list[str]:
    return [f.name for f in fields(Quality)]
