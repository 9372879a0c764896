"""``dossier stream relay|status``: the ledger's log published to Kafka, and how far it got."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, TaskID

from app.commands.stores import FIRST_STEPS
from app.console import (
    Col,
    err,
    fail,
    fitted_table,
    out,
    parse_moment,
    progress_bar,
    say,
)
from app.settings import Settings, Store
from app.wiring import open_ledger_from_settings, store_config
from ledger.application import DossierLedger
from projections.clickhouse import schema
from projections.clickhouse.writer import ClickHouseWriter

if TYPE_CHECKING:  # the Kafka client is imported by the stream commands only
    from streams.relay import Published, Relay

CATCH_UP_BATCHES = 4  # a backlog of more batches than this shows a progress bar


def register(cli: typer.Typer) -> None:
    group = typer.Typer(name="stream", no_args_is_help=True,
                        help="Kafka: the ledger's log published to a topic (key: aggregate "
                             "id, value: the export line), and how far it got.")
    group.command("relay")(relay_cmd)
    group.command("status")(status_cmd)
    group.command("worker")(worker_cmd)
    cli.add_typer(group)


def relay_cmd(
    once: Annotated[bool, typer.Option(
        "--once", help="publish up to the ledger's head, then exit")] = False,
    batch: Annotated[int, typer.Option(
        help="most events per acknowledged batch", min=1)] = 500,
    poll: Annotated[float, typer.Option(help="seconds between polls when idle", min=0.01)]
    = 0.2,
    check_every: Annotated[float, typer.Option(
        help="seconds between checks that the topic still holds what was acknowledged",
        min=0.1)] = 10.0,
    retries: Annotated[int, typer.Option(
        help="consecutive broker failures (backing off 0.5 s, 1 s … 30 s) before exit 1",
        min=0)] = 8,
    timeout: Annotated[float, typer.Option(
        help="seconds a batch's acknowledgement or a broker request may take before it "
             "counts as a failure", min=0.5)] = 15.0,
    tick: Annotated[float, typer.Option(
        help="seconds between marks while no event comes (the workers rescore at each: "
             "scores move with time)", min=0.1)] = 30.0,
    mark_every: Annotated[float, typer.Option(
        help="seconds at least between marks while events come (each mark makes every "
             "worker write its rows)", min=0.0)] = 0.2,
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="the time every mark carries (ISO 8601 with offset), instead of the "
                        "clock's: workers then score as of that moment")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no per-batch lines")] = False,
) -> None:
    """Chuyển tiếp sổ cái: publish the ledger's events in position order to the Kafka topic
    and record the position the broker acknowledged (a restart resumes there; a repeat is
    possible after a crash: consumers dedupe by position)."""
    from streams.relay import BrokerUnreachable, Relay, RelayConfig, quiet_client_logs
    from streams.relay_tracking import tracking_for

    settings = Settings()
    config = RelayConfig(_kafka_url(settings), settings.kafka_topic, settings.kafka_partitions,
                         batch_events=batch, poll_seconds=poll, check_seconds=check_every,
                         retries=retries, request_seconds=timeout, tick_seconds=tick,
                         mark_seconds=mark_every,
                         as_of=parse_moment(as_of) if as_of else None)
    ledger = _open_ledger(settings)
    quiet_client_logs()
    backlog = _Backlog(config.batch_events)

    def report(published: Published) -> None:
        backlog.advance(published.position)
        if not quiet:
            err.print(f"published {published.first}–{published.position}: "
                      f"{published.events} events in {published.seconds:.3f}s", highlight=False)

    def notice(text: str) -> None:
        err.print(escape(text), style="yellow", highlight=False, soft_wrap=True)

    relay = Relay(ledger, tracking_for(ledger), config, on_batch=report, on_notice=notice)
    began = time.perf_counter()
    try:
        acknowledged = relay.start()
        err.print(f"relaying to topic {config.topic} on {config.bootstrap} from position "
                  f"{acknowledged.position:,} (ledger head {relay.head:,})", highlight=False,
                  soft_wrap=True)
        backlog.start(acknowledged.position, relay.head)
        asyncio.run(_run(relay, once=once))
    except KeyboardInterrupt:  # before the loop took the signals over: nothing in flight
        pass
    except BrokerUnreachable as error:
        fail(str(error), code=1)
    finally:
        backlog.stop()
        ledger.close()
    seconds = time.perf_counter() - began
    rate = f" ({relay.published / seconds:,.0f} events/s)" if relay.published else ""
    say(f"published {relay.published:,} events{rate}; acknowledged position "
        f"{relay.acknowledged.position:,} (ledger head {relay.head:,})")


async def _run(relay: Relay, *, once: bool) -> None:
    """The relay until done, or until SIGTERM or SIGINT (the batch in flight is finished or
    abandoned: only acknowledged positions are recorded)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await relay.run(stop, once=once)


