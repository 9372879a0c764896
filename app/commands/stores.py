"""The ledger a command reads: refused in one line when it is missing or holds no events (a
mistyped DOSSIER_DATA_DIR must not rank every province on an empty ledger), never created."""

from __future__ import annotations

from app.console import fail
from app.settings import Settings, Store
from app.wiring import open_ledger_from_settings, store_config
from ledger.application import DossierLedger

FIRST_STEPS = "record events first (dossier import FILE, dossier simulate)"


def ledger_to_read(settings: Settings | None = None, *, doing: str = "read"
                   ) -> DossierLedger:
    """The ledger named by the settings, open, when it holds events; otherwise exit 2 saying
    what is missing (nothing is created). ``doing`` ends the sentence "nothing to …"."""
    settings = settings or Settings()
    if settings.ledger_store is Store.SQLITE:
        where = settings.data_dir.resolve()
        if not settings.data_dir.is_dir():
            fail(f"no data directory at {where} (DOSSIER_DATA_DIR): nothing to {doing}; "
                 f"{FIRST_STEPS}, or point DOSSIER_DATA_DIR at an existing one")
        if not settings.sqlite_path.is_file():
            fail(f"no ledger in {where} (DOSSIER_DATA_DIR; no {settings.sqlite_path.name}): "
                 f"nothing to {doing}; {FIRST_STEPS}")
    ledger = open_ledger_from_settings(settings)
    if ledger.max_position() == 0:
        ledger.close()
        fail(f"the ledger ({store_config(settings).describe()}) holds no events: nothing to "
             f"{doing}; {FIRST_STEPS}")
    return ledger


def require_ledger(settings: Settings | None = None, *, doing: str = "read") -> None:
    """Exit 2 unless the ledger named by the settings exists and holds events."""
    ledger_to_read(settings, doing=doing).close()
