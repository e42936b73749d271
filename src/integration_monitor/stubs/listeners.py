"""TCP listeners of the stub server: one uvicorn server per port, opened and closed at run time.

Closing a database's listener closes its listening socket at once, so new connections get
ECONNREFUSED. Open keep-alive connections are then shut down by uvicorn, while a response
already being sent is finished first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from integration_monitor.stubs.scenario import DatabaseScenario, Fault
from integration_monitor.stubs.state import ScenarioState

logger = logging.getLogger(__name__)

# With `refused` and `flapping`, a database's port stays closed this long, then serves one request.
REFUSED_FLAP_SECONDS = 1.0
GRACEFUL_SHUTDOWN_SECONDS = 2


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT and SIGTERM to the stub server, which runs several."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class PortListener:
    """One port that serves the ASGI app while open."""

    def __init__(self, name: str, app: ASGIApp, host: str, port: int) -> None:
        self.name = name
        self.host = host
        self.port = port
        self._config = uvicorn.Config(
            app,
            host=host,
            port=port,
            lifespan="off",
            access_log=False,
            log_config=None,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def is_open(self) -> bool:
        return self._server is not None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def open(self) -> None:
        if self._server is not None:
            return
        listening_socket = _bind(self.host, self.port)
        self.port = listening_socket.getsockname()[1]

        server = _EmbeddedServer(self._config)
        task = asyncio.create_task(server.serve(sockets=[listening_socket]), name=f"stub-listener-{self.name}")
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError(f"listener {self.name} on port {self.port} stopped during start-up")
            await asyncio.sleep(0.005)
        self._server = server
        self._task = task
        logger.info("Opened port %d for %s", self.port, self.name)

    async def close(self, wait: bool = False) -> None:
        server, task = self._server, self._task
        if server is None or task is None:
            return
        self._server = None
        self._task = None

        # Stop accepting now; uvicorn's own shutdown only starts at its next 0.1 s tick.
        for asyncio_server in server.servers:
            asyncio_server.close()
        # Idle keep-alive connections close now too, so that no pooled connection still reaches
        # a refused database. A connection that is sending a response closes after it.
        for connection in list(server.server_state.connections):
            connection.shutdown()
        server.should_exit = True
        logger.info("Closed port %d for %s", self.port, self.name)
        if wait:
            await task
        else:
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def wait_closed(self) -> None:
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly, because asyncio sets TCP_NODELAY on accepted sockets only when
    # their proto is TCP. Without it every small response waited about 40 ms for a delayed ACK.
    listening_socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listening_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening_socket.bind((host, port))
    except OSError:
        listening_socket.close()
        raise
    listening_socket.setblocking(False)
    return listening_socket


class ListenerSet:
    """The main port and one port per database, kept in line with the scenario in force.

    With ``port`` 0 every listener gets a free port from the system; otherwise database
    number ``i`` (catalog order, 0-based) listens on ``port + 1 + i``.
    """

    def __init__(self, app: ASGIApp, host: str, port: int, database_codes: list[str]) -> None:
        self.main = PortListener("main", app, host, port)
        self.databases = {
            code: PortListener(code, app, host, port + 1 + number if port else 0)
            for number, code in enumerate(database_codes)
        }
        self._flappers: dict[str, asyncio.Task[None]] = {}
        self._served: dict[str, asyncio.Event] = {}
        self._applied: dict[str, DatabaseScenario] = {}

    async def start(self, state: ScenarioState) -> None:
        await self.main.open()
        await self.apply(state)

    async def apply(self, state: ScenarioState) -> None:
        """Open or close each database's port for the scenario in force."""
        for code, listener in self.databases.items():
            entry = state.entry(code)
            if self._applied.get(code) == entry:
                continue
            self._applied[code] = entry
            flapper = self._flappers.pop(code, None)
            if flapper is not None:
                flapper.cancel()
                await asyncio.gather(flapper, return_exceptions=True)

            if entry.fault != Fault.REFUSED:
                await listener.open()
            elif entry.flapping:
                # Closed before the admin request returns, like a plain refused port.
                await listener.close()
                self._served[code] = asyncio.Event()
                self._flappers[code] = asyncio.create_task(self._flap(code), name=f"stub-flapper-{code}")
            else:
                await listener.close()

    async def _flap(self, code: str) -> None:
        listener = self.databases[code]
        served = self._served[code]
        while True:
            await asyncio.sleep(REFUSED_FLAP_SECONDS)
            served.clear()
            await listener.open()
            await served.wait()
            await listener.close()

    def note_served(self, code: str) -> None:
        """Record that a flapping, refused database's port has served its one request."""
        event = self._served.get(code)
        if event is not None:
            event.set()

    def database_on_port(self, port: int | None) -> str | None:
        for code, listener in self.databases.items():
            if listener.port == port:
                return code
        return None

    def port_map(self) -> dict[str, str]:
        return {code: listener.base_url for code, listener in self.databases.items()}

    async def stop(self) -> None:
        for flapper in self._flappers.values():
            flapper.cancel()
        await asyncio.gather(*self._flappers.values(), return_exceptions=True)
        self._flappers.clear()
        listeners = [self.main, *self.databases.values()]
        for listener in listeners:
            await listener.close()
        await asyncio.gather(*(listener.wait_closed() for listener in listeners))
