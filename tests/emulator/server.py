"""The emulator: one HTTPS origin serving Entra ID, the Defender API, Graph hunting and the control API."""

import http.server
import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
import traceback

from . import data as datamod
from . import directory as dirmod
from .config import Config
from .control import Control
from .defender import Defender
from .faults import Faults
from .graph import Graph
from .identity import AadError, Identity
from .messages import Request, Response, defender_error, graph_error, json_response
from .ratelimit import RateLimiter
from .requestlog import RequestLog
from .state import TenantState
from .tls import TlsMaterial
from .tokens import Signer

MAX_BODY = 64 * 1024 * 1024


class Emulator:
    """Build with options, ``start()``, read ``info()``, ``stop()``. All shared state is guarded by ``self.lock``."""

    def __init__(self, port=0, host="127.0.0.1", state_dir=None, data_file=None, machines=0, alerts=0, hunting_rows=None,
                 seed=1, rate_scale=1.0, rate_limits=True, action_delays=None, token_lifetime=None, log_file=None,
                 verbose=False):
        self.lock = threading.RLock()
        self.host, self.port, self.verbose = host, port, verbose
        self._own_state_dir = state_dir is None
        self.state_dir = os.path.abspath(state_dir or tempfile.mkdtemp(prefix="mde-emulator-"))
        self.certificate_password = "Cert-" + secrets.token_urlsafe(12)
        hosts = list(dict.fromkeys([host if host not in ("0.0.0.0", "") else "127.0.0.1", "127.0.0.1", "localhost", "::1"]))
        self.tls = TlsMaterial(self.state_dir, hosts, self.certificate_password)
        self.directory = dirmod.build(self.tls)
        self.main_tenant_id, self.main_client_id = dirmod.TENANT_ID, dirmod.CLIENT_ID
        self.signer = Signer()
        self.ratelimiter, self.faults, self.log = RateLimiter(), Faults(), RequestLog(log_file)
        self._secrets = set(self.directory.all_secret_values())
        self._secrets.add(self.signer.private_pem.decode("ascii"))
        self.url = None

        now = time.time()
        base = datamod.load_file(data_file, now) if data_file else datamod.default_dataset(now, seed)
        if machines or alerts or hunting_rows is not None:
            base = datamod.generate(base, now, machines=machines, alerts=alerts, hunting_rows=hunting_rows, seed=seed)
        self.seed = seed
        self.initial_datasets = {dirmod.TENANT_ID: base, dirmod.OTHER_TENANT_ID: datamod.other_dataset(now)}
        self.states = {}
        self.online_since = {}

        self.config = Config()
        self.config.rate_scale = float(rate_scale)
        self.config.rate_limits_enabled = bool(rate_limits)
        if action_delays is not None:
            self.config.pending_seconds, self.config.inprogress_seconds = (float(v) for v in action_delays)
        if token_lifetime is not None:
            self.config.token_lifetime = int(token_lifetime)
        self._load_states(self.initial_datasets, now)
        self.initial_config = self.config.copy()

        self.identity, self.defender, self.graph, self.control = Identity(self), Defender(self), Graph(self), Control(self)
        self._server = None
        self._thread = None

    # -- life cycle -----------------------------------------------------------------------------------------------------
    def start(self):
        server = _Server((self.host, self.port), _Handler)
        server.emulator = self
        server.ssl_context = self.tls.server_context()
        self._server = server
        self.port = server.server_address[1]
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        self.url = "https://%s:%d" % (host, self.port)
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="emulator-serve", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.log.close()
        if self._own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def info(self):
        main = self.directory.tenants[dirmod.TENANT_ID]
        other = self.directory.tenants[dirmod.OTHER_TENANT_ID]
        return {
            "url": self.url, "ca_path": self.tls.ca_path, "tenant_id": main.tenant_id, "tenant_domain": main.domains[0],
            "client_id": dirmod.CLIENT_ID, "client_secret": main.apps[dirmod.CLIENT_ID].secrets[0],
            "certificate_path": self.tls.client_cert.path,
            "encrypted_certificate_path": self.tls.encrypted_client_cert.path,
            "certificate_password": self.certificate_password,
            "public_client_id": dirmod.PUBLIC_CLIENT_ID, "username": dirmod.USERNAME,
            "password": main.users[dirmod.USERNAME].password,
            "scoped_username": dirmod.SCOPED_USERNAME, "scoped_password": main.users[dirmod.SCOPED_USERNAME].password,
            "limited_client_id": dirmod.LIMITED_CLIENT_ID,
            "limited_client_secret": main.apps[dirmod.LIMITED_CLIENT_ID].secrets[0],
            "other_tenant_id": other.tenant_id, "other_tenant_domain": other.domains[0],
            "other_client_id": dirmod.OTHER_CLIENT_ID, "other_client_secret": other.apps[dirmod.OTHER_CLIENT_ID].secrets[0],
            "state_dir": self.state_dir, "pid": os.getpid(),
        }

    # -- shared services for the backends ----------------------------------------------------------------------------------
    def _load_states(self, datasets, now):
        with self.lock:
            self.states = {tid: TenantState(tid, ds, now) for tid, ds in datasets.items()}
            offline = []
            for ds in datasets.values():
                offline.extend(ds.offline_ids())
            self.config.offline_machines = offline
            self.online_since = {}

    def tenant_state(self, tenant_id):
        with self.lock:
            return self.states.get(tenant_id)

    def remember_secret(self, value):
        with self.lock:
            if len(self._secrets) < 200000:
                self._secrets.add(value)

    def secrets(self):
        with self.lock:
            return sorted(self._secrets)

    def throttle(self, key, family):
        with self.lock:
            if not self.config.rate_limits_enabled:
                return None
            limits = self.config.rate_limits.get(family)
            throttled = self.ratelimiter.check(key, limits, self.config.rate_scale, time.monotonic())
            if throttled:
                throttled.plain = self.config.throttle_message == "plain"
            return throttled

    def refresh(self, state):
        with self.lock:
            state.refresh(time.time(), self.config.pending_seconds, self.config.inprogress_seconds,
                          set(self.config.offline_machines), self.online_since, self.config.action_outcomes)

    # -- control operations -----------------------------------------------------------------------------------------------
    def reset(self, data=False, faults=False, rate_limits=False, all=False):  # noqa: A002 (the documented flag name)
        self.log.clear()
        with self.lock:
            if data or all:
                self.config = self.initial_config.copy()
                self._load_states(self.initial_datasets, time.time())
                self.config.offline_machines = list(self.initial_config.offline_machines)
            if faults or all:
                self.faults.clear()
            if rate_limits or all or data:
                self.ratelimiter.reset()

    def get_config(self):
        with self.lock:
            return self.config.as_dict()

    def update_config(self, values):
        with self.lock:
            now = time.time()
            before = set(self.config.offline_machines)
            self.config.update(values)
            for machine_id in before - set(self.config.offline_machines):
                self.online_since[machine_id] = now  # actions start their lifecycle when the device comes back
            return self.config.as_dict()

    def add_fault(self, spec):
        with self.lock:
            return self.faults.add(spec)

    def list_faults(self):
        with self.lock:
            return [rule.describe() for rule in self.faults.rules]

    def clear_faults(self):
        with self.lock:
            self.faults.clear()

    def replace_data(self, doc):
        now = time.time()
        if not isinstance(doc, dict):
            raise datamod.DataError("the data document must be a JSON object")
        generate = doc.get("generate")
        base_doc = {k: v for k, v in doc.items() if k != "generate"}
        base = datamod.from_document(base_doc, now) if base_doc else self.initial_datasets[dirmod.TENANT_ID]
        if generate is not None:
            if not isinstance(generate, dict) or set(generate) - {"machines", "alerts", "hunting_rows", "seed"}:
                raise datamod.DataError("generate takes machines, alerts, hunting_rows and seed")
            base = datamod.generate(base, now, machines=int(generate.get("machines", 0)), alerts=int(generate.get("alerts", 0)),
                                    hunting_rows=generate.get("hunting_rows"), seed=int(generate.get("seed", self.seed)))
        datasets = dict(self.initial_datasets)
        datasets[dirmod.TENANT_ID] = base
        with self.lock:
            self._load_states(datasets, now)
        return {"machines": len(base.machines), "alerts": len(base.alerts), "machine_actions": len(base.actions),
                "hunting_rows": base.process_rows, "offline_machines": self.config.offline_machines}

    def debug_machine(self, key):
        with self.lock:
            for state in self.states.values():
                machine = state.find_machine(key)
                if machine is not None:
                    self.refresh(state)
                    actions = sorted(state.actions_for(machine["id"]), key=lambda a: a["creationDateTimeUtc"])
                    newest = [a for a in actions if a["type"] in ("Isolate", "Unisolate") and a["status"] == "Succeeded"]
                    return {"tenant_id": state.tenant_id, "machine": machine, "actions": actions,
                            "offline": machine["id"] in self.config.offline_machines,
                            "isolated": bool(newest) and newest[-1]["type"] == "Isolate"}
        return None

    # -- request dispatch -------------------------------------------------------------------------------------------------
    def handle(self, req):
        req.base_url = self.url
        if not req.path.startswith("/_emulator/"):
            with self.lock:
                rule = self.faults.match(req.method, req.path)
            if rule is not None:
                req.fault = rule.id
                if rule.delay:
                    time.sleep(rule.delay)  # outside the lock: a slow answer must not stall other clients
                if rule.drop:
                    self._classify(req)
                    return Response(0, drop=True)
                if rule.status is not None:
                    return self._fault_response(req, rule)
        for backend in (self.control, self.defender, self.graph, self.identity):
            response = backend.handle(req)
            if response is not None:
                return response
        req.family = "unknown"
        return json_response(404, {"error": {"code": "NotFound", "message": "No emulated endpoint at %s" % req.path}})

    def _classify(self, req):
        """Set ``req.family`` for a request answered by a fault, so the log still says what was called."""
        parts = [p for p in req.path.split("/") if p]
        lowered = [p.lower() for p in parts]
        if lowered[:1] == ["api"]:
            rest = parts[2:] if lowered[1:2] == ["v1.0"] else parts[1:]
            route = self.defender._route(req, rest, [p.lower() for p in rest])
            req.family = route[1] if route else "unknown"
        elif lowered[:1] in (["v1.0"], ["beta"]):
            req.family = "graph_hunting"
        elif "oauth2" in lowered:
            req.family = "token"
        else:
            req.family = "metadata"

    def _fault_response(self, req, rule):
        self._classify(req)
        headers = [("Retry-After", str(rule.retry_after))] if rule.retry_after is not None else []
        if rule.body is not None:
            return json_response(rule.status, rule.body, headers=headers)
        # The codes of common-errors.md for each status.
        codes = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests",
                 500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
        code = rule.code or codes.get(rule.status, "InternalServerError" if rule.status >= 500 else "BadRequest")
        message = rule.message or ("Injected fault %d: the service is temporarily unavailable." % rule.id
                                   if rule.status >= 500 else "Injected fault %d: %s." % (rule.id, code))
        if req.family == "graph_hunting":
            return graph_error(rule.status, code, message, headers=headers)
        if req.family == "token":
            return AadError(rule.status, "temporarily_unavailable", 90033,
                            "A transient error has occurred. Please try again.").response(headers=headers)
        return defender_error(rule.status, code, message, headers=headers)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not delay shutdown
    allow_reuse_address = True
    request_queue_size = 128

    def get_request(self):
        sock, address = self.socket.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, address

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, so a stalled client cannot block accept().
        request.settimeout(30)
        try:
            conn = self.ssl_context.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
            conn.do_handshake()
        except (OSError, ValueError):
            return
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        if self.emulator.verbose:
            traceback.print_exc(file=sys.stderr)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mde-emulator"
    sys_version = ""
    timeout = 120

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def _dispatch(self):
        emulator = self.server.emulator
        started = time.perf_counter()
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            self._send(json_response(400, {"error": {"code": "BadRequest", "message": "Unreadable request body"}}))
            return
        req = Request(self.command, self.path, self.headers, body, self.client_address)
        try:
            response = emulator.handle(req)
        except Exception:  # noqa: BLE001 (a bug must answer 500, not kill the connection thread silently)
            traceback.print_exc(file=sys.stderr)
            response = defender_error(500, "InternalServerError", "The emulator failed to handle this request.")
        status = None if response.drop else response.status
        # Logged before answering: a client that reads the log right after its call must find the call there.
        if not req.path.startswith("/_emulator/"):
            emulator.log.add(req, status, time.perf_counter() - started)
        if emulator.verbose:
            sys.stderr.write("%s %s %s\n" % (req.method, req.path, status))
        if response.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self._send(response)

    def _send(self, response):
        reason = self.responses.get(response.status, ("",))[0]
        head = ["HTTP/1.1 %d %s" % (response.status, reason), "Date: " + self.date_time_string(),
                "Content-Length: %d" % len(response.body)]
        head.extend("%s: %s" % item for item in response.headers)
        if self.close_connection:
            head.append("Connection: close")
        # One write for head and body: two small writes would meet Nagle + delayed ACK and cost 40 ms a request.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)

    def log_message(self, format, *args):  # noqa: A002 (signature from http.server)
        if self.server.emulator.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))
