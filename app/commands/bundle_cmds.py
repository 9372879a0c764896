"""Offline bundles: ``dossier bundle`` writes what an auditor needs to check a dossier's
history or to recompute a published ranking without the ledger; ``dossier verify-bundle``
checks one (docs/proofs.md, "Offline bundles")."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from app.commands.live_hooks import live_tables
from app.commands.proof_cmds import signing_key
from app.commands.rankings import check_ranking_options, nothing_to_rank, rulebook_and_period
from app.commands.stores import ledger_to_read
from app.console import LOCAL_TZ, err, fail, out, parse_moment
from app.settings import Settings
from domain.units import UnitKind
from ledger.application import DossierLedger
from ledger.bundles import checkpoint_from_note, dossier_bundle, log_records, signed
from ledger.errors import LedgerError
from ledger.merkle import MissingNode
from ledger.proofcheck import CheckedBundle, ProofError, check_bundle, parse_verifier_key
from ledger.proofs import find_checkpoint
from projections.clickhouse.queries import ranking_scores
from projections.engine import ScoringEngine
from projections.facts import FactStore
from projections.periods import InvalidPeriod, Period, parse_period, to_instant
from projections.recompute import SnapshotScores
from projections.rulebook import RULEBOOK_DIR, Rulebook, RulebookError, parse_rulebook


def register(cli: typer.Typer) -> None:
    cli.command("bundle")(bundle_cmd)
    cli.command("verify-bundle")(verify_bundle_cmd)


def bundle_cmd(
    out_file: Annotated[Path, typer.Option("--out", help="write the bundle (JSON) here")],
    dossier: Annotated[str | None, typer.Option(
        help="the dossier (its code, mã hồ sơ, or its id): its events and their proofs")] = None,
    ranking: Annotated[bool, typer.Option(
        "--ranking", help="a ranking: the checkpointed log, the rulebook and the scores")
    ] = False,
    period: Annotated[str | None, typer.Option(
        "--period", "-p", help="with --ranking: month 2026-10, quarter 2026-Q4 or year 2026")
    ] = None,
    kind: Annotated[str, typer.Option("--kind", "-k", help="with --ranking: province, "
                                      "department or commune")] = "province",
    province: Annotated[str | None, typer.Option(
        help="with --ranking: only the departments or communes of this province")] = None,
    rulebook: Annotated[str, typer.Option("--rulebook", "-r", help="rulebook id")] = "vn-766",
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="with --ranking: the evaluation moment; default: the checkpoint's time")
    ] = None,
    checkpoint: Annotated[str | None, typer.Option(
        help="the checkpoint: its size (kept in the ledger) or its file; default: the latest")
    ] = None,
    since: Annotated[list[Path] | None, typer.Option(
        help="with --dossier: also prove that the checkpoint extends this earlier one (file)")
    ] = None,
    published: Annotated[bool, typer.Option(
        "--published", help="with --ranking: the ranking as published in ClickHouse "
        "(`dossier follow`, `live-rank`), each row at the position and moment it reflects; "
        "default: as the scoring engine computes it over the checkpoint")] = False,
) -> None:
    """Write an offline bundle, signed with the signing key: a dossier's events with their
    inclusion proofs (--dossier CODE), or what recomputes a ranking (--ranking --period P):
    every event of the checkpointed log, the rulebook, the evaluation time and the scores.
    Check it with `dossier verify-bundle FILE`."""
    if (dossier is None) == (not ranking):
        fail("give --dossier CODE or --ranking --period P")
    if ranking and period is None:
        fail("--ranking needs --period (e.g. 2026-10)")
    settings = Settings()
    key = signing_key(settings.signing_key_path)
    ledger = ledger_to_read(settings, doing="bundle")
    try:
        at = find_checkpoint(ledger, checkpoint)
        if dossier is not None:
            earlier = [checkpoint_from_note(_read(p)) for p in since or []]
            bundle = dossier_bundle(ledger, dossier, at, key, earlier)
            what = f"dossier {bundle['code']}: {len(bundle['proofs'])} events"
        else:
            assert period is not None
            if published and as_of is not None:
                fail("--published takes each row's own moment: no --as-of")
            bundle = _ranking_bundle(ledger, at.size, at.signed_at, period, kind, province,
                                     rulebook, as_of, published=published)
            bundle |= {"verifier_key": key.verifier_key(), "checkpoint": at.note}
            what = (f"ranking of {len(bundle['scores'])} {kind} units for {period}, "
                    f"{at.size} log records")
    except (LedgerError, MissingNode, ProofError) as error:
        fail(str(error), code=1)
    finally:
        ledger.close()
    partial = out_file.with_name(out_file.name + ".partial")
    partial.write_bytes(json.dumps(signed(bundle, key), ensure_ascii=False).encode() + b"\n")
    partial.replace(out_file)
    err.print(f"bundle written to {out_file}: {what}, checkpoint of {at.size} events",
              style="dim", highlight=False)


def _read(path: Path) -> str:
    if not path.exists():
        fail(f"no bundle or checkpoint at {path}: write one with `dossier bundle` (or "
             "`dossier checkpoint --out`)")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"{path}: cannot read it ({error})")


def _ranking_bundle(ledger: DossierLedger, size: int, signed_at: str, period: str, kind: str,
                    province: str | None, rulebook: str, as_of: str | None, *,
                    published: bool = False) -> dict[str, Any]:
    """The ranking as the ledger's scoring engine computes it over the checkpointed log, or
    (``published``) as ClickHouse holds it, each row with the position it reflects."""
    check_ranking_options(kind, province, False, False)
    book, span = rulebook_and_period(rulebook, period)
    moment = (parse_moment(as_of) if as_of is not None
              else datetime.fromisoformat(signed_at)).astimezone(LOCAL_TZ)
    records = log_records(ledger, size)
    if published:
        rows = _published_rows(span.key, kind, province, book.id, size)
        moment = max(datetime.fromisoformat(row["as_of"]) for row in rows)
    else:
        engine = ScoringEngine([book])
        for position, record in enumerate(records, start=1):
            if record.get("stream") != "request":
                engine.apply(record | {"position": position})
        engine.flush()
        rows = [s.to_json() for s in engine.rank(kind, span, moment, book.id,
                                                 province=province)]
        if not rows:
            nothing_to_rank(kind, span.key, province, f"in the checkpoint of {size} events")
    return {"kind": "ranking-bundle", "format": 1, "period": span.key, "unit_kind": kind,
            "province": province, "as_of": moment.isoformat(), "published": published,
            "rulebook": {"id": book.id, "version": book.version,
                         "toml": (RULEBOOK_DIR / f"{book.id}.toml").read_text("utf-8")},
            "records": records, "scores": rows}


def _published_rows(period: str, kind: str, province: str | None, rulebook: str, size: int
                    ) -> list[dict[str, Any]]:
    """The published ranking's rows (``score_json`` with the position each reflects), all
    of them within the checkpoint."""
    with live_tables(Settings()) as client:
        stored = ranking_scores(client, period=period, kind=kind, rulebook=rulebook,
                                province=province)
    if not stored:
        nothing_to_rank(kind, period, province, "in ClickHouse's live tables")
    last = max(s.position for s in stored)
    if last > size:
        fail(f"the published ranking reflects position {last}, after the checkpoint of {size} "
             "events: take a new checkpoint (`dossier checkpoint`) first", code=1)
    return [s.score | {"position": s.position} for s in stored]


def verify_bundle_cmd(
    file: Annotated[Path, typer.Argument(help="the bundle, as written by `dossier bundle`")],
    key: Annotated[str | None, typer.Option(
        help="the published verifier key (or its file); default: the bundle's own")] = None,
    since: Annotated[Path | None, typer.Option(
        help="an earlier checkpoint (file): check that the bundle's extends it")] = None,
) -> None:
    """Check a bundle without the ledger: the checkpoint's signature, every proof, the
    bundle's own signature; for a ranking, recompute every score from the bundle's events
    with the auditors' independent fold and show them equal to the published ones. Exit 0
    when it holds, 1 (naming why) otherwise."""
    verifier = None
    if key is not None:
        text = _read(Path(key)) if Path(key).is_file() else key
        try:
            verifier = parse_verifier_key(text)
        except ProofError as error:
            fail(f"--key: {error}")
    raw = _read(file)
    try:
        bundle = json.loads(raw)
        checked = check_bundle(bundle, verifier, None if since is None else _read(since))
        if checked.kind == "ranking-bundle":
            rows = recompute_ranking(bundle, checked)
    except ValueError as error:  # ProofError, or JSON that does not parse
        out.print(f"FAILED: {file}: {error}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (KeyError, TypeError, AttributeError, IndexError) as error:
        out.print(f"FAILED: {file}: malformed bundle ({error!r})", highlight=False,
                  soft_wrap=True)
        raise typer.Exit(1) from None
    if verifier is None:
        err.print(f"the bundle's verifier key ({checked.key.name}+{checked.key.key_id.hex()})"
                  " was used: compare it with the published one, or give --key",
                  style="yellow", highlight=False)
    if checked.kind == "ranking-bundle":
        for unit, total, rank in rows:
            out.print(f"  {unit:<8} {total:>7.2f}  rank {rank if rank is not None else '—'}"
                      "  recomputed: equal", highlight=False, soft_wrap=True)
    out.print(f"OK: {file}: {checked.summary}"
              + (f"; all {len(rows)} scores recomputed and equal"
                 if checked.kind == "ranking-bundle" else ""), highlight=False, soft_wrap=True)


def recompute_ranking(bundle: dict[str, Any], checked: CheckedBundle
                      ) -> list[tuple[str, float, int | None]]:
    """Recompute every published score of a checked ranking bundle from its events with the
    pure-Python reference fold (``projections.recompute``, no compiled code of the live
    path) and the bundle's rulebook; raise ProofError at the first difference. Returns
    (unit, total, rank) of each score."""
    book = _rulebook(bundle["rulebook"])
    try:
        period = parse_period(str(bundle["period"]))
        as_of = datetime.fromisoformat(str(bundle["as_of"]))
        kind = UnitKind(bundle["unit_kind"])
    except (InvalidPeriod, ValueError) as error:
        raise ProofError(f"the bundle's period, time or kind is not readable ({error})"
                         ) from None
    scores = SnapshotScores(FactStore(compiled=False))
    published = bundle.get("published") is True
    recomputed: dict[int, dict[str, Any]] = {}
    if published:  # each row recomputed by the fold standing at its own position
        beyond = [row for row in bundle["scores"]
                  if not 0 < int(row["position"]) <= checked.checkpoint.size]
        if beyond:
            raise ProofError(f"the published score of unit {beyond[0]['unit']} reflects "
                             f"position {beyond[0]['position']}, outside the checkpoint's "
                             f"{checked.checkpoint.size} events")
        rows_by_position = sorted(enumerate(bundle["scores"]),
                                  key=lambda pair: int(pair[1]["position"]))
        waiting = iter(rows_by_position)
        pending = next(waiting, None)
        for event in [*checked.events, None]:
            scores.moved()
            while pending is not None and (event is None
                                           or int(pending[1]["position"]) < event["position"]):
                recomputed[pending[0]] = _recomputed(scores, pending[1], period, book)
                pending = next(waiting, None)
            if event is not None:
                scores.apply(event)
    else:
        for event in checked.events:
            scores.apply(event)
    scores.moved()
    store, instant = scores.store, to_instant(as_of)
    t = period.evaluation_time(instant)
    province = bundle.get("province")
    expected = sorted(u.code for u in store.units.of_kind(kind)
                      if store.unit_exists_at(u.code, t)
                      and (province is None or store.units.province_of(u.code) == province))
    units = {str(row.get("unit")): row for row in bundle["scores"]}
    if sorted(units) != expected:
        missing = sorted(set(expected) - set(units))
        extra = sorted(set(units) - set(expected))
        raise ProofError(f"the published ranking does not hold the units the events give "
                         f"(missing: {', '.join(missing) or 'none'}; not expected: "
                         f"{', '.join(extra) or 'none'})")
    rows = []
    for index, row in enumerate(bundle["scores"]):
        unit = str(row["unit"])
        if published:
            mine, row = recomputed[index], {k: v for k, v in row.items() if k != "position"}
        else:
            mine = json.loads(orjson.dumps(scores.score(unit, period, instant, book).to_json()))
        if mine != row:
            field = next(k for k in sorted(set(mine) | set(row)) if mine.get(k) != row.get(k))
            raise ProofError(f"the published score of unit {unit} differs from the one "
                             f"recomputed from the events: {field} is {row.get(field)!r}, "
                             f"recomputed {mine.get(field)!r}")
        rows.append((unit, float(row["total"]), row.get("rank")))
    return rows


def _recomputed(scores: SnapshotScores, row: dict[str, Any], period: Period,
                book: Rulebook) -> dict[str, Any]:
    """A published row's score recomputed by the fold as it stands, at the row's moment (its
    ``as_of`` text kept when it names the same instant)."""
    moment = datetime.fromisoformat(str(row["as_of"]))
    mine: dict[str, Any] = json.loads(orjson.dumps(scores.score(
        str(row["unit"]), period, to_instant(moment), book).to_json()))
    if datetime.fromisoformat(mine["as_of"]) == moment:
        mine["as_of"] = row["as_of"]
    return mine


def _rulebook(given: dict[str, Any]) -> Rulebook:
    try:
        book = parse_rulebook(str(given["toml"]), "the bundle's rulebook")
    except RulebookError as error:
        raise ProofError(str(error)) from None
    if (book.id, book.version) != (given.get("id"), given.get("version")):
        raise ProofError(f"the bundle's rulebook is {book.id}@{book.version}, not "
                         f"{given.get('id')}@{given.get('version')} as it says")
    return book
