"""The control API under ``/_emulator/`` (no authentication): request log, reset, config, faults, data, secrets."""

import time
import urllib.parse

from .config import ConfigError
from .data import DataError
from .directory import DEFENDER_AUDIENCES, GRAPH, resource_kind
from .faults import FaultError
from .messages import json_response
from .tokens import STS, random_claim


def _error(status, message):
    return json_response(status, {"error": message})


class Control:
    def __init__(self, emulator):
        self.emu = emulator

    def handle(self, req):
        parts = [p for p in req.path.split("/") if p]
        if not parts or parts[0] != "_emulator":
            return None
        req.family = "control"
        route = (req.method, "/".join(parts[1:2]))
        try:
            body = req.json_body() if req.body.strip() else {}
        except ValueError:
            return _error(400, "the body must be JSON")
        try:
            if route == ("GET", "requests"):
                since = int(dict(req.query_pairs).get("since", 0) or 0)
                return json_response(200, self.emu.log.entries(since))
            if route == ("POST", "reset"):
                self.emu.reset(**self._flags(body, ("data", "faults", "rate_limits", "all")))
                return json_response(200, {"reset": True})
            if route == ("GET", "config"):
                return json_response(200, self.emu.get_config())
            if route == ("POST", "config"):
                return json_response(200, self.emu.update_config(body))
            if route == ("POST", "faults"):
                rule = self.emu.add_fault(body)
                return json_response(201, {"id": rule.id, "rule": rule.describe()})
            if route == ("GET", "faults"):
                return json_response(200, self.emu.list_faults())
            if route == ("DELETE", "faults"):
                self.emu.clear_faults()
                return json_response(200, {"cleared": True})
            if route == ("POST", "data"):
                return json_response(200, self.emu.replace_data(body))
            if route == ("GET", "secrets"):
                return json_response(200, {"secrets": self.emu.secrets()})
            if route == ("GET", "info"):
                return json_response(200, self.emu.info())
            if route == ("POST", "token"):
                return json_response(200, self.mint(body))
            if req.method == "GET" and parts[1:3] == ["state", "machines"] and len(parts) == 4:
                found = self.emu.debug_machine(urllib.parse.unquote(parts[3]))
                return json_response(200, found) if found else _error(404, "no machine %s" % parts[3])
        except (ConfigError, FaultError, DataError, ValueError, TypeError) as exc:
            return _error(400, str(exc))
        return _error(404, "unknown control endpoint %s %s" % (req.method, req.path))

    @staticmethod
    def _flags(body, names):
        if not isinstance(body, dict) or set(body) - set(names):
            raise ValueError("reset takes only %s (true/false)" % ", ".join(names))
        return {k: bool(v) for k, v in body.items()}

    def mint(self, body):
        """A signed access token with chosen claims: expired, other audience, custom roles (for client tests)."""
        if not isinstance(body, dict):
            raise ValueError("token request must be a JSON object")
        now = int(time.time())
        tenant_id = body.get("tenant_id") or self.emu.main_tenant_id
        lifetime = int(body.get("lifetime", self.emu.config.token_lifetime))
        claims = {"aud": body.get("audience") or DEFENDER_AUDIENCES[0], "iss": STS.format(tenant_id), "iat": now,
                  "nbf": now if lifetime > 0 else now + lifetime - 60, "exp": now + lifetime, "aio": random_claim(),
                  "appid": body.get("client_id") or self.emu.main_client_id, "appidacr": "1", "idp": STS.format(tenant_id),
                  "oid": random_claim(), "sub": random_claim(), "tid": tenant_id, "uti": random_claim(), "ver": "1.0"}
        if "scp" in body:
            claims["scp"] = body["scp"]
        else:
            claims["roles"] = list(body.get("roles", []))
        claims.update(body.get("claims") or {})
        token = self.emu.signer.issue(claims, nonce=resource_kind(str(claims.get("aud") or "")) == GRAPH)
        self.emu.remember_secret(token)
        return {"access_token": token, "claims": claims}
