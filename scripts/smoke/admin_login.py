#!/usr/bin/env python3
"""Opens the admin pages of a running lifecert-server in headless Chromium and
logs in, the way an administrator's browser does it (part of
scripts/smoke-shipped.sh).

Chromium keeps its default network behaviour: no --disable-http2, no
--ignore-certificate-errors. The server's CA must already be trusted through
the NSS database in $HOME/.pki/nssdb (the smoke script puts it there with
certutil, as an administrator installs a fleet CA). Only what a machine
without a display or a user namespace needs is added: --headless, and
--no-sandbox when running as root.

Drives chromedriver over the W3C WebDriver protocol with the standard library
only. Prints one "ok - ..." or "not ok - ..." line per check; exits 0 when
every check passed, 1 otherwise, 2 when the browser could not be started.

usage: admin_login.py BASE_URL PASSWORD_FILE
env:   CHROMIUM (default /usr/bin/chromium), CHROMEDRIVER (/usr/bin/chromedriver)
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

WAIT_S = 20
failures = 0


def ok(msg):
    print(f"ok - {msg}", flush=True)


def nok(msg):
    global failures
    failures += 1
    print(f"not ok - {msg}", flush=True)


class WebDriverError(Exception):
    pass


class Driver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.session = None

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                payload = json.load(resp)
        except urllib.error.HTTPError as e:
            try:
                payload = json.load(e)
            except ValueError:
                raise WebDriverError(f"HTTP {e.code} from chromedriver") from None
        value = payload.get("value")
        if isinstance(value, dict) and "error" in value:
            raise WebDriverError(f"{value['error']}: {value.get('message', '').splitlines()[0]}")
        return value

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def goto(self, url):
        self.s("POST", "/url", {"url": url})

    def script(self, js):
        return self.s("POST", "/execute/sync", {"script": js, "args": []})

    def find(self, css, wait=WAIT_S):
        deadline = time.monotonic() + wait
        while True:
            try:
                el = self.s("POST", "/element", {"using": "css selector", "value": css})
                return next(iter(el.values()))
            except WebDriverError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    base_url = sys.argv[1].rstrip("/")
    with open(sys.argv[2], encoding="utf-8") as f:
        password = f.read().strip()
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    chromedriver = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")

    port = free_port()
    driver_proc = subprocess.Popen(
        [chromedriver, f"--port={port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    d = Driver(port)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                d.call("GET", "/status", timeout=2)
                break
            except (OSError, WebDriverError):
                if time.monotonic() > deadline or driver_proc.poll() is not None:
                    print("error: chromedriver did not start", file=sys.stderr)
                    return 2
                time.sleep(0.2)
        profile = tempfile.mkdtemp(prefix="lifecert-smoke-profile-")
        args = ["--headless", f"--user-data-dir={profile}"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox.
        try:
            caps = d.call("POST", "/session", {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": chromium, "args": args}}}})
        except WebDriverError as e:
            print(f"error: Chromium did not start: {e}", file=sys.stderr)
            return 2
        d.session = caps["sessionId"]
        ok(f"headless Chromium {caps['capabilities'].get('browserVersion', '?')} started "
           f"(flags: {' '.join(a for a in args if not a.startswith('--user-data-dir'))})")
        run(d, base_url, password)
        try:
            d.call("DELETE", f"/session/{d.session}")
        except (OSError, WebDriverError):
            pass
    finally:
        try:
            os.killpg(driver_proc.pid, 9)
        except OSError:
            pass
        driver_proc.wait()
    return 1 if failures else 0


def check_h2(d, what):
    """The page now shown came over HTTP/2 (the navigation's nextHopProtocol)."""
    proto = d.script(
        "const e = performance.getEntriesByType('navigation')[0];"
        "return e ? e.nextHopProtocol : '';")
    if proto == "h2":
        ok(f"{what} over HTTP/2 (nextHopProtocol h2)")
    else:
        nok(f"{what} over HTTP/2 (nextHopProtocol {proto!r})")


def run(d, base_url, password):
    login_url = f"{base_url}/admin/login"
    try:
        d.goto(login_url)
    except WebDriverError as e:
        nok(f"the login page loads: {e}")
        return
    try:
        d.find("#password")
        ok(f"the login page loads in Chromium ({login_url})")
    except WebDriverError as e:
        nok(f"the login page has its password field: {e}; title {d.s('GET', '/title')!r}")
        return
    check_h2(d, "Chromium fetched the login page")

    field = d.find("#password")
    d.s("POST", f"/element/{field}/value", {"text": password})
    d.s("POST", f"/element/{d.find('#login-button')}/click", {})
    deadline = time.monotonic() + WAIT_S
    url = ""
    while time.monotonic() < deadline:
        url = d.s("GET", "/url")
        if url.rstrip("/").endswith("/admin"):
            break
        time.sleep(0.2)
    try:
        certified = d.s("GET", f"/element/{d.find('#certified b')}/text")
        if url.rstrip("/").endswith("/admin"):
            ok(f"the login succeeds: the dashboard opens (certified this cycle: {certified})")
        else:
            nok(f"the login succeeds (at {url})")
    except WebDriverError as e:
        nok(f"the login succeeds: no dashboard at {url}: {e}")
        return
    check_h2(d, "the dashboard came")


if __name__ == "__main__":
    sys.exit(main())