class _Backlog:
    """A progress bar over a long backlog found at start, gone once it is published."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        self.first = self.head = 0

    def start(self, acknowledged: int, head: int) -> None:
        if head - acknowledged > CATCH_UP_BATCHES * self.batch:
            self.first, self.head = acknowledged, head
            self.progress = progress_bar()
            self.task = self.progress.add_task("publishing", total=head - acknowledged)
            self.progress.start()

    def advance(self, position: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=max(0, min(position, self.head)
                                                          - self.first))
            if position >= self.head:
                self.stop()

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def status_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The ledger's head, the position the broker acknowledged, the lag between them, and
    each partition's end offset now beside the one recorded with that position (exit 1
    when the broker cannot be reached)."""
    from streams.relay import (
        RETRYABLE,
        RelayConfig,
        current_end_offsets,
        describe,
        lost_partitions,
        quiet_client_logs,
    )
    from streams.relay_tracking import tracking_for

    settings = Settings()
    config = RelayConfig(_kafka_url(settings), settings.kafka_topic, settings.kafka_partitions,
                         request_seconds=5.0)
    ledger = _open_ledger(settings)
    try:
        tracking = tracking_for(ledger)
        tracking.ensure()
        acknowledged = tracking.load(config.topic)
        head = ledger.max_position()
    finally:
        ledger.close()
    quiet_client_logs()
    current: dict[int, int] | None = None
    problem = None
    try:
        current = asyncio.run(current_end_offsets(config))
    except RETRYABLE as error:
        problem = describe(error)
    lost = lost_partitions(acknowledged.end_offsets, current) if current is not None else {}
    partitions = sorted(set(acknowledged.end_offsets) | set(current or {}))
    report: dict[str, Any] = {
        "topic": config.topic, "broker": config.bootstrap, "ledger_head": head,
        "acknowledged_position": acknowledged.position,
        "lag": max(0, head - acknowledged.position),
        "acknowledged_at": acknowledged.recorded_at or None,
        "partitions": [{"partition": p,
                        "end_offset": None if current is None else current.get(p, 0),
                        "recorded_end_offset": acknowledged.end_offsets.get(p)}
                       for p in partitions],
        "lost": bool(lost), "broker_error": problem}
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
    else:
        _show(report)
    if problem:  # what the ledger knows is shown; the broker's side is not
        raise typer.Exit(1)


def _show(report: dict[str, Any]) -> None:
    say(f"topic {report['topic']} on {report['broker']}")
    say(f"ledger head {report['ledger_head']:,} · acknowledged {report['acknowledged_position']:,}"
        f" · lag {report['lag']:,} events")
    if report["broker_error"]:
        say(f"broker unreachable: {report['broker_error']}", style="yellow")
    rows = [[str(p["partition"]),
             "?" if p["end_offset"] is None else f"{p['end_offset']:,}",
             "–" if p["recorded_end_offset"] is None else f"{p['recorded_end_offset']:,}"]
            for p in report["partitions"]]
    if rows:
        columns = [Col("partition", numeric=True), Col("end offset now", numeric=True),
                   Col("end offset when acknowledged", numeric=True)]
        out.print(fitted_table(columns, rows))
    if report["lost"]:
        say("the topic holds less than was acknowledged: the relay will re-drive the log "
            "from position 0", style="bold red")


def _kafka_url(settings: Settings) -> str:
    if not settings.kafka_url:
        fail("no Kafka broker configured: set DOSSIER_KAFKA_URL (e.g. 127.0.0.1:9092)",
             code=1)
    return settings.kafka_url


def _open_ledger(settings: Settings) -> DossierLedger:
    """The ledger named by the settings, never created: a missing SQLite file is an error
    (exit 1); an empty ledger is fine (the relay waits for its first events)."""
    if settings.ledger_store is Store.SQLITE and not settings.sqlite_path.is_file():
        fail(f"no ledger at {settings.sqlite_path.resolve()} (DOSSIER_DATA_DIR): nothing to "
             f"publish; {FIRST_STEPS}", code=1)
    try:
        return open_ledger_from_settings(settings)
    except Exception as error:  # a database that cannot be opened: one line, exit 1
        fail(f"cannot open the ledger ({store_config(settings).describe()}): "
             f"{type(error).__name__}: {error}", code=1)


