"""The stub server: every listener, the record store and the scenario state in one asyncio loop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from integration_monitor.catalog.models import Catalog
from integration_monitor.signatures import LocalPki, load_or_create_pki
from integration_monitor.stubs.app import StubRuntime, create_app
from integration_monitor.stubs.auth import TokenStore
from integration_monitor.stubs.generator import RecordGenerator
from integration_monitor.stubs.listeners import ListenerSet
from integration_monitor.stubs.records import ContentVariant, RecordStore
from integration_monitor.stubs.scenario import HEALTHY, Scenario
from integration_monitor.stubs.settings import StubSettings
from integration_monitor.stubs.state import ScenarioState

logger = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 30.0


class StubServer:
    def __init__(
        self,
        catalog: Catalog,
        settings: StubSettings,
        scenario: Scenario | None = None,
        pki: LocalPki | None = None,
    ) -> None:
        if pki is None:
            pki, origin = load_or_create_pki(settings.pki_dir, settings.key_algorithm)
        else:
            origin = "given"
        self.pki_origin = origin
        self.catalog = catalog
        self.settings = settings

        scenarios = ScenarioState(catalog)
        if scenario is not None:
            scenarios.load(scenario)
        generator = RecordGenerator(settings.seed, settings.canary_prefix)
        store = RecordStore(generator, pki, settings.total, settings.cache_blocks)
        self.runtime = StubRuntime(
            catalog=catalog,
            settings=settings,
            pki=pki,
            store=store,
            scenarios=scenarios,
            tokens=TokenStore(settings.token_lifetime_seconds),
        )
        self.app = create_app(self.runtime)
        self.listeners = ListenerSet(self.app, settings.host, settings.port, [db.code for db in catalog.databases])
        self.runtime.listeners = self.listeners
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def base_url(self) -> str:
        return self.listeners.main.base_url

    def port_map(self) -> dict[str, str]:
        return self.listeners.port_map()

    async def serve(self, on_ready: Callable[[StubServer], None] | None = None) -> None:
        """Open every port, call ``on_ready``, and serve until :meth:`request_stop`."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        warm_up: asyncio.Task[None] | None = None
        try:
            await self.listeners.start(self.runtime.scenarios)
            self._log_start()
            if on_ready is not None:
                on_ready(self)
            if self.settings.warm_up:
                warm_up = asyncio.create_task(self._warm_up(), name="stub-warm-up")
            await self._stop.wait()
        finally:
            logger.info("Stub server stopping")
            if warm_up is not None:
                warm_up.cancel()
                await asyncio.gather(warm_up, return_exceptions=True)
            await self.listeners.stop()
            self.runtime.store.close()
            logger.info("Stub server stopped")

    async def _warm_up(self) -> None:
        state = self.runtime.scenarios
        started = time.monotonic()
        logger.info("Warm-up started: building and signing records in the background")
        try:
            built = await self.runtime.store.warm_up(
                self.catalog.databases, lambda code: ContentVariant.of(state.entry(code), schema_drift=False)
            )
        except Exception:
            logger.exception("Warm-up failed; records are built on request instead")
            return
        logger.info("Warm-up finished: %d blocks built in %.1f s", built, time.monotonic() - started)

    def request_stop(self) -> None:
        """Ask :meth:`serve` to return; safe to call from any thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    def _log_start(self) -> None:
        settings = self.settings
        state = self.runtime.scenarios
        faulty = sum(1 for database in self.catalog.databases if state.entry(database.code) != HEALTHY)
        logger.info("Stub server listening on %s (token, CA, admin and every database)", self.base_url)
        logger.info("Serving %d databases, each also on its own port", len(self.catalog.databases))
        logger.info("Test CA %s; JSON records signed with %s", self.pki_origin, settings.key_algorithm)
        logger.info("Records: seed %d, %d per database", settings.seed, settings.total)
        logger.info("Scenario %s in force: %d databases not healthy", state.name, faulty)
        if settings.admin_token is None:
            logger.info("Admin API disabled: STUB_ADMIN_TOKEN is not set")


class BackgroundStubServer:
    """Runs a :class:`StubServer` on its own thread and event loop, for tests and benchmarks."""

    def __init__(self, server: StubServer) -> None:
        self.server = server
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="stub-server", daemon=True)

    def start(self) -> StubServer:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_SECONDS):
            raise TimeoutError(f"stub server did not start within {START_TIMEOUT_SECONDS} s")
        if self._error is not None:
            raise RuntimeError("stub server failed to start") from self._error
        return self.server

    def stop(self) -> None:
        self.server.request_stop()
        self._thread.join(timeout=START_TIMEOUT_SECONDS)

    def _run(self) -> None:
        try:
            asyncio.run(self.server.serve(on_ready=lambda _: self._ready.set()))
        except BaseException as error:
            self._error = error
            self._ready.set()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
