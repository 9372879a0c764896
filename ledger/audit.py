"""Audit: verify the integrity chain of every stored event (and the Merkle tree at each
checkpoint given), and replay a dossier's history as of any moment."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from eventsourcing.persistence import DatabaseError

from domain.dossier import Dossier
from ledger.application import DossierLedger
from ledger.chain import GENESIS, event_hash
from ledger.codec import REQUEST_STREAM, topic_of
from ledger.errors import DossierNotFound
from ledger.log_chain import GENESIS as LOG_GENESIS
from ledger.log_chain import LogRow, hash_of, log_hash, recorded_at_of
from ledger.merkle import Frontier, log_leaf
from ledger.positions import position_of


@dataclass(frozen=True)
class Problem:
    """The first bad event: where it is stored and what is wrong with it."""

    stream: str
    id: str
    seq: int
    position: int
    what: str

    def __str__(self) -> str:
        if not self.stream:
            return f"at position {self.position}: {self.what}"
        return (f"event {self.stream} {self.id} seq {self.seq} at position {self.position}: "
                f"{self.what}")


@dataclass(frozen=True)
class Anchor:
    """A checkpoint the log is checked against: its size, root and time (its signature is
    checked by whoever gives it)."""

    size: int
    root: bytes
    time: str
    label: str = "the checkpoint"


@dataclass
class VerifyReport:
    events: int = 0
    aggregates: int = 0
    head_position: int = 0
    problem: Problem | None = None
    anchors: list[Anchor] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def summary(self) -> str:
        if self.problem is not None:
            return f"FAILED after {self.events} good events: {self.problem}"
        text = (f"OK: {self.events} events checked in {self.aggregates} aggregates, "
                f"chain intact up to position {self.head_position}; positions contiguous, "
                "recorded times in order, log chain intact")
        if self.anchors:
            text += f"; Merkle root matches at {_anchored(self.anchors)}"
        return text


KEPT = "the ledger's checkpoint"


def _anchored(anchors: list[Anchor]) -> str:
    """The checkpoints checked, each named when there are few, else the ledger's own counted."""
    if len(anchors) <= 3:
        return ", ".join(f"{a.size} ({a.label})" for a in anchors)
    named = [f"{a.size} ({a.label})" for a in anchors if not a.label.startswith(KEPT)]
    kept = [a.size for a in anchors if a.label.startswith(KEPT)]
    return ", ".join([*named, f"the ledger's {len(kept)} checkpoints of {kept[0]} to "
                              f"{kept[-1]} events"] if kept else named)


NOT_COVERED = (
    "Not covered without a checkpoint kept outside the ledger: events deleted from the end "
    "of the log (with their log entries), and events appended by hand with correctly "
    "computed hashes. Check against one with: dossier verify --checkpoint FILE "
    "(docs/proofs.md)."
)


@dataclass
class _Head:
    seq: int
    hash: str


def kept_anchors(ledger: DossierLedger) -> list[Anchor]:
    """The ledger's own checkpoints (their signatures are checked when one is given from
    outside, against the published key)."""
    anchors = []
    for kept in ledger.recorder.select_checkpoints():  # type: ignore[attr-defined]
        try:
            root = bytes.fromhex(kept.root)
        except ValueError:
            root = b""
        anchors.append(Anchor(kept.size, root, kept.signed_at,
                              f"{KEPT} of {kept.size} events"))
    return anchors


def verify(ledger: DossierLedger, progress: Callable[[int], None] | None = None,
           anchors: list[Anchor] | None = None) -> VerifyReport:
    """Re-read every stored event and its log entry: re-hash its content and its aggregate's
    chain, and check the log chain over positions and recorded times (contiguous positions,
    recorded times that never go backwards). With ``anchors`` (checkpoints), also rebuild the
    Merkle tree from the recomputed log hashes: at each anchor's size its root must be the
    anchor's, the log must reach that size, and no event after it may be recorded before the
    anchor's time. Stops at the first bad event; a store that cannot be read is reported as
    the problem too. The ledger's own checkpoints are anchors too."""
    report = VerifyReport()
    try:
        report.anchors = sorted([*(anchors or []), *kept_anchors(ledger)],
                                key=lambda a: a.size)
        _verify(ledger, report, progress)
    except (sqlite3.DatabaseError, DatabaseError, OSError) as error:
        where = report.head_position + 1
        report.problem = Problem("", "", 0, where, f"the store cannot be read ({error})")
    return report


