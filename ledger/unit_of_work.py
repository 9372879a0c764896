"""A unit of work: commands applied to aggregates held in memory, chained and encoded, then
recorded in one transaction (all or nothing). Import uses it for a whole file: its staged
events wait on disk (:mod:`ledger.staging`), only its aggregates are held in memory."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from threading import Lock
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import RecordConflictError, StoredEvent

from domain.base import LedgerRuleError, StreamAggregate
from domain.calendar import WorkingCalendar
from domain.units import Unit, UnitKind
from ledger import wire
from ledger.chain import GENESIS, canonical_json, event_hash
from ledger.codec import REQUEST_STREAM, topic_of, wire_type_of
from ledger.dispatch import ProcedureInfo, apply_event
from ledger.errors import ChainError, FutureEvent, SequenceError
from ledger.log_chain import stamp_text
from ledger.personal import check_sealed, is_token, personal_paths, personal_value
from ledger.staging import StagedEvents

if TYPE_CHECKING:
    from ledger.application import DossierLedger

MAX_AHEAD = timedelta(minutes=5)
ERASURE_KEY_PREFIX = "erasure:"  # the request records of erasures (ledger.personal)


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """Where an event landed: its stream, id, seq, hash and (once committed) position."""

    type: str
    stream: str
    id: str
    seq: int
    hash: str
    position: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "stream": self.stream, "id": self.id, "seq": self.seq,
                "hash": self.hash, "position": self.position}


@dataclass(slots=True)
class _Held:
    aggregate: StreamAggregate | None
    head_hash: str
    given_head: str  # the chain as an imported file states it


class AggregateCache:
    """Aggregates (with their chain heads) as the last command left them, so that a stream of
    commands does not re-read every aggregate from the store. A unit of work takes an entry
    out (no two units of work share an object) and puts it back only once committed; after a
    failure its aggregates are dropped. A stale entry (another process wrote since) cannot
    slip through: its next version collides in the store, and the command is run again on
    fresh state."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, tuple[StreamAggregate, str]] = OrderedDict()
        self._lock = Lock()

    def take(self, oid: str) -> tuple[StreamAggregate, str] | None:
        with self._lock:
            return self._entries.pop(oid, None)

    def keep(self, held: dict[str, _Held]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            for oid, entry in held.items():
                if entry.aggregate is not None:
                    self._entries[oid] = (entry.aggregate, entry.head_hash)
                    self._entries.move_to_end(oid)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def discard(self, held: dict[str, _Held]) -> None:
        with self._lock:
            for oid in held:
                self._entries.pop(oid, None)


@dataclass
class UnitOfWork:
    ledger: DossierLedger
    recorded_at: datetime
    assume_empty: bool = False
    cache: AggregateCache | None = None
    used_cache: bool = False
    # Each event's RecordedEvent is kept for commit() to return (commands); an import needs
    # only the positions (commit_positions), and keeps none.
    keeps_results: bool = True
    held: dict[str, _Held] = field(default_factory=dict)
    stored: StagedEvents = field(init=False)
    recorded: list[RecordedEvent] = field(default_factory=list)
    new_units: dict[str, Unit] = field(default_factory=dict)
    new_procedures: dict[str, ProcedureInfo] = field(default_factory=dict)
    subjects: dict[str, str] = field(default_factory=dict)  # dossier -> its data subject

    def __post_init__(self) -> None:
        self._recorded_at_text = stamp_text(self.recorded_at)  # stamped again at commit
        self._latest_allowed = self.recorded_at + MAX_AHEAD
        self.stored = StagedEvents(self.ledger.store.scratch_directory())

    # -- the Context the dispatcher needs -------------------------------------------------------

    @property
    def calendar(self) -> WorkingCalendar:
        return self.ledger.calendar

    def unit(self, code: str) -> Unit | None:
        return self.new_units.get(code) or self.ledger.find_unit(code)

    def ancestors(self, code: str) -> list[str]:
        chain: list[str] = []
        unit = self.unit(code)
        while unit is not None and unit.parent is not None and unit.parent not in chain:
            chain.append(unit.parent)
            unit = self.unit(unit.parent)
        return chain

    def procedure(self, key: str) -> ProcedureInfo | None:
        return self.new_procedures.get(key) or self.ledger.find_procedure(key)

    # -- applying events ---------------------------------------------------------------------

    def apply(self, raw: dict[str, Any], *, require_seq: bool = True) -> RecordedEvent:
        """Validate one wire event, run its command, chain and encode the resulting event."""
        envelope, data = wire.validate_event(raw)
        if envelope.at > self._latest_allowed:
            raise FutureEvent(
                f"{envelope.stream} {envelope.id}: at {raw['at']} is more than 5 minutes after "
                f"the moment of recording ({self._recorded_at_text}); an action cannot be "
                "recorded before it happens"
            )
        oid = f"{envelope.stream}:{envelope.id}"
        held = self.held.get(oid)
        if held is None:
            held = self._load(oid)
        version = held.aggregate.version if held.aggregate is not None else 0
        if envelope.seq is None:
            if require_seq:
                raise SequenceError(f"{envelope.stream} {envelope.id}: missing seq")
        elif envelope.seq != version + 1:
            problem = "repeats" if envelope.seq <= version else "leaves a gap after"
            raise SequenceError(
                f"{envelope.stream} {envelope.id}: seq {envelope.seq} {problem} seq {version} "
                f"(expected {version + 1})"
            )
        aggregate = apply_event(held.aggregate, envelope, data, self)
        (event,) = aggregate.collect_events()
        self._remember_catalogue(envelope, data)
        out: dict[str, Any] = {
            "type": wire_type_of(type(event)),  # type: ignore[arg-type]
            "stream": envelope.stream,
            "id": envelope.id,
            "seq": event.originator_version,
            "at": wire.canonical_instant(envelope.at),
            "data": self._stored_data(raw, data, event),
            "prev_hash": held.head_hash,
        }
        self._check_given_chain(raw, held, out)
        self._seal(oid, raw, aggregate, out)
        out["hash"] = event_hash(out)
        held.aggregate = aggregate
        held.head_hash = out["hash"]
        self.held[oid] = held
        return self._stage(oid, out)

    def add_request(self, key: str, fingerprint: str, result: list[RecordedEvent]) -> None:
        """Record an idempotency key with the command's fingerprint and result, atomically with
        the command's events (a second use of the key finds it)."""
        out: dict[str, Any] = {
            "type": "request.accepted",
            "stream": REQUEST_STREAM,
            "id": key,
            "seq": 1,
            "at": self._recorded_at_text,
            "data": {"fingerprint": fingerprint,
                     "events": [r.as_dict() | {"position": None} for r in result]},
            "prev_hash": GENESIS,
        }
        out["hash"] = event_hash(out)
        self._stage(f"{REQUEST_STREAM}:{key}", out, topic="request.accepted")

    def add_erasure(self, subject: str) -> None:
        """Record that a data subject's key was deleted (an erasure), as a request record of
        the log: a leaf of the tree, never exported, naming only the subject's id."""
        key = f"{ERASURE_KEY_PREFIX}{subject}"
        out: dict[str, Any] = {
            "type": "request.accepted",
            "stream": REQUEST_STREAM,
            "id": key,
            "seq": 1,
            "at": self._recorded_at_text,
            "data": {"fingerprint": hashlib.sha256(key.encode()).hexdigest(), "events": [],
                     "erased_subject": subject},
            "prev_hash": GENESIS,
        }
        out["hash"] = event_hash(out)
        self._stage(f"{REQUEST_STREAM}:{key}", out, topic="request.accepted")

    def _stage(self, oid: str, out: dict[str, Any], topic: str | None = None) -> RecordedEvent:
        # An exact-size copy: orjson's result keeps a 4 KiB buffer, and a chunk of an imported
        # file is held until it is spilled.
        state = bytes(memoryview(canonical_json(out | {"recorded_at": self._recorded_at_text})))
        self.stored.append(
            StoredEvent(
                originator_id=oid,
                originator_version=out["seq"],
                topic=topic or topic_of(out["type"], out["seq"]),
                state=state,
            )
        )
        recorded = RecordedEvent(out["type"], out["stream"], out["id"], out["seq"], out["hash"])
        if self.keeps_results:
            self.recorded.append(recorded)
        return recorded

    def _stored_data(self, raw: dict[str, Any], data: wire.Data, event: Any
                     ) -> dict[str, Any]:
        """The data as given, with its timestamps in their canonical text."""
        stored: dict[str, Any] = dict(raw["data"])
        for name in ("due_at", "new_due_at"):
            moment = getattr(data, name, None)
            if moment is not None:
                stored[name] = wire.canonical_instant(moment)
        if raw["type"] == "dossier.received" and stored.get("due_at") is None:
            # The computed due date is recorded, so replays never depend on the calendar
            # (holiday dates change between releases of `holidays`).
            stored["due_at"] = event.due_at.isoformat()
        return stored

    def _check_given_chain(self, raw: dict[str, Any], held: _Held, out: dict[str, Any]) -> None:
        given_hash, given_prev = raw.get("hash"), raw.get("prev_hash")
        if given_hash is None and given_prev is None:
            return
        where = f"{out['stream']} {out['id']} seq {out['seq']}"
        if given_prev != held.given_head:
            raise ChainError(f"{where}: prev_hash {given_prev!r} does not continue the chain "
                             f"(expected {held.given_head})")
        as_given = {k: raw[k] for k in ("type", "stream", "id", "seq", "at", "data")}
        as_given["prev_hash"] = given_prev
        if "sealed" in raw:
            as_given["sealed"] = raw["sealed"]
        if given_hash != event_hash(as_given):
            raise ChainError(f"{where}: hash {given_hash!r} does not verify against the event's "
                             "content (altered or mis-hashed)")
        held.given_head = given_hash

    def _seal(self, oid: str, raw: dict[str, Any], aggregate: Any, out: dict[str, Any]
              ) -> None:
        """Seal the event's personal fields under its data subject's key (the applicant of
        its dossier), when the ledger has a sealer; an event given sealed (an export of a
        sealing ledger) is kept as given."""
        if raw.get("sealed") is not None:
            try:
                check_sealed(raw["sealed"])
            except ValueError as error:
                raise wire.WireError("sealed", str(error).removeprefix("sealed: ")) from None
            for path in personal_paths(out["type"], out["data"]):
                if not is_token(personal_value(out["data"], path)):
                    raise wire.WireError(f"data.{path}", "must be a sealed commitment "
                                         "(sealed:…) in an event that carries `sealed`")
            out["sealed"] = raw["sealed"]
            self.subjects[oid] = str(raw["sealed"].get("subject"))
            return
        sealer = self.ledger.sealer
        if sealer is None or not personal_paths(out["type"], out["data"]):
            return
        subject = self.subjects.get(oid)
        if subject is None:
            ref = getattr(aggregate, "applicant_ref", None)
            if isinstance(ref, str) and not is_token(ref):
                subject = sealer.subject_id(ref)  # given in clear (now, or before sealing)
            else:
                subject = self.ledger.subject_of(oid)
            if subject is None:
                return
            self.subjects[oid] = subject
        sealer.seal(out, subject)

    def _remember_catalogue(self, envelope: wire.Envelope, data: wire.Data) -> None:
        if isinstance(data, wire.UnitRegistered):
            self.new_units[envelope.id] = Unit(envelope.id, data.name, UnitKind(data.kind),
                                               data.parent or None)
        elif isinstance(data, wire.ProcedureRegistered):
            self.new_procedures[envelope.id] = ProcedureInfo(data.unit, data.statutory_days)

    def _load(self, oid: str) -> _Held:
        if self.assume_empty:
            return _Held(None, GENESIS, GENESIS)
        if self.cache is not None:
            cached = self.cache.take(oid)
            if cached is not None:
                self.used_cache = True
                # Held now (even if this command fails), so that a failure drops it.
                self.held[oid] = _Held(cached[0], cached[1], cached[1])
                return self.held[oid]
        loaded, head = self.ledger.load(oid)
        return _Held(loaded, head, head)

    # -- finishing ----------------------------------------------------------------------------

    def commit(self) -> list[RecordedEvent]:
        """Record everything staged in one transaction; return the events with positions."""
        if not self.keeps_results:
            raise TypeError("this unit of work keeps no results: use commit_positions()")
        positions = self.commit_positions()
        result = [
            RecordedEvent(r.type, r.stream, r.id, r.seq, r.hash, position)
            for r, position in zip(self.recorded, positions, strict=True)
        ]
        return [r for r in result if r.stream != REQUEST_STREAM]

    def commit_positions(self) -> range:
        """Record everything staged in one transaction; return the positions it was given, in
        the order staged (consecutive: nothing else is recorded between them)."""
        try:
            if not self.stored:
                return range(0)
            sealer = self.ledger.sealer
            if sealer is not None and not sealer.flush():
                raise RecordConflictError("another writer made a subject's key meanwhile")
            positions = self.ledger.insert(self.stored)
        finally:
            self.stored.close()
        self.ledger.learn(self.new_units, self.new_procedures)
        return positions

    def close(self) -> None:
        """Drop what was staged and not committed (its spill file, if any)."""
        self.stored.close()


def fingerprint(commands: list[dict[str, Any]]) -> str:
    """What an idempotency key stands for: the commands' canonical JSON."""
    return hashlib.sha256(canonical_json(commands)).hexdigest()


__all__ = ["LedgerRuleError", "RecordedEvent", "UnitOfWork", "fingerprint"]
