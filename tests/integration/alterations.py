"""Alter, one at a time, a column of a random current row of every table ``verify --scores``
checks, in a chDB directory, and run the check after each round in the same process (chDB
allows one directory per process): ``python -m tests.integration.alterations DATA_DIR SEED``
prints, per round, the alterations made and the differences the check named, as JSON.

A round alters one row of each table (the tables are checked independently, and every row
altered is another unit score, dossier or position), so each alteration is named by itself.
Columns of a table's sorting key cannot be altered in place: a changed key is a new row
(ClickHouse keeps the old one), named as such. A version column is only raised (a lower
version would leave the current row as it was)."""

from __future__ import annotations

import json
import random
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from ledger.application import DossierLedger
from ledger.config import StoreConfig
from projections.clickhouse import schema
from projections.clickhouse.writer import open_client
from streams.verify import verify_scores

PSEUDONYM_KEY = b"test-key"
LATEST_HISTORY = (f"SELECT rulebook_id, unit, period, position, indicators "
                  f"FROM {schema.SCORE_HISTORY} FINAL ORDER BY rulebook_id, unit, period, "
                  "position DESC, as_of DESC, computed_at DESC "
                  "LIMIT 1 BY rulebook_id, unit, period")
# An indicator row's column (as verify --scores reads score_history) -> the array holding it.
INDICATOR_ARRAYS = {"indicator": "indicators", "group_code": "indicator_groups",
                    "applicable": "applicable", "numerator": "numerators",
                    "denominator": "denominators", "ratio": "ratios", "points": "points",
                    "max_points": "max_points"}
# The columns each table's rows are altered in (a key column makes a new row).
ALTERED = {
    schema.RANKINGS: [*schema.RANKINGS_TABLE.column_names, "score_json:group_points",
                      "score_json:indicator_ratio", "score_json:indicator_numerator",
                      "score_json:indicator_applicable"],
    schema.SCORE_HISTORY: [name for name, _ in schema.INDICATOR_HISTORY_COLUMNS],
    schema.DOSSIER_FACTS: schema.DOSSIER_FACTS_TABLE.column_names,
    schema.EVENTS: schema.EVENTS_TABLE.column_names,
}
NEW_ROW = {  # key columns whose alteration makes a row under a key the ledger does not know
    schema.SCORE_HISTORY: {"rulebook_id", "unit", "period", "indicator"},
    schema.DOSSIER_FACTS: {"dossier_id"},
    schema.EVENTS: {"position"},
}


@dataclass(frozen=True, slots=True)
class Alteration:
    """What was altered, and how ``verify --scores`` must name it: its table, a text its key
    holds, and its column (``row``: the row itself is unexpected)."""

    table: str
    key: str
    column: str
    altered: str  # the column altered (the same as ``column`` but for new rows)


def rounds(rng: random.Random) -> list[list[tuple[str, str]]]:
    """Every column of every table, shuffled, one of each table per round."""
    columns = {table: rng.sample(names, len(names)) for table, names in ALTERED.items()}
    size = max(len(names) for names in columns.values())
    return [[(table, names[i]) for table, names in columns.items() if i < len(names)]
            for i in range(size)]


def change(column: str, kind: str) -> str:
    """An SQL expression for another value of ``column`` (of type ``kind``), never lower."""
    nullable = kind.startswith("Nullable(")
    base = kind[len("Nullable("):-1] if nullable else kind
    if "String" in base:
        new = f"concat({column}, 'x')"
    elif base == "Bool":
        new = f"NOT assumeNotNull({column})"
    elif base.startswith(("UInt", "Int", "Decimal")):
        new = f"assumeNotNull({column}) + 1"
    elif base == "Float64":
        new = f"assumeNotNull({column}) + 0.5"
    elif base.startswith("DateTime64"):
        new = f"assumeNotNull({column}) + INTERVAL 1 DAY"
    else:
        raise ValueError(f"no alteration for {column} {kind}")
    if not nullable:
        return new
    default = {"Bool": "true", "Float64": "0.5"}.get(base, "1")
    if base.startswith("DateTime64"):
        default = "toDateTime64('2026-10-07 00:00:00', 6, 'UTC')"
    return f"if({column} IS NULL, {default}, {new})"


