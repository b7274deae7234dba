"""Microsoft Graph ``POST /v1.0/security/runHuntingQuery`` (and ``/beta``), with Graph's error shape."""

import re
import time

from . import hunting
from .directory import GRAPH, resource_kind
from .messages import graph_error, json_response
from .tokens import TokenError
from .util import dumps, new_guid

REQUIRED = "ThreatHunting.Read.All"
_DURATION_RE = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$", re.I)
DEFAULT_TIMESPAN = 30 * 86400  # hunting data covers the last 30 days


def parse_timespan(text):
    """ISO 8601 duration (P1D, PT12H, P90D, ...) -> seconds; None when invalid."""
    match = _DURATION_RE.match(text.strip()) if isinstance(text, str) else None
    if not match or not any(match.groups()) or text.strip().upper().endswith("T"):
        return None
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


class Graph:
    def __init__(self, emulator):
        self.emu = emulator

    def handle(self, req):
        parts = [p.lower() for p in req.path.split("/") if p]
        if not parts or parts[0] not in ("v1.0", "beta"):
            return None
        req.family = "graph_hunting"
        request_id = req.header("client-request-id")
        if parts[1:] != ["security", "runhuntingquery"]:
            req.family = "graph"
            return graph_error(400, "BadRequest", "Resource not found for the segment '%s'." % (parts[-1] if len(parts) > 1 else ""),
                               request_id)
        if req.method != "POST":
            return graph_error(405, "Request_BadRequest", "The HTTP method '%s' is not supported on this resource." % req.method,
                               request_id)
        token = req.bearer()
        if token:
            self.emu.remember_secret(token)
        try:
            claims = self.emu.signer.verify(token)
        except TokenError as exc:
            message = {"missing": "Access token is empty.", "expired": "Lifetime validation failed, the token is expired."}.get(
                exc.reason, "Access token validation failure. " + exc.message)
            return graph_error(401, "InvalidAuthenticationToken", message, request_id,
                               headers=[("WWW-Authenticate", 'Bearer realm="", error="invalid_token"')])
        req.client = claims.get("appid")
        if resource_kind(str(claims.get("aud", ""))) != GRAPH:
            return graph_error(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.", request_id)
        if "scp" in claims:
            granted = str(claims.get("scp") or "").split()
            what = "delegated scopes"
        else:
            granted = list(claims.get("roles") or [])
            what = "application roles"
        if REQUIRED not in granted:
            return graph_error(403, "Forbidden", "Missing %s. API required roles: %s, %s: %s"
                               % (what, REQUIRED, what, ",".join(granted)), request_id)
        state = self.emu.tenant_state(claims.get("tid"))
        if state is None:
            return graph_error(403, "Forbidden", "The tenant has no Microsoft Defender subscription.", request_id)
        throttled = self.emu.throttle((claims.get("tid"), claims.get("appid"), "graph_hunting"), "graph_hunting")
        if throttled:
            return graph_error(429, "TooManyRequests", throttled.message, request_id,
                               headers=[("Retry-After", str(throttled.retry_after))])
        try:
            body = req.json_body()
        except ValueError:
            return graph_error(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is "
                               "set and payload is of valid JSON format.", request_id)
        if not isinstance(body, dict):
            return graph_error(400, "BadRequest", "The request body must be a JSON object.", request_id)
        # Graph reads property names case-insensitively (its docs show both Query and query).
        fields = {str(k).lower(): v for k, v in body.items()}
        query = fields.get("query")
        if not isinstance(query, str) or not query.strip():
            return graph_error(400, "BadRequest", "The parameter 'query' is required and must be a non-empty string.", request_id)
        timespan = DEFAULT_TIMESPAN
        if fields.get("timespan") is not None:
            timespan = parse_timespan(fields["timespan"])
            if timespan is None:
                return graph_error(400, "BadRequest", "The timespan '%s' is not a valid ISO 8601 duration (e.g. P1D, PT12H)."
                                   % fields["timespan"], request_id)
        started = time.time()
        try:
            columns, rows = hunting.run(query, state.tables, started, timespan_seconds=timespan)[:2]
        except hunting.HuntingError as exc:
            return graph_error(400, "BadRequest", exc.message, request_id)
        results = dumps(hunting.results(columns, rows))
        if len(results) > self.emu.config.max_result_bytes:
            return graph_error(400, "BadRequest", "Query execution has exceeded the allowed result size. Optimize your query "
                               "by limiting the number of results and try again", request_id)
        case = {"default": "lower", "lower": "lower", "upper": "upper"}[self.emu.config.schema_case]
        context = "%s/v1.0/$metadata#microsoft.graph.security.huntingQueryResults" % self.emu.url
        payload = (b'{"@odata.context":' + dumps(context) + b',"schema":' + dumps(hunting.schema(columns, case))
                   + b',"results":' + results + b"}")
        response = json_response(200, payload)
        response.headers.append(("request-id", request_id or new_guid()))
        return response