def _verify(ledger: DossierLedger, report: VerifyReport,
            progress: Callable[[int], None] | None) -> None:
    heads: dict[str, _Head] = {}
    log = _LogCursor(ledger, report.anchors)
    for row in ledger.read_stored():
        stream, _, key = str(row.originator_id).partition(":")
        problem = _check_row(row, stream, key, heads) or log.check(row)
        if problem is not None:
            report.problem = Problem(stream, key, row.originator_version, row.id, problem)
            return
        report.events += 1
        report.head_position = row.id
        if progress is not None and report.events % 1000 == 0:
            progress(1000)
    extra = log.extra()
    if extra is not None:
        report.problem = Problem("", "", 0, extra, "the log has an entry for this position "
                                 "but no event is stored there (events deleted from the end)")
        return
    short = next((a for a in report.anchors if a.size > report.head_position), None)
    if short is not None:
        report.problem = Problem("", "", 0, report.head_position + 1, (
            f"the log ends at position {report.head_position}, but {short.label} (signed "
            f"{short.time}) covers {short.size} events: "
            f"{short.size - report.head_position} deleted since (from the end of the log, "
            "or from the middle with the positions after them renumbered)"))
        return
    report.aggregates = len(heads)


class _LogCursor:
    """Walks the log chain beside the stored events, recomputing it."""

    def __init__(self, ledger: DossierLedger, anchors: list[Anchor]) -> None:
        self.recorder: Any = ledger.recorder
        self.rows: list[LogRow] = []
        self.index = 0
        self.position = 0
        self.chain = LOG_GENESIS
        self.recorded: datetime | None = None
        self.anchors = list(anchors)
        self.tree = Frontier()
        self.last_anchor: Anchor | None = None

    def _next(self) -> LogRow | None:
        if self.index >= len(self.rows):
            self.rows = self.recorder.select_log(self.position + 1, 1000)
            self.index = 0
            if not self.rows:
                return None
        row = self.rows[self.index]
        self.index += 1
        return row

    def check(self, stored: Any) -> str | None:
        expected = self.position + 1
        if stored.id != expected:
            return (f"position gap: positions {expected}…{stored.id - 1} hold no event "
                    "(deleted)")
        entry = self._next()
        if entry is None or entry.position != stored.id:
            return "no log entry for this position (the log chain does not cover it)"
        recorded_text, event = recorded_at_of(stored.state), hash_of(stored.state)
        if recorded_text != entry.recorded_at:
            return (f"recorded_at altered (stored {recorded_text!r}, the log says "
                    f"{entry.recorded_at!r})")
        try:
            recorded = datetime.fromisoformat(recorded_text)
        except ValueError:
            return f"recorded_at {recorded_text!r} is not a time"
        if self.recorded is not None and recorded < self.recorded:
            return (f"recorded time goes backwards ({recorded_text} after "
                    f"{self.recorded.isoformat()})")
        if event != entry.event_hash:
            return "event hash altered (the log holds another hash for this position)"
        self.chain = log_hash(self.chain, stored.id, recorded_text, event)
        if self.chain != entry.log_hash:
            return "log chain broken (the log entry's hash does not follow from the previous)"
        self.position, self.recorded = stored.id, recorded
        return self._against_anchors(recorded_text)

    def _against_anchors(self, recorded_text: str) -> str | None:
        """Grow the tree while an anchor lies ahead; compare the root at each anchor."""
        after = self.last_anchor
        if after is not None and datetime.fromisoformat(recorded_text) < \
                datetime.fromisoformat(after.time):
            return (f"recorded at {recorded_text}, before {after.label} (signed {after.time}), "
                    f"yet after its last position {after.size}: appended by hand, or moved "
                    "from before the checkpoint")
        if not self.anchors:
            return None
        self.tree.append(log_leaf(self.chain))
        while self.anchors and self.anchors[0].size == self.position:
            anchor = self.anchors.pop(0)
            if self.tree.root() != anchor.root:
                return (f"the log's first {anchor.size} events do not give the Merkle root of "
                        f"{anchor.label} (signed {anchor.time}): an event up to here was "
                        "removed, inserted, reordered or altered (and its chains rebuilt) "
                        "since")
            self.last_anchor = anchor
        return None

    def extra(self) -> int | None:
        entry = self._next()
        return None if entry is None else entry.position


