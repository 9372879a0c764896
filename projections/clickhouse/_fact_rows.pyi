"""Types of the compiled fact rows (projections/clickhouse/_fact_rows.pyx)."""

from datetime import datetime
from typing import Any

from domain.calendar import WorkingCalendar
from projections.rulebook import Switches

class FactRows:
    def __init__(self, switches: Switches, calendar: WorkingCalendar) -> None: ...
    def row(self, facts: Any, t: int, province: str, evaluated_at: datetime,
            position: int) -> tuple[tuple[Any, ...], int | None]: ...
