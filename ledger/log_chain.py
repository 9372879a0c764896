"""The log chain: what the per-aggregate hash chain leaves out — each event's position in the
global log and the moment it was recorded — sealed in a second chain along the log.

For the event at position p, recorded at r (its ``recorded_at`` text) with hash h::

    log_hash(p) = SHA-256( log_hash(p-1) "\\n" p "\\n" r "\\n" h )   (UTF-8; decimal p)

with 64 zeros before position 1. The recorders write one ``event_log`` row (position,
recorded_at, event hash, log hash) per event, in the transaction that stores the event and
under the same write lock, after stamping ``recorded_at`` at commit: never earlier than the
previous event's, so recorded times follow positions and "what the ledger knew at T" is a
prefix of the log. ``dossier verify`` recomputes the chain from the stored events.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
LOG_TABLE = "event_log"
_RECORDED_AT = b'"recorded_at":"'
_HASH = b'"hash":"'
STAMP_LENGTH = len("2026-01-01T00:00:00.000000+00:00")


def stamp_text(moment: datetime) -> str:
    """A recorded_at text: UTC, microseconds, fixed width (so a state can be re-stamped in
    place)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def log_hash(previous: str, position: int, recorded_at: str, event_hash: str) -> str:
    text = f"{previous}\n{position}\n{recorded_at}\n{event_hash}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LogRow:
    """One sealed position of the log."""

    position: int
    recorded_at: str
    event_hash: str
    log_hash: str

    def as_tuple(self) -> tuple[int, str, str, str]:
        return (self.position, self.recorded_at, self.event_hash, self.log_hash)


def recorded_at_of(state: bytes) -> str:
    """The ``recorded_at`` text of a stored state (the last such key: top-level keys are
    sorted, and only prev_hash, seq, stream and type follow it)."""
    start = state.rindex(_RECORDED_AT) + len(_RECORDED_AT)
    return state[start:state.index(b'"', start)].decode()


def hash_of(state: bytes) -> str:
    """The event hash of a stored state (the top-level ``hash``: the last such key, as only
    id, prev_hash, recorded_at, seq, stream and type follow it)."""
    start = state.rindex(_HASH) + len(_HASH)
    return state[start:start + 64].decode()


def restamp(state: bytes, recorded_at: str) -> bytes:
    """The state with its ``recorded_at`` replaced by a text of the same fixed width (or, for a
    state stamped in another form, rebuilt around the new text)."""
    start = state.rindex(_RECORDED_AT) + len(_RECORDED_AT)
    end = state.index(b'"', start)
    return state[:start] + recorded_at.encode() + state[end:]


def seal(previous: LogRow | None, first_position: int, states: list[bytes],
         now: datetime) -> tuple[list[bytes], list[LogRow]]:
    """Stamp ``states`` (to be stored at ``first_position`` …) at ``now`` — or at the previous
    event's recorded time if that is later — and chain them after ``previous``."""
    stamp = stamp_text(now)
    if previous is not None and datetime.fromisoformat(previous.recorded_at) > now:
        stamp = stamp_text(datetime.fromisoformat(previous.recorded_at))
    head = previous.log_hash if previous is not None else GENESIS
    stamped: list[bytes] = []
    rows: list[LogRow] = []
    for offset, state in enumerate(states):
        state = restamp(state, stamp)
        position = first_position + offset
        event = hash_of(state)
        head = log_hash(head, position, stamp, event)
        stamped.append(state)
        rows.append(LogRow(position, stamp, event, head))
    return stamped, rows


def rebuild_rows(rows: list[tuple[int, bytes]], previous: LogRow | None) -> list[LogRow]:
    """Log rows for stored events that have none yet (a ledger made before the log chain):
    their recorded times as stored."""
    head = previous.log_hash if previous is not None else GENESIS
    built: list[LogRow] = []
    for position, state in rows:
        recorded_at, event = recorded_at_of(state), hash_of(state)
        head = log_hash(head, position, recorded_at, event)
        built.append(LogRow(position, recorded_at, event, head))
    return built


def as_row(values: Any) -> LogRow:
    position, recorded_at, event_hash, chained = values
    return LogRow(int(position), str(recorded_at), str(event_hash), str(chained))