def _check_row(row: Any, stream: str, key: str, heads: dict[str, _Head]) -> str | None:
    try:
        envelope = orjson.loads(row.state)
        if not isinstance(envelope, dict):
            raise ValueError("not a JSON object")
        stored_hash = envelope.pop("hash")
        envelope.pop("recorded_at")
        kind = envelope["type"]
        prev = envelope["prev_hash"]
    except (ValueError, KeyError, TypeError) as error:
        return f"undecodable stored state ({error})"
    oid = str(row.originator_id)
    expected_topic = "request.accepted" if stream == REQUEST_STREAM else _topic(kind, row)
    if (envelope.get("stream"), envelope.get("id"), envelope.get("seq")) != (
        stream, key, row.originator_version
    ) or row.topic != expected_topic:
        return "payload altered (its stream, id, seq or type no longer match where it is stored)"
    if event_hash(envelope) != stored_hash:
        return "payload altered (its content no longer matches its hash)"
    head = heads.get(oid)
    expected_seq = head.seq + 1 if head else 1
    expected_prev = head.hash if head else GENESIS
    if row.originator_version != expected_seq:
        return f"chain broken (seq {row.originator_version} follows seq {expected_seq - 1})"
    if prev != expected_prev:
        return "chain broken (prev_hash is not the hash of the previous event)"
    heads[oid] = _Head(row.originator_version, stored_hash)
    return None


def _topic(kind: str, row: Any) -> str | None:
    try:
        return topic_of(kind, row.originator_version)
    except KeyError:
        return None


@dataclass
class History:
    """A dossier's timeline and its state as of a moment (trạng thái tại thời điểm)."""

    dossier_id: str
    code: str
    as_of: datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"dossier": self.dossier_id, "code": self.code, "as_of": self.as_of.isoformat(),
                "state": self.state, "events": self.events}


def find_dossier_id(ledger: DossierLedger, ref: str) -> str:
    """A dossier's id from its id or its code (mã hồ sơ)."""
    if ledger.recorder.select_events(f"dossier:{ref}", limit=1):
        return ref
    needle = b'"code":' + orjson.dumps(ref)
    for row in ledger.read_stored():
        if row.originator_version == 1 and str(row.originator_id).startswith("dossier:") \
                and needle in row.state:
            return str(row.originator_id).partition(":")[2]
    raise DossierNotFound(ref)


def history(ledger: DossierLedger, ref: str, as_of: datetime,
            recorded_by: datetime | None = None) -> History:
    """A dossier as it stood at ``as_of`` (its events whose ``at`` ≤ as_of); with
    ``recorded_by``, only what the ledger had recorded by then (the log up to its last event
    recorded by then), as it stood at that moment."""
    dossier_id = find_dossier_id(ledger, ref)
    oid = f"dossier:{dossier_id}"
    envelopes = ledger.stream_envelopes("dossier", dossier_id)
    for envelope in envelopes:
        envelope["position"] = position_of(ledger.recorder, oid, envelope["seq"])
    seqs = None
    if recorded_by is not None:
        cut = ledger.last_position_recorded_by(recorded_by)
        envelopes = [e for e in envelopes if e["position"] <= cut]
        seqs = len(envelopes)
        if not envelopes:
            raise DossierNotFound(ref, f"recorded by {recorded_by.isoformat()}")
    shown = [e for e in envelopes if datetime.fromisoformat(e["at"]) <= as_of]
    if ledger.sealer is not None:  # personal values in clear, or "[erased]"
        shown = [ledger.sealer.clear(e) for e in shown]
    aggregate, _ = ledger.load(oid, until=as_of, seqs=seqs)
    result = History(dossier_id, envelopes[0]["data"]["code"], as_of, shown)
    if isinstance(aggregate, Dossier):
        result.state = dossier_state(aggregate, as_of)
    else:
        result.state = {"status": "not yet submitted"}
    return result


def dossier_state(dossier: Dossier, as_of: datetime) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "status": dossier.status,
        "portal_status": dossier.portal_status,
        "procedure": dossier.procedure,
        "unit": dossier.unit,
        "channel": dossier.channel,
        "received_at": iso(dossier.received_at),
        "due_at": iso(dossier.due_at),
        "current_due_at": iso(dossier.current_due_at),
        "supplement_open_since": iso(dossier.supplement_open_since),
        "supplement_requests": dossier.supplement_requests,
        "late": dossier.is_late(as_of),
        "ended_by": dossier.ended_by,
        "ended_at": iso(dossier.ended_at),
        "rated_satisfied": dossier.rated_satisfied,
        "synced": dossier.synced,
    }
