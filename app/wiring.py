"""Builds the ledger (and later the analytics) from settings: the one place that reads them."""

from __future__ import annotations

from app.settings import Settings, Store
from domain.calendar import WorkingCalendar
from ledger.application import DossierLedger
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
