"""Import and export of the canonical JSONL event format (docs/events.md)."""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from eventsourcing.persistence import RecordConflictError

from domain.base import LedgerRuleError
from domain.units import UnitError
from ledger.application import RESERVED_KEY_PREFIX, DossierLedger
from ledger.chain import canonical_json
from ledger.codec import REQUEST_STREAM
from ledger.errors import ConcurrencyConflict, ImportRejected
from ledger.unit_of_work import RecordedEvent, UnitOfWork
from ledger.wire import JsonError, WireError, decode_json

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportResult:
    events: int
    first_position: int | None
    last_position: int | None
    already_imported: bool = False


Lines = Iterable[bytes] | Callable[[], Iterable[bytes]]
IMPORT_KEY_PREFIX = RESERVED_KEY_PREFIX  # imports' request keys: clients cannot use them
ATTEMPTS = 5


def import_lines(
    ledger: DossierLedger,
    lines: Lines,
    *,
    progress: Progress | None = None,
    key: str | None = None,
) -> ImportResult:
    """Append a file of events, all or nothing.

    ``lines`` is a sequence of lines or a callable that opens them anew (a file is then read
    as a stream, twice: once for its content hash, once to apply it). Every line is
    validated and applied to aggregates held in memory (each aggregate is read from the
    store at most once; the events to record wait in a temporary file beyond the first
    chunk, so memory grows with the aggregates, not with the lines), then everything is
    recorded in one transaction, chunk by chunk, under the write lock. The file's content
    hash is recorded as an idempotency key: importing the same file again records nothing
    and says so. When another writer changed one of the file's aggregates meanwhile, the
    whole file is checked again on the new state.
    """
    source: Callable[[], Iterable[bytes]] = lines if callable(lines) else (lambda: lines)
    digest = hashlib.sha256()
    for line in source():
        digest.update(line)
    request_key = key or f"{IMPORT_KEY_PREFIX}{digest.hexdigest()}"
    for attempt in range(ATTEMPTS):
        if ledger.stream_envelopes(REQUEST_STREAM, request_key):
            return ImportResult(0, None, None, already_imported=True)
        try:
            return _import_once(ledger, source(), request_key, digest.hexdigest(), progress)
        except RecordConflictError:
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    raise ConcurrencyConflict("other writers kept changing the file's aggregates while it was "
                              f"imported ({ATTEMPTS} attempts)")


def _import_once(ledger: DossierLedger, lines: Iterable[bytes], request_key: str, digest: str,
                 progress: Progress | None) -> ImportResult:
    work = ledger.unit_of_work(assume_empty=ledger.max_position() == 0, keeps_results=False)
    try:
        positions = _apply_and_commit(work, lines, request_key, digest, progress)
    finally:
        work.close()
    events = len(positions) - 1  # the request is staged last
    if events <= 0:
        return ImportResult(0, None, None)
    return ImportResult(events, positions[0], positions[events - 1])


def _apply_and_commit(work: UnitOfWork, lines: Iterable[bytes], request_key: str, digest: str,
                      progress: Progress | None) -> range:
    count = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = decode_json(line)
        except JsonError as error:
            raise ImportRejected(number, "json", str(error)) from None
        try:
            work.apply(raw, require_seq=True)
        except WireError as error:
            raise ImportRejected(number, "format", str(error)) from None
        except LedgerRuleError as error:
            raise ImportRejected(number, error.rule, str(error)) from None
        except UnitError as error:
            raise ImportRejected(number, "unit", str(error)) from None
        count += 1
        if progress is not None and count % 1000 == 0:
            progress(1000)
    if progress is not None:
        progress(count % 1000)
    work.add_request(request_key, digest, [])
    return work.commit_positions()


def export_lines(ledger: DossierLedger, *, since: int = 0) -> Iterator[bytes]:
    """The ledger's events after position ``since`` as canonical JSON lines, with
    ``position``, ``recorded_at``, ``prev_hash`` and ``hash``."""
    for envelope in ledger.read_envelopes(since + 1):
        yield canonical_json(envelope) + b"\n"


def write_export(ledger: DossierLedger, out: IO[bytes], *, since: int = 0) -> int:
    count = 0
    for line in export_lines(ledger, since=since):
        out.write(line)
        count += 1
    return count


def recorded_summary(recorded: list[RecordedEvent]) -> list[dict[str, Any]]:
    return [r.as_dict() for r in recorded]
