"""Serving the dashboard: the loopback rule, and a uvicorn server inside the caller's event loop.

Binding to anything but 127.0.0.1 / ::1 / localhost needs a token (the page shows positions and
the kill switch is one request away). In the engine's process:

    server = dashboard_server(source, "127.0.0.1", 8940, token=None)  # binds now
    task = asyncio.create_task(server.serve_socket())   # runs in the engine's loop
    ...
    server.should_exit = True; await task

(`engine_source.start_dashboard` does exactly this for a running `Engine`.)
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import socket
import stat
from pathlib import Path

import uvicorn

from nexusforge.errors import ConfigError
from nexusforge.nexus.dashboard.app import create_app
from nexusforge.nexus.dashboard.auth import check_token_strength
from nexusforge.nexus.dashboard.source import DashboardSource

log = logging.getLogger(__name__)
DEFAULT_PORT = 8940
LOOPBACK_NAMES = ("localhost",)
TOKEN_ENV = "NEXUSFORGE_DASHBOARD_TOKEN"  # noqa: S105 (the variable's name, not a secret)


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (or the name localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """ConfigError when `host` is not loopback and no token was given."""
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"dashboard host {host!r} is not loopback: refusing to start without a token "
            f"(set {TOKEN_ENV} or pass --token-file)"
        )


def load_token(token_file: Path | None = None) -> str | None:
    """The action token: from `token_file` (owner-only permissions, first line) or the
    environment variable NEXUSFORGE_DASHBOARD_TOKEN; None when neither is given. Never a
    command-line value (other users can read a process's arguments)."""
    if token_file is not None:
        mode = token_file.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{token_file}: token file must be private (chmod 600)")
        lines = token_file.read_text().splitlines()
        return check_token_strength(lines[0].strip() if lines else "")
    value = os.environ.get(TOKEN_ENV)
    return None if not value else check_token_strength(value.strip())


def allowed_hosts(host: str) -> list[str] | None:
    """Host headers to accept: loopback names on loopback (no DNS rebinding), any elsewhere
    (behind a reverse proxy, the token guards actions)."""
    if not is_loopback(host):
        return None
    return ["127.0.0.1", "localhost", "::1", "[::1]"]


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (0: any free port). Bound here, so a busy port is an
    OSError for the caller, never uvicorn's own `sys.exit` inside the engine's event loop."""
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    return socket.create_server((bare, port), family=family, backlog=128)


class DashboardServer(uvicorn.Server):
    """uvicorn's server on a socket bound in advance; ends open event streams on shutdown."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket | None = None) -> None:
        super().__init__(config)
        self.sock = sock

    @property
    def port(self) -> int:
        """The port the socket is bound to."""
        if self.sock is None:
            raise ConfigError("this dashboard server has no socket of its own")
        return int(self.sock.getsockname()[1])

    async def serve_socket(self) -> None:
        """Serves on the bound socket until told to exit (or cancelled); then closes it."""
        if self.sock is None:
            raise ConfigError("this dashboard server has no socket of its own")
        try:
            await self.serve(sockets=[self.sock])
        finally:
            self.sock.close()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Ends the streams, then uvicorn's graceful shutdown."""
        app = self.config.app
        closing = getattr(getattr(app, "state", None), "closing", None)
        if isinstance(closing, asyncio.Event):
            closing.set()
        await super().shutdown(sockets)


def dashboard_server(
    source: DashboardSource,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    reports: Path | None = None,
) -> DashboardServer:
    """The dashboard's server, its socket already bound (ConfigError for a public host without a
    token, OSError for a busy port); run `await server.serve_socket()` in the engine's loop.
    `reports`: the research reports folder it lists (None: none)."""
    check_bind(host, token)
    app = create_app(source, token=token, allowed_hosts=allowed_hosts(host), reports=reports)
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,  # one line per request is noise on a page that streams
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    return DashboardServer(config, listen(host, port))


async def serve_dashboard(
    source: DashboardSource,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    reports: Path | None = None,
) -> None:
    """Serves until cancelled (or the server is told to exit)."""
    server = dashboard_server(source, host, port, token, reports)
    log.info("dashboard at http://%s:%d/", host, server.port)
    await server.serve_socket()
