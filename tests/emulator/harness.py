"""Start the emulator as a subprocess and talk to its control API; used by every test suite and the benchmarks.

    with EmulatorProcess(args=["--rate-scale", "0.05"]) as emu:
        info = emu.info           # the start-up JSON: url, ca_path, tenant_id, client_id, client_secret, ...
        emu.set_config(pending_seconds=0.2)
        emu.add_fault(path="^/api/machines$", status=503, times=1)
        emu.requests_log()        # what was called
        emu.reset(all=True)

Only the standard library is used here, so any Python that can run the emulator can drive it.
"""

import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

RUN_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run.py")


class EmulatorError(RuntimeError):
    pass


class EmulatorProcess:
    def __init__(self, args=None, python=None, port=0, env=None, startup_timeout=60.0):
        self.args = list(args or [])
        self.python = python or sys.executable
        self.port = port
        self.env = env
        self.startup_timeout = startup_timeout
        self.process = None
        self.info = None
        self._stderr = None
        self._ssl = None

    # -- life cycle -----------------------------------------------------------------------------------------------------
    def start(self):
        """Launch ``run.py`` and return the start-up JSON (also kept as ``self.info``)."""
        if self.process is not None:
            raise EmulatorError("already started")
        args = list(self.args)
        if "--port" not in args:
            args = ["--port", str(self.port)] + args
        self._stderr = tempfile.TemporaryFile(mode="w+b")
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.process = subprocess.Popen([self.python, RUN_PY, "--exit-on-stdin-eof"] + args, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        line = self._first_line()
        try:
            self.info = json.loads(line)
        except ValueError:
            self.stop()
            raise EmulatorError("the emulator printed no start-up JSON: %r\n%s" % (line[:200], self.stderr_text())) from None
        self._ssl = ssl.create_default_context(cafile=self.info["ca_path"])
        # Drain stdout in the background so a stray print can never block the emulator.
        threading.Thread(target=self._drain, daemon=True).start()
        return self.info

    def _first_line(self):
        result = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not result or not result[0]:
            self.stop()
            raise EmulatorError("the emulator did not start within %.0f s:\n%s" % (self.startup_timeout, self.stderr_text()))
        return result[0].decode("utf-8")

    def _drain(self):
        try:
            while self.process is not None and self.process.stdout.read(4096):
                pass
        except (OSError, ValueError, AttributeError):
            pass

    def stop(self, timeout=15.0):
        """SIGTERM, wait, and return the exit code (SIGKILL after ``timeout``)."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except (OSError, AttributeError):
                pass
        return process.returncode

    def stderr_text(self):
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return self.info["url"]

    @property
    def ca_path(self):
        return self.info["ca_path"]

    # -- control API ----------------------------------------------------------------------------------------------------
    def call(self, method, path, body=None, headers=None):
        """One HTTPS request to the emulator; returns (status, parsed JSON or raw text, headers)."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=dict(headers or {}))
        if body is not None and not isinstance(body, bytes):
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=self._ssl, timeout=60) as response:
                status, raw, head = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as err:
            status, raw, head = err.code, err.read(), dict(err.headers)
        try:
            return status, json.loads(raw.decode("utf-8")), head
        except ValueError:
            return status, raw.decode("utf-8", "replace"), head

    def _control(self, method, path, body=None):
        status, payload = self.call(method, "/_emulator/" + path, body)[:2]
        if status >= 400:
            raise EmulatorError("%s /_emulator/%s -> %d %s" % (method, path, status, payload))
        return payload

    def requests_log(self, since=0):
        return self._control("GET", "requests" + ("?since=%d" % since if since else ""))

    def reset(self, **flags):
        """Clear the request log; ``data=True``, ``faults=True``, ``rate_limits=True`` or ``all=True`` reset more."""
        return self._control("POST", "reset", flags)

    def get_config(self):
        return self._control("GET", "config")

    def set_config(self, **values):
        return self._control("POST", "config", values)

    def add_fault(self, **rule):
        """Add a fault rule (path, method, status, retry_after, body, delay, drop, times, skip); returns its id."""
        return self._control("POST", "faults", rule)["id"]

    def clear_faults(self):
        return self._control("DELETE", "faults")

    def set_data(self, **document):
        """Replace the main tenant's data: machines/alerts/machine_actions lists, or generate={...}."""
        return self._control("POST", "data", document)

    def secrets(self):
        return self._control("GET", "secrets")["secrets"]

    def machine_state(self, machine_id):
        return self._control("GET", "state/machines/" + urllib.parse.quote(machine_id, safe=""))

    def mint_token(self, **spec):
        """A signed token with chosen claims (audience, roles, scp, lifetime, tenant_id, client_id, claims)."""
        return self._control("POST", "token", spec)["access_token"]

    def token(self, client_id=None, client_secret=None, resource="https://api.securitycenter.microsoft.com",
              tenant=None, v2=True):
        """Client-credentials token from the emulator's own token endpoint (the full app by default)."""
        tenant = tenant or self.info["tenant_id"]
        form = {"grant_type": "client_credentials", "client_id": client_id or self.info["client_id"],
                "client_secret": client_secret or self.info["client_secret"]}
        if v2:
            form["scope"] = resource.rstrip("/") + "/.default"
        else:
            form["resource"] = resource
        path = "/%s/oauth2/%stoken" % (tenant, "v2.0/" if v2 else "")
        status, payload = self.call("POST", path, urllib.parse.urlencode(form).encode(),
                                    {"Content-Type": "application/x-www-form-urlencoded"})[:2]
        if status != 200:
            raise EmulatorError("token request failed: %d %s" % (status, payload))
        return payload["access_token"]

    def wait_for(self, predicate, timeout=10.0, interval=0.05):
        """Poll ``predicate()`` until it returns something truthy; returns it, or raises after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise EmulatorError("condition not met within %.1f s" % timeout)
            time.sleep(interval)
