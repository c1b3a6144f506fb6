"""Runs every vendor simulator on its own free port of 127.0.0.1, each in a thread.

`run_sandbox` blocks until SIGTERM/SIGINT (the CLI's `edp sandbox serve` and `edp run`);
`running_sandbox` is the context manager tests use; `Sandbox` gives direct access to the
simulators when a test needs it. The data directory holds the generator's Parquet files
(contacts, orders, engagement, consent); missing files mean an empty vendor. The state folder,
when given, keeps the ESP accounts (Mailchimp members, SendGrid contacts) across restarts.
"""

import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import uvicorn

from email_data_platform.sandbox.consent import ConsentSimulator
from email_data_platform.sandbox.faults import FaultConfig, FaultInjector
from email_data_platform.sandbox.hubspot import HubSpotSimulator
from email_data_platform.sandbox.hubspot_store import contacts_frame, deals_frame, now_ms
from email_data_platform.sandbox.hubspot_subscriptions import statuses_from_table
from email_data_platform.sandbox.local_receiver import LocalReceiver
from email_data_platform.sandbox.mailchimp import MailchimpSimulator
from email_data_platform.sandbox.salesforce import SalesforceSimulator
from email_data_platform.sandbox.sendgrid import SendGridSimulator
from email_data_platform.sandbox.vendor import Journal

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 15.0


class _InjectedDropFilter(logging.Filter):
    """Hide uvicorn's traceback for connections we drop on purpose; real errors still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (error is not None and "injected:" in str(error))


def _quiet_injected_drops() -> None:
    server_log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _InjectedDropFilter) for f in server_log.filters):
        server_log.addFilter(_InjectedDropFilter())


def read_table(data_dir: Path, name: str) -> pl.DataFrame | None:
    """`<name>.parquet` (or `.csv`, all strings) from the data directory, None when absent."""
    parquet, csv = data_dir / f"{name}.parquet", data_dir / f"{name}.csv"
    if parquet.exists():
        return pl.read_parquet(parquet)
    if csv.exists():
        return pl.read_csv(csv, infer_schema=False)
    return None


def _subscription_statuses(data_dir: Path, loaded_ms: int) -> pl.DataFrame | None:
    """The data set's HubSpot subscription statuses, None to let the simulator draw some."""
    table = read_table(data_dir, "hubspot_subscriptions")
    return None if table is None else statuses_from_table(table, loaded_ms)


class _ServerThread:
    """One uvicorn server on a socket we bind first, so the port is known before it starts."""

    def __init__(self, name: str, app):
        self.name = name
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        # log_config=None: never let uvicorn reconfigure the host process's logging.
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off",
                                timeout_keep_alive=30, backlog=2048)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name=f"sandbox-{name}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


class Sandbox:
    """All simulators, loaded from one data directory, sharing one journal."""

    def __init__(self, data_dir: Path, journal_path: Path, faults: FaultConfig | None = None,
                 state_dir: Path | None = None, webhook_spool: Path | None = None):
        started = time.perf_counter()
        data_dir = Path(data_dir)
        self.journal = Journal(journal_path)
        loaded = now_ms()
        contacts = read_table(data_dir, "contacts")
        orders = read_table(data_dir, "orders")
        empty_contacts = pl.DataFrame(schema={"id": pl.Utf8})
        empty_orders = pl.DataFrame(schema={c: pl.Utf8 for c in (
            "order_id", "contact_id", "amount", "currency", "order_date", "status",
            "updated_at")})
        self.hubspot = HubSpotSimulator(
            contacts_frame(contacts if contacts is not None else empty_contacts, loaded),
            deals_frame(orders if orders is not None else empty_orders, loaded),
            self.journal, FaultInjector(faults), _subscription_statuses(data_dir, loaded),
        )
        self.mailchimp = MailchimpSimulator(read_table(data_dir, "engagement"), self.journal,
                                            FaultInjector(faults), state_dir)
        self.consent = ConsentSimulator(read_table(data_dir, "consent"), self.journal,
                                        FaultInjector(faults))
        self.salesforce = SalesforceSimulator(read_table(data_dir, "salesforce_contacts"),
                                              read_table(data_dir, "salesforce_orders"),
                                              self.journal, FaultInjector(faults))
        self.sendgrid = SendGridSimulator(read_table(data_dir, "sendgrid_engagement"),
                                          self.journal, FaultInjector(faults), state_dir)
        self.accounts = (self.mailchimp, self.sendgrid)  # the simulators that keep state
        self.receiver = LocalReceiver(webhook_spool) if webhook_spool else None
        self.simulators = {"hubspot": self.hubspot, "mailchimp": self.mailchimp,
                           "salesforce": self.salesforce, "sendgrid": self.sendgrid,
                           "consent": self.consent}
        self._servers: list[_ServerThread] = []
        logger.info("sandbox data loaded in %.2f s", time.perf_counter() - started)

    def start(self) -> dict:
        """Start every server; return `info` once all of them accept connections."""
        _quiet_injected_drops()
        self._servers = [_ServerThread(name, sim.app.build())
                         for name, sim in self.simulators.items()]
        if self.receiver is not None:
            self._servers.append(_ServerThread("webhooks", self.receiver.app))
        for server in self._servers:
            server.thread.start()
        for account in self.accounts:
            account.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not all(s.server.started for s in self._servers):
            if time.monotonic() > deadline or not all(s.thread.is_alive() for s in self._servers):
                self.stop()
                raise RuntimeError("sandbox servers did not start")
            time.sleep(0.01)
        info = self.info()
        if self.receiver is not None:
            self.receiver.subscribe(self.mailchimp, self.sendgrid)
        return info

    def info(self) -> dict:
        """Base URLs and credentials per vendor (JSON-serialisable; holds the current keys)."""
        urls = {s.name: s.base_url for s in self._servers}
        info = {name: sim.info(urls[name]) for name, sim in self.simulators.items()}
        if self.receiver is not None:
            info["webhooks"] = self.receiver.info(urls["webhooks"])
        return info

    def set_faults(self, faults: FaultConfig) -> None:
        for sim in self.simulators.values():
            sim.app.faults.configure(faults)

    def stop(self) -> None:
        for server in self._servers:  # ask all first, then wait: they shut down in parallel
            server.server.should_exit = True
        for server in self._servers:
            server.stop()
        self._servers = []
        for account in self.accounts:
            account.stop()
        self.journal.close()


@contextmanager
def running_sandbox(data_dir: Path, journal_path: Path, faults: FaultConfig | None = None,
                    state_dir: Path | None = None,
                    webhook_spool: Path | None = None) -> Iterator[dict]:
    """Serve the simulators in threads for the duration of the block; yields `info`."""
    sandbox = Sandbox(data_dir, journal_path, faults, state_dir, webhook_spool)
    info = sandbox.start()
    try:
        yield info
    finally:
        sandbox.stop()


def _log_ready(info: dict) -> None:
    logger.info("sandbox ready: %s", {v: i["base_url"] for v, i in info.items()})


def run_sandbox(data_dir: Path, journal_path: Path, faults: FaultConfig | None = None,
                on_ready: Callable[[dict], None] = _log_ready,
                state_dir: Path | None = None, webhook_spool: Path | None = None) -> None:
    """Serve until SIGTERM or SIGINT; call `on_ready(info)` once every server listens."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("run_sandbox must run in the main thread (it waits for signals); "
                           "use running_sandbox() from other threads")
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}
    sandbox = Sandbox(data_dir, journal_path, faults, state_dir, webhook_spool)
    try:
        on_ready(sandbox.start())
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
