"""Publish the data source, the folder, the dashboards and the alert rules to a Grafana
through its HTTP API (grafana-client), idempotently: what is already there is left alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import niquests
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.alerts import FOLDER_TITLE, FOLDER_UID, api_rules
from dashboards.build import DASHBOARDS, dashboard_json
from dashboards.query import DATASOURCE_NAME, DATASOURCE_UID, PLUGIN


class PublishError(Exception):
    """Publishing stopped; the message says why and what to do."""


class GrafanaUnreachable(PublishError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Grafana is unreachable at {url}: {reason}")
        self.url = url


class TokenRefused(PublishError):
    def __init__(self, status: int) -> None:
        what = ("refused the token (401): check --token / GRAFANA_TOKEN" if status == 401 else
                f"denied the token ({status}): it needs the Admin role "
                "(data sources, folders, alert rules)")
        super().__init__(f"Grafana {what}")
        self.status = status


class PluginMissing(PublishError):
    def __init__(self) -> None:
        super().__init__(f"the Grafana plugin {PLUGIN} is not installed: install it "
                         f"(grafana cli plugins install {PLUGIN}, or GF_INSTALL_PLUGINS as "
                         "deploy/compose.yaml does) and restart Grafana")


@dataclass(frozen=True, slots=True)
class ClickHouseSource:
    """Where Grafana reads ClickHouse, as a read-only user (deploy/clickhouse/users.d)."""

    host: str = "clickhouse"
    port: int = 9000
    protocol: str = "native"
    username: str = "grafana_reader"
    password: str = ""
    database: str = "default"
    secure: bool = False

    def payload(self) -> dict[str, Any]:
        return {"uid": DATASOURCE_UID, "name": DATASOURCE_NAME, "type": PLUGIN,
                "access": "proxy", "isDefault": False,
                "jsonData": {"host": self.host, "port": self.port, "protocol": self.protocol,
                             "username": self.username, "defaultDatabase": self.database,
                             "secure": self.secure}}


@dataclass(frozen=True, slots=True)
class Change:
    """What publishing did to one object: ``created``, ``updated`` or ``unchanged``."""

    kind: str
    name: str
    action: str


def connect(url: str, token: str, timeout: float = 10.0) -> GrafanaApi:
    return GrafanaApi.from_url(url, credential=token, timeout=timeout)


def contains(stored: Any, wanted: Any) -> bool:
    """Whether ``stored`` holds everything of ``wanted`` (Grafana adds ids, versions and
    defaults of its own to what it stores)."""
    if isinstance(wanted, dict):
        return isinstance(stored, dict) and all(
            key in stored and contains(stored[key], value) for key, value in wanted.items())
    if isinstance(wanted, list):
        return (isinstance(stored, list) and len(stored) == len(wanted)
                and all(contains(s, w) for s, w in zip(stored, wanted, strict=True)))
    return bool(stored == wanted)


def _missing(call: Callable[[], Any]) -> Any:
    """The object ``call`` reads, or None when Grafana answers 404."""
    try:
        return call()
    except GrafanaClientError as error:
        if error.status_code == 404:
            return None
        raise


class Publisher:
    """Publishes everything through one :class:`GrafanaApi`; each method returns its
    :class:`Change`."""

    def __init__(self, api: GrafanaApi, url: str, source: ClickHouseSource) -> None:
        self.api, self.url, self.source = api, url, source

    def check(self) -> None:
        """Grafana answers, takes the token, and has the ClickHouse plugin."""
        try:
            self.api.health.check()
            plugins = self.api.plugin.list()
        except (niquests.exceptions.RequestException, OSError) as error:
            raise GrafanaUnreachable(self.url, str(error)) from None
        except GrafanaException as error:
            if error.status_code in (401, 403):
                raise TokenRefused(error.status_code) from None
            if error.status_code == 0:
                raise GrafanaUnreachable(self.url, str(error)) from None
            raise
        if not any(isinstance(p, dict) and p.get("id") == PLUGIN for p in plugins or []):
            raise PluginMissing()

    def datasource(self) -> Change:
        wanted = self.source.payload()
        stored = _missing(lambda: self.api.datasource.get_datasource_by_uid(DATASOURCE_UID))
        secret = {"secureJsonData": {"password": self.source.password}}
        if stored is None:
            self.api.datasource.create_datasource(wanted | secret)
            return Change("data source", DATASOURCE_NAME, "created")
        if contains(stored, wanted):
            return Change("data source", DATASOURCE_NAME, "unchanged")
        self.api.datasource.update_datasource_by_uid(DATASOURCE_UID, wanted | secret)
        return Change("data source", DATASOURCE_NAME, "updated")

    def folder(self) -> Change:
        stored = _missing(lambda: self.api.folder.get_folder(FOLDER_UID))
        if stored is None:
            self.api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            return Change("folder", FOLDER_TITLE, "created")
        if stored.get("title") == FOLDER_TITLE:
            return Change("folder", FOLDER_TITLE, "unchanged")
        self.api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        return Change("folder", FOLDER_TITLE, "updated")

    def dashboard(self, wanted: dict[str, Any]) -> Change:
        uid, title = wanted["uid"], wanted["title"]
        stored = _missing(lambda: self.api.dashboard.get_dashboard(uid))
        if stored is not None and contains(stored.get("dashboard"), wanted) and (
                (stored.get("meta") or {}).get("folderUid") == FOLDER_UID):
            return Change("dashboard", title, "unchanged")
        self.api.dashboard.update_dashboard({
            "dashboard": wanted, "folderUid": FOLDER_UID, "overwrite": True,
            "message": "dossier dashboards publish"})
        return Change("dashboard", title, "created" if stored is None else "updated")

    def alert_rule(self, wanted: dict[str, Any]) -> Change:
        uid, title = wanted["uid"], wanted["title"]
        stored = _missing(lambda: self.api.alertingprovisioning.get_alertrule(uid))
        if stored is None:
            self.api.alertingprovisioning.create_alertrule(wanted)
            return Change("alert rule", title, "created")
        if contains(stored, wanted):
            return Change("alert rule", title, "unchanged")
        self.api.alertingprovisioning.update_alertrule(uid, wanted)
        return Change("alert rule", title, "updated")

    def run(self, report: Callable[[Change], None] = lambda change: None) -> list[Change]:
        """Check, then publish every object in dependency order; ``report`` hears each
        change as it happens."""
        self.check()
        steps: list[Callable[[], Change]] = [self.datasource, self.folder]
        steps += [partial(self.dashboard, dashboard_json(make)) for _, make in DASHBOARDS]
        steps += [partial(self.alert_rule, rule) for rule in api_rules()]
        changes = []
        for step in steps:
            try:
                change = step()
            except (niquests.exceptions.RequestException, OSError) as error:
                raise GrafanaUnreachable(self.url, str(error)) from None
            except GrafanaException as error:
                if error.status_code in (401, 403):
                    raise TokenRefused(error.status_code) from None
                raise PublishError(f"Grafana refused a request: {error}") from None
            report(change)
            changes.append(change)
        return changes


def publish(url: str, token: str, source: ClickHouseSource,
            report: Callable[[Change], None] = lambda change: None,
            timeout: float = 10.0) -> list[Change]:
    """Publish everything to the Grafana at ``url``; see :class:`Publisher`."""
    return Publisher(connect(url, token, timeout), url, source).run(report)
