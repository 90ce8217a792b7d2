"""A real headless Chromium driven over the DevTools protocol (its own WebSocket, no driver).

`Browser` starts `chromium --headless=new` on a free DevTools port, opens one page, records every
network request the page makes, console messages and uncaught exceptions, and evaluates
JavaScript in the page. Tests skip when no chromium is installed (CI installs it in .ci/run).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """The first Chromium-like browser on PATH."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium with one page attached."""

    def __init__(self, executable: str) -> None:
        # chromium's helper processes may still write to the profile for a moment after exit
        self._profile = tempfile.TemporaryDirectory(
            prefix="nf-chromium-", ignore_cleanup_errors=True
        )
        self._proc = subprocess.Popen(
            [
                executable,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--disable-extensions",
                "--disable-background-networking",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}",
                "--window-size=1400,1800",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: close() ends every helper with it
        )
        self._ids = itertools.count(1)
        self.requests: list[str] = []
        self.console: list[str] = []
        self.exceptions: list[str] = []
        self._stack = contextlib.ExitStack()
        try:
            self._attach()
        except BaseException:
            self.close()
            raise

    def _attach(self) -> None:
        url = self._devtools_url()
        self._ws = self._stack.enter_context(connect(url, max_size=64 << 20, open_timeout=20))
        target = self._call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self._call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(f"{domain}.enable")

    def _devtools_url(self) -> str:
        assert self._proc.stderr is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self._proc.stderr.readline()
            m = re.search(r"DevTools listening on (ws://\S+)", line)
            if m:
                return m.group(1)
            if not line and self._proc.poll() is not None:
                break
        raise RuntimeError("chromium did not open its DevTools port")

    def _call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params}
        if session is not None:
            msg["sessionId"] = session
        self._ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self._ws.recv(timeout=30))
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self._event(reply)

    def _event(self, ev: dict[str, Any]) -> None:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value", "")) for a in params.get("args", [])))
        elif method == "Log.entryAdded":
            self.console.append(f"{params['entry']['level']}: {params['entry']['text']}")
        elif method == "Runtime.exceptionThrown":
            self.exceptions.append(json.dumps(params.get("exceptionDetails", {}))[:2000])

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """A DevTools command on the page."""
        return self._call(method, self._session, **params)

    def targets(self) -> list[dict[str, Any]]:
        """Every target (tab, popup) the browser has open: type, url, title."""
        infos: list[dict[str, Any]] = self._call("Target.getTargets")["targetInfos"]
        return infos

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the middle of the first element matching
        `selector`: a user gesture, so links with target=_blank open their tab."""
        box = self.js(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            " el.scrollIntoView({block: 'center'}); const r = el.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left",
                clickCount=1,
            )  # fmt: skip

    def goto(self, url: str) -> None:
        """Navigates the page."""
        self.call("Page.navigate", url=url)

    def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (awaits promises)."""
        out = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in out:
            raise RuntimeError(f"{expression}: {out['exceptionDetails']}")
        return out["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 20.0) -> Any:
        """Polls until the expression is truthy (a throw counts as not yet, e.g. while the page
        loads); returns its value (AssertionError on timeout)."""
        guarded = f"(() => {{ try {{ return ({expression}); }} catch (e) {{ return null; }} }})()"
        return self.wait_until(lambda: self.js(guarded), expression, timeout_s)

    def wait_until(self, probe: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
        """Polls `probe` until it returns something truthy."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = probe()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; console: {self.console}")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> Path:
        """Saves a PNG of the page."""
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self) -> None:
        """Ends the browser (asked over DevTools first, so its helpers exit with it) and
        removes its profile."""
        if getattr(self, "_ws", None) is not None:
            with contextlib.suppress(Exception):
                self._ws.send(json.dumps({"id": next(self._ids), "method": "Browser.close"}))
        self._stack.close()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)  # helpers (zygote, crashpad) of this browser
        if self._proc.stderr is not None:
            self._proc.stderr.close()
        self._profile.cleanup()