def worker_cmd(
    snapshot_every: Annotated[float, typer.Option(
        help="seconds between snapshots of each partition's state into the worker's tables "
             "(records are acknowledged only once one covers them)", min=0.05)] = 60.0,
    refresh: Annotated[float, typer.Option(
        help="seconds of mark time between rescorings of every current period (deadlines "
             "pass)", min=0.0)] = 30.0,
    keep_ended: Annotated[float, typer.Option(
        help="hours (of ledger time) an ended dossier stays in memory before it moves to "
             "the worker's tables", min=0.0)] = 1.0,
    session_timeout: Annotated[float, typer.Option(
        help="seconds after which a silent worker's partitions move to the others (a "
             "consumer group's first join waits half of it)", min=1.0)] = 10.0,
    retries: Annotated[int, typer.Option(
        help="consecutive failures of the broker at start, or of ClickHouse writes "
             "(backing off 0.5 s, 1 s … 30 s), before exit 1", min=0)] = 8,
    cache_mb: Annotated[int, typer.Option(
        help="MiB of RocksDB block cache per partition for its dossiers and snapshots "
             "(each of the worker's tables has bounded memtables and cache)",
        min=1)] = 64,
    no_recovery_check: Annotated[bool, typer.Option(
        "--no-recovery-check", help="skip faust's check that the local state is not ahead "
        "of its changelog (for brokers whose end offsets lag behind their records, as "
        "tansu's do; a gap is still caught by the offsets the snapshots record)")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no per-mark lines")] = False,
) -> None:
    """Công nhân Kafka: project the relay's topic into ClickHouse as one of a consumer group
    of faust-streaming workers (each partition holds whole provinces; the provinces are ranked
    where every partition's scores meet). Several workers write to one ClickHouse server
    (DOSSIER_CLICKHOUSE_URL); SIGTERM stops it cleanly."""
    from app.commands.live_hooks import open_olap
    from streams.faust_app import (
        BrokerUnreachable,
        OneLine,
        WorkerConfig,
        local_state,
        make_app,
        wait_for_broker,
    )
    from streams.relay import quiet_client_logs

    settings = Settings()
    config = WorkerConfig(_kafka_url(settings), settings.worker_state_path,
                          topic=settings.kafka_topic, partitions=settings.kafka_partitions,
                          group=settings.kafka_group, session_timeout=session_timeout,
                          snapshot_seconds=snapshot_every, refresh_seconds=refresh,
                          keep_ended_hours=keep_ended, recovery_check=not no_recovery_check,
                          retries=retries, cache_mb=cache_mb)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    client = open_olap(settings)
    writer = ClickHouseWriter(client, runner="worker")
    writer.ensure_schema()
    client.command(schema.CYCLES_TABLE.ddl())
    quiet_client_logs()

    def say(text: str) -> None:
        if not quiet or text.startswith(("worker stopping", "ClickHouse", "Kafka", "warning",
                                         "error", "critical")) or "stalled" in text \
                or "did not stop cleanly" in text:
            err.print(escape(text), highlight=False, soft_wrap=True)

    try:
        asyncio.run(wait_for_broker(config, say))
    except BrokerUnreachable as error:
        client.close()
        fail(str(error), code=1)
    for name in ("faust", "mode", "aiokafka", "streams"):
        logging.getLogger(name).addHandler(OneLine(say))
    app, runtime = make_app(config, client=client,
                            pseudonym_key=settings.pseudonym_key.encode(), say=say)
    err.print(f"worker of group {config.group} on topic {config.topic} "
              f"({config.partitions} partitions) at {config.bootstrap}; state in "
              f"{config.state_dir}", highlight=False, soft_wrap=True)
    try:
        with local_state(app, config.state_dir, say, runtime):
            not_ready = runtime.watch_start()
            try:
                _run_worker(app)
            finally:
                not_ready.set()
    finally:
        client.close()
    if runtime.stopped_by is not None:
        fail(f"worker stopped: {runtime.stopped_by}", code=1)


def _run_worker(app: Any) -> None:
    """faust's worker: it handles SIGTERM and SIGINT (agents stop, acknowledged offsets are
    committed) and logs only warnings and errors."""
    import faust

    worker = faust.Worker(app, loglevel=os.environ.get("DOSSIER_WORKER_LOG", "WARNING"),
                          quiet=True, redirect_stdouts=False,
                          override_logging=False)
    worker.spinner = None  # no cursor codes in logs
    try:
        worker.execute_from_commandline()
    except SystemExit as stopped:
        if stopped.code not in (0, None):
            raise
