"""Tables rebuilt as of a moment: their names, and listing and dropping them.

A full replay swaps its tables in for the live ones. A rebuild as of a moment never does: it
goes into a set of tables of its own, suffixed with the kind of moment and the moment in UTC
(``rankings_current__asof_20261204T165959_999999Z``), that readers ask for by that moment.

- ``asof``: what had happened by T (events whose ``at`` ≤ T), scored at T;
- ``asrec``: what the ledger knew at T (the log up to the last event recorded by T), scored
  at T: the ranking exactly as it was shown then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from projections.clickhouse import schema

MomentKind = Literal["asof", "asrec"]
KINDS: dict[str, str] = {"asof": "--as-of", "asrec": "--as-recorded"}
_SUFFIX = re.compile(r"__(asof|asrec)_(\d{8}T\d{6})(?:_(\d{6}))?Z$")


def moment_suffix(kind: MomentKind, moment: datetime) -> str:
    """The table suffix of a rebuild as of ``moment`` (exact to the microsecond)."""
    utc = moment.astimezone(UTC)
    micros = f"_{utc.microsecond:06d}" if utc.microsecond else ""
    return f"__{kind}_{utc:%Y%m%dT%H%M%S}{micros}Z"


@dataclass(frozen=True, slots=True)
class MomentTables:
    """One set of tables rebuilt as of a moment."""

    kind: str
    moment: datetime
    suffix: str
    position: int  # the last ledger position it reflects
    scores: int  # current score rows

    @property
    def option(self) -> str:
        return KINDS[self.kind]


def parse_suffix(suffix: str) -> tuple[str, datetime] | None:
    match = _SUFFIX.fullmatch(suffix) if suffix.startswith("__") else None
    if match is None:
        return None
    kind, stamp, micros = match.groups()
    moment = datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(
        microsecond=int(micros or 0), tzinfo=UTC)
    return kind, moment


def list_moment_tables(client: Any) -> list[MomentTables]:
    """Every complete set of as-of tables in the database, oldest moment first."""
    prefix = f"{schema.RANKINGS}__"
    result = client.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() "
        "AND startsWith(name, {prefix:String})", parameters={"prefix": prefix})
    found: list[MomentTables] = []
    for (name,) in result.result_rows:
        suffix = name[len(schema.RANKINGS):]
        parsed = parse_suffix(suffix)
        if parsed is None:
            continue  # a rebuild in progress, or another table
        kind, moment = parsed
        position, scores = client.query(
            f"SELECT (SELECT max(position) FROM {schema.TRACKING}{suffix}), count() "
            f"FROM {schema.RANKINGS}{suffix} FINAL").result_rows[0]
        found.append(MomentTables(kind, moment, suffix, int(position or 0), int(scores)))
    return sorted(found, key=lambda m: (m.moment, m.kind))


def drop_moment_tables(client: Any, suffix: str) -> int:
    """Drop one set of as-of tables (and any half-built copy of it); returns tables dropped."""
    if parse_suffix(suffix) is None:
        raise ValueError(f"not the suffix of tables rebuilt as of a moment: {suffix!r}")
    for view in (f"{schema.INDICATOR_HISTORY}{suffix}",
                 f"{schema.INDICATOR_HISTORY}{suffix}__rebuild"):
        client.command(f"DROP VIEW IF EXISTS {view}")
    dropped = 0
    for spec in schema.TABLES:
        for name in (f"{spec.name}{suffix}", f"{spec.name}{suffix}__rebuild"):
            exists = client.query(
                "SELECT count() FROM system.tables WHERE database = currentDatabase() "
                "AND name = {name:String}", parameters={"name": name}).result_rows[0][0]
            if exists:
                client.command(f"DROP TABLE IF EXISTS {name}")
                dropped += 1
    return dropped
