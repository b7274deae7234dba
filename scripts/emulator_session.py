# Copyright: (c) 2026, defender.atp maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start and stop the Defender/Entra ID emulator (tests/emulator/run.py) for the tools in scripts/.

Standard library only. The emulator prints one JSON object on its first stdout line (url, CA path,
credentials, pid) and serves until SIGTERM. Everything it prints afterwards goes to a log file, so
its pipes never fill up and block it.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

REQUIRED_KEYS = (
    'url', 'ca_path', 'tenant_id', 'tenant_domain', 'client_id', 'client_secret', 'certificate_path',
    'encrypted_certificate_path', 'certificate_password', 'public_client_id', 'username', 'password',
    'limited_client_id', 'limited_client_secret', 'other_tenant_id', 'other_client_id',
    'other_client_secret', 'pid',
)


class EmulatorError(Exception):
    """The emulator could not be started or did not answer as expected."""


class EmulatorSession:
    """One running emulator process."""

    def __init__(self, root, state_dir, log_path, port=0, python=None, extra_args=None, startup_timeout=90, request_log=None):
        self.root = root
        self.state_dir = state_dir
        self.log_path = log_path
        self.port = port
        self.python = python or sys.executable
        self.extra_args = list(extra_args or [])
        self.startup_timeout = startup_timeout
        # Append-only JSON-lines copy of the request log (survives /_emulator/reset).
        self.request_log = request_log
        self.process = None
        self.info = None
        self._log_handle = None
        self._pump = None

    @property
    def run_script(self):
        return os.path.join(self.root, 'tests', 'emulator', 'run.py')

    def start(self):
        """Start the emulator and return its JSON description (a dict)."""
        if not os.path.isfile(self.run_script):
            raise EmulatorError('%s does not exist yet (the emulator is not written)' % os.path.relpath(self.run_script, self.root))
        os.makedirs(self.state_dir, exist_ok=True)
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        # --exit-on-stdin-eof: the emulator stops when our end of its stdin closes, so it never outlives us.
        cmd = [self.python, self.run_script, '--port', str(self.port), '--state-dir', self.state_dir, '--exit-on-stdin-eof']
        if self.request_log:
            cmd += ['--log-file', self.request_log]
        cmd += self.extra_args
        self._log_handle = open(self.log_path, 'ab')  # pylint: disable=consider-using-with
        self._log_handle.write(('$ %s\n' % ' '.join(cmd)).encode())
        self._log_handle.flush()
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            cmd, cwd=self.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log_handle,
            start_new_session=True,
        )
        first_line = self._read_first_line()
        try:
            info = json.loads(first_line.decode('utf-8', 'replace'))
        except ValueError as ex:
            self.stop()
            raise EmulatorError('the first stdout line of the emulator is not JSON (%s); see %s' % (ex, self.log_path)) from None
        if not isinstance(info, dict):
            self.stop()
            raise EmulatorError('the first stdout line of the emulator is not a JSON object; see %s' % self.log_path)
        missing = [key for key in REQUIRED_KEYS if key not in info]
        if missing:
            self.stop()
            raise EmulatorError('the emulator description lacks keys: %s' % ', '.join(missing))
        self.info = info
        self._pump = threading.Thread(target=self._drain_stdout, daemon=True)
        self._pump.start()
        return info

    def _read_first_line(self):
        result = {}

        def reader():
            result['line'] = self.process.stdout.readline()

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        thread.join(self.startup_timeout)
        if thread.is_alive():
            self.stop()
            raise EmulatorError('the emulator printed nothing within %d s; see %s' % (self.startup_timeout, self.log_path))
        line = result.get('line') or b''
        if not line.strip():
            code = self.process.poll()
            self.stop()
            raise EmulatorError('the emulator exited (status %s) before describing itself; see %s' % (code, self.log_path))
        return line

    def _drain_stdout(self):
        for chunk in iter(self.process.stdout.readline, b''):
            try:
                self._log_handle.write(chunk)
                self._log_handle.flush()
            except (ValueError, OSError):
                return

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.info['ca_path'])

    def get_json(self, path, timeout=30):
        """GET a path of the emulator (e.g. /_emulator/secrets) and decode its JSON answer."""
        request = urllib.request.Request(self.info['url'].rstrip('/') + path, headers={'Accept': 'application/json'})
        with urllib.request.urlopen(request, timeout=timeout, context=self.ssl_context()) as response:  # nosec - local emulator
            return json.loads(response.read().decode('utf-8'))

    def stop(self, grace=10):
        """SIGTERM the emulator (its whole process group), SIGKILL it if it lingers. Returns its exit status."""
        code = None
        if self.process is not None:
            # First close its stdin (--exit-on-stdin-eof makes that a clean stop), then SIGTERM, then SIGKILL.
            if self.process.stdin is not None:
                try:
                    self.process.stdin.close()
                except OSError:
                    pass
                deadline = time.monotonic() + min(grace, 5)
                while self.process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                deadline = time.monotonic() + grace
                while self.process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.1)
                if self.process.poll() is None:
                    try:
                        os.killpg(self.process.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    self.process.wait()
            code = self.process.returncode
            if self._pump is not None:
                self._pump.join(5)
            for pipe in (self.process.stdin, self.process.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass
            self.process = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        return code


def connection_vars(info, prefix='emulator_'):
    """The emulator description as playbook variables: every key prefixed (emulator_url, ...)."""
    return {prefix + key: value for key, value in info.items()}


def write_vars_file(path, variables):
    """Write variables as YAML (JSON syntax, which YAML reads), readable by the owner only: it holds secrets."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write('---\n# Written by scripts/ from the emulator description; holds secrets, do not commit.\n')
        for key in sorted(variables):
            handle.write('%s: %s\n' % (key, json.dumps(variables[key])))
    os.chmod(path, 0o600)