class Alterer:
    """Alters rows of a chDB directory, each time a row no earlier alteration touched."""

    def __init__(self, client: Any, rng: random.Random) -> None:
        self.client, self.rng = client, rng
        self.used: set[Any] = set()
        self.rows: dict[str, list[tuple[Any, ...]]] = {}  # as they were before any alteration

    def alter(self, table: str, column: str) -> Alteration:
        return {schema.RANKINGS: self._score, schema.SCORE_HISTORY: self._history,
                schema.DOSSIER_FACTS: self._facts, schema.EVENTS: self._event}[table](column)

    def _pick(self, sql: str, used: Any) -> tuple[Any, ...]:
        if sql not in self.rows:
            self.rows[sql] = [tuple(r) for r in self.client.query(sql).result_rows]
        rows = self.rows[sql]
        choices = [r for r in rows if used(r) not in self.used]
        row = self.rng.choice(choices)
        self.used.add(used(row))
        return row

    def _insert(self, table: str, column: str, expression: str, where: str,
                parameters: dict[str, Any]) -> None:
        # (the row is chosen in a subquery: a WHERE beside the REPLACE would read its alias)
        self.client.command(f"INSERT INTO {table} SELECT * REPLACE ({expression} AS {column}) "
                            f"FROM (SELECT * FROM {table} FINAL WHERE {where})",
                            parameters=parameters)

    def _score(self, column: str) -> Alteration:
        rulebook, kind, period, unit, text = self._pick(
            f"SELECT rulebook_id, kind, period, unit, score_json FROM {schema.RANKINGS} FINAL "
            "ORDER BY rulebook_id, kind, period, unit",
            lambda r: ("score", r[0], r[3], r[2]))
        where = ("rulebook_id = {rulebook:String} AND kind = {kind:String} AND "
                 "period = {period:String} AND unit = {unit:String}")
        parameters = {"rulebook": rulebook, "kind": kind, "period": period, "unit": unit}
        if column.startswith("score_json"):
            parameters["json"] = self._json(text, column.split(":")[-1])
            self._insert(schema.RANKINGS, "score_json", "{json:String}", where, parameters)
            column = "score_json"
        else:
            kinds = dict(schema.RANKINGS_TABLE.columns)
            self._insert(schema.RANKINGS, column, change(column, kinds[column]), where,
                         parameters)
            changed = {"rulebook_id": "rulebook", "kind": "kind", "period": "period",
                       "unit": "unit"}
            if column in changed:
                parameters[changed[column]] += "x"
        key = (f"{parameters['rulebook']} {parameters['kind']} {parameters['unit']} "
               f"{parameters['period']}")
        return Alteration(schema.RANKINGS, key, column, column)

    def _json(self, text: str, leaf: str) -> str:
        """The score's JSON with one leaf changed: one of the score's own, a group's points,
        or an indicator's ratio, numerator or applicability (of an indicator that applies,
        so it has them)."""
        score = orjson.loads(text)
        group = self.rng.choice(score["groups"])
        if leaf == "score_json":  # a field of the score itself
            name = self.rng.choice(["unit_name", "total", "band", "rank", "as_of"])
            value = score[name]
            score[name] = (value + 0.5 if isinstance(value, float) else
                           value + 1 if isinstance(value, int) else f"{value}x")
        elif leaf == "group_points":
            group["points"] += 0.5
        else:
            indicators = [i for g in score["groups"] for i in g["indicators"] if i["applicable"]]
            indicator = self.rng.choice(indicators)
            name = leaf.removeprefix("indicator_")
            value = indicator[name]
            indicator[name] = (not value if isinstance(value, bool) else
                               0.5 if value is None else value + 1)
        return orjson.dumps(score).decode()

    def _history(self, column: str) -> Alteration:
        """One column of one indicator of a unit score's latest ``score_history`` row (a
        column of the score itself is every indicator's: the indicator picked is one)."""
        rulebook, unit, period, position, indicators = self._pick(
            LATEST_HISTORY, lambda r: ("score", r[0], r[1], r[2]))
        index = self.rng.randrange(len(indicators)) + 1
        indicator = indicators[index - 1]
        where = ("rulebook_id = {rulebook:String} AND unit = {unit:String} AND "
                 "period = {period:String} AND position = {position:UInt64}")
        parameters = {"rulebook": rulebook, "unit": unit, "period": period,
                      "position": position}
        kinds = dict(schema.INDICATOR_HISTORY_COLUMNS)
        target, expression = column, change(column, kinds[column])
        if column == "computed_at":  # the version: raised, so the altered row stays
            expression = "computed_at + INTERVAL 1 SECOND"
        elif column in INDICATOR_ARRAYS:  # that indicator's element of its array
            target = INDICATOR_ARRAYS[column]
            expression = (f"arrayMap((v, j) -> if(j = {index}, {change('v', kinds[column])}, "
                          f"v), {target}, arrayEnumerate({target}))")
        elif column == "group_points":  # the points of that indicator's group
            target = column
            expression = (f"arrayMap((v, j) -> if(j = indexOf(group_codes, "
                          f"indicator_groups[{index}]), v + 0.5, v), group_points, "
                          "arrayEnumerate(group_points))")
        # with the same position, the latest as_of is the altered row's
        self._insert(schema.SCORE_HISTORY, target, expression,
                     where + " ORDER BY as_of DESC LIMIT 1", parameters)
        if column in NEW_ROW[schema.SCORE_HISTORY]:
            new = {name: f"{value}x" if name == column else value for name, value in
                   (("rulebook_id", rulebook), ("unit", unit), ("period", period),
                    ("indicator", indicator))}
            key = " ".join((new["rulebook_id"], new["unit"], new["period"]))
            if column == "indicator":
                key += f" indicator {new['indicator']}"
            return Alteration(schema.SCORE_HISTORY, key, "row", column)
        return Alteration(schema.SCORE_HISTORY, f"{rulebook} {unit} {period} indicator "
                          f"{indicator}", column, column)

    def _facts(self, column: str) -> Alteration:
        (dossier_id,) = self._pick(f"SELECT dossier_id FROM {schema.DOSSIER_FACTS} FINAL "
                                   "ORDER BY dossier_id", lambda r: ("dossier", r[0]))
        kinds = dict(schema.DOSSIER_FACTS_TABLE.columns)
        expression = change(column, kinds[column])
        if column == "evaluated_at":  # a row evaluated before the dossier was submitted
            expression = "assumeNotNull(submitted_at) - INTERVAL 1 DAY"
        self._insert(schema.DOSSIER_FACTS, column, expression, "dossier_id = {id:String}",
                     {"id": dossier_id})
        if column == "dossier_id":
            return Alteration(schema.DOSSIER_FACTS, f"dossier {dossier_id}x", "row", column)
        return Alteration(schema.DOSSIER_FACTS, f"dossier {dossier_id}", column, column)

    def _event(self, column: str) -> Alteration:
        position, data = self._pick(f"SELECT position, data FROM {schema.EVENTS} FINAL "
                                    "ORDER BY position", lambda r: ("event", r[0]))
        where = "position = {position:UInt64}"
        if column == "position":  # a row where the ledger has no event
            self._insert(schema.EVENTS, column, "position + 1000000", where,
                         {"position": position})
            return Alteration(schema.EVENTS, f"position {position + 1_000_000}", "row", column)
        if column == "data":
            fields = orjson.loads(data) if data else {}
            name = self.rng.choice(sorted(fields)) if fields else "added"
            value = fields.get(name)
            fields[name] = (not value if isinstance(value, bool) else
                            value + 1 if isinstance(value, int | float) else
                            f"{value}x" if isinstance(value, str) else "x")
            self._insert(schema.EVENTS, column, "{data:String}", where,
                         {"position": position, "data": orjson.dumps(fields).decode()})
        else:
            kinds = dict(schema.EVENTS_TABLE.columns)
            self._insert(schema.EVENTS, column, change(column, kinds[column]), where,
                         {"position": position})
        return Alteration(schema.EVENTS, f"position {position}", column, column)


def main(data_dir: Path, seed: int) -> list[dict[str, Any]]:
    client = open_client(None, data_dir / "olap")
    ledger = DossierLedger(StoreConfig("sqlite", sqlite_path=data_dir / "ledger.sqlite"))
    rng = random.Random(seed)
    alterer = Alterer(client, rng)
    results = []
    try:
        for plan in rounds(rng):
            made = [alterer.alter(table, column) for table, column in plan]
            check = verify_scores(ledger, client, pseudonym_key=PSEUDONYM_KEY,
                                  connect=lambda: open_client(None, data_dir / "olap"))
            results.append({"made": [asdict(m) for m in made],
                            "named": [[d.table, d.key, d.column, d.describe()]
                                      for d in check.differences]})
    finally:
        ledger.close()
        client.close()
    return results


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]))))
