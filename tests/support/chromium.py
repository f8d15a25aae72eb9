"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

The pipe mode needs no extra package (no websocket client, no debugging port to find or
to leak): Chromium reads commands on fd 3 and writes replies and events on fd 4, each a JSON
message ended by a NUL byte.
"""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900", "--lang=ru-RU",
]


def _high_fd(fd):
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


class BrowserError(Exception):
    pass


class Chromium:
    """One browser with one page; ``with Chromium() as browser: browser.goto(url)``."""

    def __init__(self, executable=CHROMIUM, timeout=30.0):
        self.executable = executable
        self.timeout = timeout
        self._next_id = 0
        self._buffer = b""
        self._events = []
        self.session = None

    # --- process ------------------------------------------------------------------------------
    def __enter__(self):
        self.profile = tempfile.mkdtemp(prefix="kabinet-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Move the child's ends above 9 so the redirections below cannot collide with 3 and 4.
        to_browser_r, from_browser_w = (_high_fd(fd) for fd in (to_browser_r, from_browser_w))
        # bash moves the pipe ends to the fds Chromium expects (3 in, 4 out).
        script = f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w} {to_browser_r}<&- {from_browser_w}>&-'
        self.process = subprocess.Popen(
            ["/bin/bash", "-c", script, self.executable, *FLAGS, f"--user-data-dir={self.profile}",
             "--remote-debugging-pipe", "about:blank"],
            pass_fds=(to_browser_r, from_browser_w), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        try:
            target = self.call("Target.createTarget", url="about:blank", session=False)["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target, flatten=True, session=False)["sessionId"]
            self.call("Page.enable")
            self.call("Runtime.enable")
            # Headless Chromium asks for en-US whatever --lang says; the staff's browsers ask for Russian.
            self.call("Network.enable")
            self.call("Network.setExtraHTTPHeaders", headers={"Accept-Language": "ru-RU,ru;q=0.9"})
        except Exception:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        try:
            if self.process.poll() is None:
                try:
                    self.call("Browser.close", session=False, timeout=5)
                except Exception:
                    pass
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            if self.process.stderr:
                self.process.stderr.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    # --- protocol -----------------------------------------------------------------------------
    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for Chromium")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium exited: {self._stderr_tail()}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _stderr_tail(self):
        if self.process.poll() is None or not self.process.stderr:
            return "(still running)"
        return self.process.stderr.read()[-2000:].decode("utf-8", "replace")

    def call(self, method, session=True, timeout=None, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_event(self, method, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for index, event in enumerate(self._events):
                if event["method"] == method:
                    return self._events.pop(index)
            self._events.append(self._read_message(deadline))

    # --- page ---------------------------------------------------------------------------------
    def goto(self, url):
        self._events.clear()
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"{url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def submit(self, expression):
        """Run JS that submits a form or follows a link, and wait for the next page to load."""
        self._events.clear()
        self.evaluate(expression)
        self.wait_event("Page.loadEventFired")

    def text(self):
        return self.evaluate("document.body.innerText")

    def url(self):
        return self.evaluate("location.href")

    def screenshot(self, path):
        height = self.evaluate("Math.max(document.documentElement.scrollHeight, 900)")
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=min(int(height), 4000),
                  deviceScaleFactor=1, mobile=False)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        self.call("Emulation.clearDeviceMetricsOverride")
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))
        return path
