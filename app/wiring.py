"""Builds the ledger (and later the analytics) from settings: the one place that reads them."""

from __future__ import annotations

from app.settings import Settings, Store
from domain.calendar import WorkingCalendar
from ledger.application import DossierLedger
from ledger.checkpoints import SigningKey, parse_signing_key
from ledger.config import StoreConfig
from ledger.personal import KeyStore, Sealer, read_master_key


def store_config(settings: Settings) -> StoreConfig:
    kind = settings.ledger_store
    if kind is Store.POSTGRES:
        return StoreConfig("postgres", pg_dsn=settings.pg_dsn)
    if kind is Store.MEMORY:
        return StoreConfig("memory")
    return StoreConfig("sqlite", sqlite_path=settings.sqlite_path)


def open_ledger_from_settings(settings: Settings | None = None) -> DossierLedger:
    settings = settings or Settings()
    calendar = WorkingCalendar(weekend_workdays=settings.weekend_workdays)
    return DossierLedger(store_config(settings), calendar=calendar, sealer=sealer(settings))


def sealer(settings: Settings) -> Sealer | None:
    """The sealer of personal data when a personal-data key is configured (raises
    PersonalDataError when it cannot be read)."""
    if settings.personal_data_key_file is None:
        return None
    master = read_master_key(settings.personal_data_key_file)
    return Sealer(master, KeyStore(settings.personal_keys_path))


def runner_signing_key(settings: Settings) -> SigningKey | None:
    """The checkpoint signing key when one exists (the runner then signs a checkpoint
    covering the rows it publishes); None without one. A key file that cannot be read is an
    error, not a silent absence."""
    path = settings.signing_key_path
    if not path.is_file():
        return None
    return parse_signing_key(path.read_text())
