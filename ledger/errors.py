"""Errors of the ledger application (the domain's rule errors are in ``domain.base``)."""

from __future__ import annotations

from domain.base import LedgerRuleError


class LedgerError(Exception):
    """Something the ledger refused or could not do; nothing was recorded."""


class DossierNotFound(LedgerError):
    def __init__(self, ref: str, when: str = "") -> None:
        super().__init__(f"no dossier with id or code {ref!r}" + (f" {when}" if when else ""))
        self.ref = ref


class IdempotencyConflict(LedgerError):
    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different command; "
                         "nothing recorded")
        self.key = key


class IdempotencyReserved(LedgerError):
    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r}: keys starting with 'import:' or "
                         "'erasure:' are reserved for imports (a file's content hash) and "
                         "erasures; choose another key")
        self.key = key


class ConcurrencyConflict(LedgerError):
    def __init__(self, detail: str) -> None:
        super().__init__(f"another writer changed the same aggregate at the same time: {detail}; "
                         "nothing recorded, try again")


class FutureEvent(LedgerRuleError):
    rule = "time"


class SequenceError(LedgerRuleError):
    rule = "sequence"


class ChainError(LedgerRuleError):
    rule = "hash"


class ImportRejected(LedgerError):
    """A file of events was refused as a whole; ``line`` and ``rule`` say why."""

    def __init__(self, line: int, rule: str, message: str) -> None:
        super().__init__(f"line {line}: [{rule}] {message} — nothing was imported")
        self.line = line
        self.rule = rule
        self.detail = message
