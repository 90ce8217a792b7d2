"""The page's files: ours from this package, plotly.js from the installed plotly package.

Only the files named here are served, each with its content type; nothing is looked up by a
path the client sends, and no URL outside this server appears in them.
"""

from __future__ import annotations

import importlib.util
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

JS = "text/javascript; charset=utf-8"
OWN_ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": JS,
    "dashboard.css": "text/css; charset=utf-8",
}


def plotly_js_path() -> Path:
    """plotly.min.js inside the installed plotly package (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the plotly package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"


SECURITY_HEADERS = {
    # plotly sets inline styles on the elements it draws; every script is one of ours or plotly's
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def own_asset(name: str) -> bytes:
    """The bytes of one of our static files."""
    return resources.files("nexusforge.nexus.dashboard").joinpath("static", name).read_bytes()


async def index(request: Request) -> Response:
    """The page."""
    return Response(own_asset("index.html"), media_type=OWN_ASSETS["index.html"])


async def static(request: Request) -> Response:
    """/static/<name>: our JS and CSS, and plotly.min.js from the plotly package."""
    name = request.path_params["name"]
    headers = {"cache-control": "no-cache"}
    if name == "plotly.min.js":
        path = plotly_js_path()
        if not path.is_file():
            return PlainTextResponse("plotly.min.js missing from the plotly package", 500)
        return FileResponse(path, media_type=JS, headers=headers)
    if name not in OWN_ASSETS or name == "index.html":
        return PlainTextResponse("not found", 404)
    return Response(own_asset(name), media_type=OWN_ASSETS[name], headers=headers)
