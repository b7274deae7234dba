"""Request/response objects passed between the HTTP layer and the backends, and the error body shapes."""

import datetime
import json
import urllib.parse

from .util import dumps, new_guid

ODATA_JSON = "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8"
PLAIN_JSON = "application/json; charset=utf-8"


class Request:
    def __init__(self, method, target, headers, body, client_address=None, base_url=""):
        self.method = method.upper()
        split = urllib.parse.urlsplit(target)
        self.path = urllib.parse.unquote(split.path) or "/"
        self.raw_query = split.query
        self.query_pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
        self.headers = headers  # email.message.Message: case-insensitive get()
        self.body = body or b""
        self.client_address = client_address
        self.base_url = base_url
        # Filled by the backends for the request log.
        self.client = None
        self.family = None
        self.grant_type = None
        # The audience a token request asked for (not a secret), so tests can count tokens per API.
        self.audience = None
        # The header form of a client assertion ({"alg", "thumbprints"}; thumbprints are public), so tests can check
        # what a client sends.
        self.assertion = None
        self.fault = None

    def header(self, name, default=None):
        return self.headers.get(name, default) if self.headers is not None else default

    def bearer(self):
        value = self.header("Authorization") or ""
        scheme, token = value.strip().partition(" ")[::2]
        return token.strip() if scheme.lower() == "bearer" else None

    def json_body(self):
        """The body parsed as JSON; raises ValueError when it isn't valid JSON."""
        return json.loads(self.body.decode("utf-8-sig"))

    def form(self):
        return dict(urllib.parse.parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


class Response:
    def __init__(self, status, body=b"", content_type=PLAIN_JSON, headers=None, drop=False):
        self.status = status
        self.body = body
        self.headers = list(headers or [])
        if content_type:
            self.headers.insert(0, ("Content-Type", content_type))
        self.drop = drop

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def json_response(status, obj, odata=False, headers=None):
    extra = list(headers or [])
    if odata:
        extra.append(("OData-Version", "4.0"))
    return Response(status, obj if isinstance(obj, bytes) else dumps(obj), ODATA_JSON if odata else PLAIN_JSON, extra)


def defender_error(status, code, message, headers=None):
    """``{"error": {"code", "message", "target"}}`` as in common-errors.md."""
    return json_response(status, {"error": {"code": code, "message": message, "target": new_guid()}}, headers=headers)


def graph_error(status, code, message, request_id=None, headers=None):
    request_id = request_id or new_guid()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    body = {"error": {"code": code, "message": message,
                      "innerError": {"date": now, "request-id": request_id, "client-request-id": request_id}}}
    return json_response(status, body, headers=[("request-id", request_id), ("client-request-id", request_id)] + list(headers or []))
