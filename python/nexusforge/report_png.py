"""PNG export of a standalone HTML report: a full-page screenshot in headless Chromium.

Every report (backtest, simulator fidelity, Forge run, validation) is one HTML file with plotly.js
inlined, so one exporter serves them all and the PNG shows what the HTML shows: tables, verdicts
and every chart. Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-
pipe`: no TCP port another local user could reach), with a throwaway profile, offline.

kaleido (plotly's own exporter) is not used: it renders single figures, not a report, and v1
starts a Chrome of its own choosing, which failed to start Debian's chromium on this machine.

    html_to_png(Path("reports/bt.html"))          # -> reports/bt.png
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nexusforge.errors import ExportError

CHROMIUM_ENV = "NEXUSFORGE_CHROMIUM"  # path of the browser to use, when not on PATH
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH_PX = 1280
MAX_HEIGHT_PX = 16_384  # Chromium's largest capture; a taller page is cut there
# Waits until every plotly chart has drawn (or ~5 s passed), hides plotly's hover toolbar (no
# use on paper), waits two frames more, then measures.
_SETTLE_JS = """(async () => {
  const hide = document.createElement('style');
  hide.textContent = '.modebar-container { display: none !important; }';
  document.head.appendChild(hide);
  const plots = [...document.querySelectorAll('.js-plotly-plot, .plotly-graph-div')];
  for (let i = 0; i < 100; i++) {
    if (plots.every((d) => d._fullLayout && d.querySelector('.main-svg'))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const el = document.documentElement;
  return [el.scrollWidth, el.scrollHeight, plots.length];
})()"""


def find_chromium() -> str | None:
    """The browser to render with: $NEXUSFORGE_CHROMIUM, else the first candidate on PATH."""
    given = os.environ.get(CHROMIUM_ENV)
    if given:
        return given
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def png_path(html: Path) -> Path:
    """Where the PNG of `html` goes by default: beside it, same name, `.png`."""
    return html.with_suffix(".png")


def html_to_png(
    html: Path,
    out: Path | None = None,
    *,
    width_px: int = WIDTH_PX,
    timeout_s: float = 60.0,
    chromium: str | None = None,
) -> Path:
    """Renders the HTML file `html` to a PNG (default beside it); ExportError when no Chromium is
    found or it fails. The page is as wide as `width_px` and as tall as its content."""
    if not html.is_file():
        raise ExportError(f"{html}: no such report")
    exe = chromium or find_chromium()
    if exe is None:
        raise ExportError(
            f"PNG export needs Chromium: install it (Debian: apt-get install chromium) "
            f"or set {CHROMIUM_ENV} to the browser's path"
        )
    target = out or png_path(html)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _Chromium(exe, width_px, time.monotonic() + timeout_s) as browser:
        png = browser.screenshot(html.resolve().as_uri(), width_px)
    _write_atomic(target, png)
    return target


def _write_atomic(out: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Chromium:
    """One headless Chromium, its DevTools protocol on a pipe, one page attached."""

    def __init__(self, exe: str, width_px: int, deadline: float) -> None:
        self._deadline = deadline
        self._ids = 0
        self._buffer = b""
        self._profile = tempfile.TemporaryDirectory(prefix="nf-png-", ignore_cleanup_errors=True)
        to_child, self._write_fd = os.pipe()  # the browser reads commands on its fd 3
        self._read_fd, from_child = os.pipe()  # and writes replies and events on fd 4
        args = [
            exe,
            "--headless=new",
            "--remote-debugging-pipe",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-sync",
            "--hide-scrollbars",
            "--mute-audio",
            f"--user-data-dir={self._profile.name}",
            f"--window-size={width_px},900",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
        try:
            # Our fds are not inheritable (Python's default), so with close_fds off only 0-2 and
            # the two pipe ends the child places on 3 and 4 cross the exec.
            self._proc = subprocess.Popen(  # noqa: S603 (the browser the user chose, no shell)
                [*args, "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=False,
                preexec_fn=_pipe_fds(to_child, from_child),  # only dup/dup2 run in the child
                start_new_session=True,  # its own group: close() ends every helper with it
            )
        except OSError as exc:
            self._cleanup_fds(self._write_fd, self._read_fd)
            self._profile.cleanup()
            raise ExportError(f"cannot start {exe}: {exc.strerror}") from None
        finally:
            self._cleanup_fds(to_child, from_child)  # the child's ends: ours stay

    def __enter__(self) -> _Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def screenshot(self, url: str, width_px: int) -> bytes:
        """A full-page PNG of `url`."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable", session=session)
        self.call("Page.navigate", session=session, url=url)
        self._wait_event("Page.loadEventFired", session)
        done = self.call(
            "Runtime.evaluate",
            session=session,
            expression=_SETTLE_JS,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in done:
            raise ExportError(f"the report's page failed to render: {done['exceptionDetails']}")
        _, height, _ = done["result"]["value"]
        height = max(1, min(int(height), MAX_HEIGHT_PX))
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=session,
            width=width_px,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = self.call(
            "Page.captureScreenshot", session=session, format="png", captureBeyondViewport=True
        )
        return base64.b64decode(shot["data"])

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """One DevTools command; its result (ExportError on an error reply or the deadline)."""
        self._ids += 1
        msg: dict[str, Any] = {"id": self._ids, "method": method, "params": params}
        if session is not None:
            msg["sessionId"] = session
        self._send(json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._ids:
                if "error" in reply:
                    raise ExportError(f"Chromium: {method} failed: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def _wait_event(self, method: str, session: str) -> None:
        while True:
            ev = self._receive()
            if ev.get("method") == method and ev.get("sessionId") == session:
                return

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            _, ready, _ = select.select([], [self._write_fd], [], self._left())
            if not ready:
                raise ExportError("Chromium stopped reading commands (timed out)")
            view = view[os.write(self._write_fd, view) :]

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read_fd], [], [], self._left())
            if not ready:
                raise ExportError("Chromium did not answer in time")
            chunk = os.read(self._read_fd, 1 << 20)
            if not chunk:
                raise ExportError(f"Chromium exited (code {self._proc.poll()})")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\0", 1)
        out: dict[str, Any] = json.loads(line)
        return out

    def _left(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise ExportError("PNG export timed out")
        return left

    def close(self) -> None:
        """Asks the browser to close, then ends its process group; removes the profile."""
        self._ids += 1
        bye = json.dumps({"id": self._ids, "method": "Browser.close"}).encode() + b"\0"
        with contextlib.suppress(OSError):
            os.write(self._write_fd, bye)  # a small write to a pipe: it does not block
        try:
            self._proc.wait(5)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)  # helpers (zygote, crashpad) of this one
        self._cleanup_fds(self._write_fd, self._read_fd)
        self._profile.cleanup()

    @staticmethod
    def _cleanup_fds(*fds: int) -> None:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)


def _pipe_fds(to_child: int, from_child: int) -> Callable[[], None]:
    """In the child: its command pipe on fd 3 and its reply pipe on fd 4 (what Chromium's
    --remote-debugging-pipe reads and writes)."""

    def place() -> None:
        # dup both out of the way first: either may already sit on 3 or 4
        a, b = os.dup(to_child), os.dup(from_child)
        os.dup2(a, 3)  # dup2 makes the copies inheritable
        os.dup2(b, 4)

    return place
