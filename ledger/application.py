"""``DossierLedger``: the eventsourcing application that records dossier, procedure, petition
and unit events with their integrity chain, and answers the ledger's own queries."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    InternalError,
    Mapper,
    RecordConflictError,
)

from domain.base import LedgerRuleError, StreamAggregate
from domain.calendar import DEFAULT_CALENDAR, WorkingCalendar
from domain.units import Unit, UnitKind, UnitRegistry
from ledger.chain import GENESIS
from ledger.codec import REQUEST_STREAM, EnvelopeMapper, decode_state, to_domain_event
from ledger.config import StoreConfig
from ledger.dispatch import ProcedureInfo
from ledger.errors import ConcurrencyConflict, IdempotencyConflict, IdempotencyReserved
from ledger.personal import Sealer, sealed_subject
from ledger.positions import position_of
from ledger.recorders import LogChainReader, SealedPOPOApplicationRecorder
from ledger.staging import StagedEvents
from ledger.unit_of_work import AggregateCache, RecordedEvent, UnitOfWork, fingerprint

PAGE = 1000
RESERVED_KEY_PREFIX = "import:"  # the idempotency keys of imports (a file's content hash)
RESERVED_KEY_PREFIXES = (RESERVED_KEY_PREFIX, "erasure:")  # and of erasures (ledger.personal)
MAX_ATTEMPTS = 20


def utc_now() -> datetime:
    return datetime.now(UTC)


class DossierLedger(Application[str]):
    """Sổ cái hồ sơ: every action is an immutable, hash-chained event in one total order."""

    name = "DossierLedger"
    log_section_size = PAGE

    def __init__(
        self,
        store: StoreConfig,
        *,
        calendar: WorkingCalendar = DEFAULT_CALENDAR,
        clock: Callable[[], datetime] = utc_now,
        aggregate_cache_size: int = 10_000,
        sealer: Sealer | None = None,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.calendar = calendar
        self.clock = clock
        self._units = UnitRegistry()
        self._procedures: dict[str, ProcedureInfo] = {}
        self._aggregates = AggregateCache(aggregate_cache_size)
        for attempt in range(MAX_ATTEMPTS):
            try:
                super().__init__(env=store.environment())
                break
            except InternalError:
                # Two processes creating the tables at once ("tuple concurrently updated").
                if attempt == MAX_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0.01, 0.05))

    def close(self) -> None:
        super().close()
        if self.sealer is not None:
            self.sealer.keys.close()

    def construct_recorder(self) -> ApplicationRecorder:
        if self.store.kind == "memory":
            return SealedPOPOApplicationRecorder()
        return super().construct_recorder()

    def construct_mapper(self) -> Mapper[str]:
        return EnvelopeMapper(transcoder=self.construct_transcoder())

    # -- commands ------------------------------------------------------------------------------

    def record(
        self, event: dict[str, Any], *, idempotency_key: str | None = None
    ) -> RecordedEvent:
        """Record one action given in the wire format (``type``, ``id``, ``at``, ``data``;
        ``stream`` defaults from the type, ``seq`` is optional: when given, it must be next)."""
        (recorded,) = self.record_many([event], idempotency_key=idempotency_key)
        return recorded

    def record_many(
        self, events: Sequence[dict[str, Any]], *, idempotency_key: str | None = None
    ) -> list[RecordedEvent]:
        """Record several actions atomically: all of them or none.

        With an idempotency key, a repeat of the same actions returns the first result and
        records nothing; other actions under a used key raise ``IdempotencyConflict``.
        A concurrent writer to the same aggregate makes the actions run again on the new state
        (its rules are checked again); after a few attempts ``ConcurrencyConflict`` is raised.
        """
        commands = [_with_stream(e) for e in events]
        if idempotency_key is not None and idempotency_key.startswith(RESERVED_KEY_PREFIXES):
            raise IdempotencyReserved(idempotency_key)
        digest = fingerprint(commands) if idempotency_key else ""
        fresh = False
        for attempt in range(MAX_ATTEMPTS):
            if idempotency_key:
                previous = self._previous_result(idempotency_key, digest)
                if previous is not None:
                    return previous
            work = self.unit_of_work(use_cache=not fresh)
            try:
                for command in commands:
                    work.apply(dict(command), require_seq=False)
                if idempotency_key:
                    work.add_request(idempotency_key, digest, list(work.recorded))
                recorded = work.commit()
            except RecordConflictError:
                # Another writer got there first: back off a little, reload, re-check the rules.
                self._aggregates.discard(work.held)
                fresh = True
                time.sleep(random.uniform(0, 0.002) * (attempt + 1))
                continue
            except LedgerRuleError:
                self._aggregates.discard(work.held)
                if work.used_cache:
                    # Judged against cached state: check once more against the store, in case
                    # another process changed the aggregate since.
                    fresh = True
                    continue
                raise
            except BaseException:
                self._aggregates.discard(work.held)
                raise
            self._aggregates.keep(work.held)
            return recorded
        raise ConcurrencyConflict(", ".join(sorted({f"{c['stream']} {c['id']}" for c in commands})))

    def unit_of_work(self, *, assume_empty: bool = False, use_cache: bool = False,
                     keeps_results: bool = True) -> UnitOfWork:
        cache = self._aggregates if use_cache else None
        return UnitOfWork(self, self.clock(), assume_empty=assume_empty, cache=cache,
                          keeps_results=keeps_results)

    # -- what units of work need ---------------------------------------------------------------

    def load(
        self, oid: str, *, until: datetime | None = None, seqs: int | None = None
    ) -> tuple[StreamAggregate | None, str]:
        """An aggregate from its stored events (those with ``at`` ≤ ``until``, and only its
        first ``seqs`` events when given), and the hash at the head of its chain."""
        aggregate: Any = None
        head = GENESIS
        for stored in self.recorder.select_events(oid):
            envelope = decode_state(stored.state)
            if until is not None and datetime.fromisoformat(envelope["at"]) > until:
                break
            if seqs is not None and envelope["seq"] > seqs:
                break
            aggregate = to_domain_event(stored, envelope).mutate(aggregate)
            head = envelope["hash"]
        return aggregate, head

    def insert(self, staged: StagedEvents) -> range:
        """Record the staged events in one transaction, chunk by chunk, under the write lock;
        their positions."""
        recorder = cast(LogChainReader, self.recorder)
        try:
            positions = recorder.insert_chunks(staged.chunks(), recorded_at=self.clock())
        except IntegrityError as error:
            raise RecordConflictError(str(error)) from error
        if len(positions) != len(staged):
            raise RuntimeError("the recorder did not return the events' positions")
        return positions

    def find_unit(self, code: str) -> Unit | None:
        unit = self._units.find(code)
        if unit is not None:
            return unit
        profile, _ = self.load(f"unit:{code}")
        if profile is None or not getattr(profile, "registered", False):
            return None
        parent = profile.parent  # type: ignore[attr-defined]
        if parent and self.find_unit(parent) is None:
            return None
        return self._units.register(code, profile.name, profile.kind, parent)  # type: ignore[attr-defined]

    def find_procedure(self, key: str) -> ProcedureInfo | None:
        info = self._procedures.get(key)
        if info is None:
            procedure, _ = self.load(f"procedure:{key}")
            if procedure is None:
                return None
            info = ProcedureInfo(procedure.unit, procedure.statutory_days)  # type: ignore[attr-defined]
            self._procedures[key] = info
        return info

    def learn(self, units: dict[str, Unit], procedures: dict[str, ProcedureInfo]) -> None:
        """Cache what a committed unit of work registered (registrations never change)."""
        for code, unit in units.items():
            if code not in self._units:
                self._units.register(code, unit.name, UnitKind(unit.kind), unit.parent)
        self._procedures.update(procedures)

    @property
    def units(self) -> UnitRegistry:
        return self._units

    # -- reading the log -----------------------------------------------------------------------

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def read_stored(
        self, start: int = 1, stop: int | None = None, page: int = PAGE
    ) -> Iterator[Any]:
        """Stored notifications in position order (raw rows: id, originator_id, version,
        topic, state)."""
        position = start
        while True:
            rows = self.recorder.select_notifications(position, page, stop=stop)
            yield from rows
            if len(rows) < page:
                return
            position = rows[-1].id + 1

    def read_envelopes(
        self, start: int = 1, stop: int | None = None, *, include_requests: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The ledger's events as wire envelopes with ``position``, in position order."""
        for row in self.read_stored(start, stop):
            envelope = decode_state(row.state)
            if envelope.get("stream") == REQUEST_STREAM and not include_requests:
                continue
            envelope["position"] = row.id
            yield envelope

    def read_raw(
        self, start: int = 1, stop: int | None = None
    ) -> Iterator[tuple[dict[str, Any], bytes]]:
        """As :meth:`read_envelopes` (requests left out), each envelope with its stored bytes:
        the canonical JSON the hash covers (without ``position``), for consumers that copy
        events verbatim."""
        for row in self.read_stored(start, stop):
            envelope = decode_state(row.state)
            if envelope.get("stream") == REQUEST_STREAM:
                continue
            envelope["position"] = row.id
            yield envelope, row.state

    def last_position_recorded_by(self, moment: datetime) -> int:
        """The position of the last event recorded at or before ``moment`` (0: none): what
        the ledger knew then is the prefix of the log up to it. Reads the log chain's rows
        (recorded times follow positions, so the scan stops at the first later one)."""
        last, start = 0, 1
        while rows := self.recorder.select_log(start, PAGE):  # type: ignore[attr-defined]
            for row in rows:
                if datetime.fromisoformat(row.recorded_at) > moment:
                    return last
                last = row.position
            start = rows[-1].position + 1
        return last

    def log_hash_at(self, position: int) -> str | None:
        """The log chain's hash at ``position`` (it covers every event up to there; None: no
        such position): what a state folded up to there was folded from."""
        rows = self.recorder.select_log(position, 1)  # type: ignore[attr-defined]
        return rows[0].log_hash if rows and rows[0].position == position else None

    def stream_envelopes(self, stream: str, key: str) -> list[dict[str, Any]]:
        """One aggregate's events as envelopes (no positions: the aggregate's own order)."""
        return [decode_state(s.state) for s in self.recorder.select_events(f"{stream}:{key}")]

    def unit_named_by(self, stream: str, key: str) -> str | None:
        """The unit an aggregate belongs to, as its first event names it (a unit is its own;
        None: no such aggregate). Units and procedures are read from what the ledger keeps."""
        if stream == "unit":
            return key
        if stream == "procedure":
            info = self.find_procedure(key)
            return None if info is None else info.unit
        stored = self.recorder.select_events(f"{stream}:{key}", limit=1)
        if not stored:
            return None
        unit = decode_state(stored[0].state).get("data", {}).get("unit")
        return unit if isinstance(unit, str) else None

    def subject_of(self, oid: str) -> str | None:
        """The data subject whose key seals an aggregate's personal data: the one named by
        its first event (None: none of its events is sealed)."""
        stored = self.recorder.select_events(oid, limit=1)
        return sealed_subject(decode_state(stored[0].state)) if stored else None

    def _previous_result(self, key: str, digest: str) -> list[RecordedEvent] | None:
        stored = self.recorder.select_events(f"{REQUEST_STREAM}:{key}", limit=1)
        if not stored:
            return None
        data = decode_state(stored[0].state)["data"]
        if data["fingerprint"] != digest:
            raise IdempotencyConflict(key)
        return [
            RecordedEvent(
                **{k: v for k, v in e.items() if k != "position"},
                position=position_of(self.recorder, f"{e['stream']}:{e['id']}", e["seq"]),
            )
            for e in data["events"]
        ]


def _with_stream(event: dict[str, Any]) -> dict[str, Any]:
    command = dict(event)
    kind = command.get("type")
    if "stream" not in command and isinstance(kind, str):
        command["stream"] = kind.split(".", 1)[0]
    command.setdefault("data", {})
    return command
