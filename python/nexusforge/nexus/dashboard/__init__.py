"""The live dashboard and Prometheus metrics over a `DashboardSource` (engine or journal).

Mount it in the engine's process with `dashboard_server(LiveSource(...), host, port, token)` and
`await server.serve()` in the engine's loop; `nexusforge nexus dashboard --journal F` serves a
journal file instead. Read-only unless started with a token; never binds beyond loopback
without one.
"""

from nexusforge.nexus.dashboard.app import create_app
from nexusforge.nexus.dashboard.journal_source import JournalSource
from nexusforge.nexus.dashboard.latency import LatencyHistogram
from nexusforge.nexus.dashboard.live_source import LiveSource
from nexusforge.nexus.dashboard.serve import check_bind, dashboard_server, serve_dashboard
from nexusforge.nexus.dashboard.snapshot import Snapshot
from nexusforge.nexus.dashboard.source import DashboardSource

__all__ = [
    "DashboardSource",
    "JournalSource",
    "LatencyHistogram",
    "LiveSource",
    "Snapshot",
    "check_bind",
    "create_app",
    "dashboard_server",
    "serve_dashboard",
]
