"""Custom indicators (ti-indicator.md) under ``/api/indicators``.

- ``GET /api/indicators``: active indicators, OData ``$filter`` on the documented properties, ``$top`` <= 10,000, ``$skip``.
- ``POST /api/indicators``: submit or update one (post-ti-indicator.md): 200 with the indicator (not 201).
- ``POST /api/indicators/import``: ``{"Indicators": [...]}``, at most 500; 200 with ``{"value": [{id, indicator,
  isFailed, failureReason}]}``, a failed item for a refused value (bad hash, CIDR range, tenant limit); 400 for an
  incorrect body (any item not a well-formed indicator, or a value of ``indicator_bad_request_values``), naming no
  indicator, nothing written (import-ti-indicators.md).
- ``DELETE /api/indicators/{id}``: 204, 404 (delete-ti-indicator-by-id.md).
- ``POST /api/indicators/BatchDelete``: ``{"IndicatorIds": [...]}``, at most 500; 204; 400 when empty, too large or an
  id is invalid; 403 for an indicator the caller may not touch; 404 when any id is missing; nothing is deleted then
  (batch-delete-ti-indicators.md).

An indicator with the same type and value as an existing one updates it (hashes, thumbprints and domain names
compare case-insensitively); ``application`` is honoured only on creation. At most ``indicator_limit`` (15,000)
active indicators per tenant. With ``Ti.ReadWrite`` alone an application sees and changes only its own indicators;
``Ti.ReadWrite.All`` (and ``Ti.Read.All`` for reading) covers all (get-ti-indicators-collection.md).
"""

import datetime
import ipaddress
import re
import time

from .messages import Response, defender_error
from .odata import BOOL, COLLECTION, DATE, STRING, Prop, Schema
from .util import iso7, parse_ticks

TYPES = ("FileSha1", "FileSha256", "FileMd5", "CertificateThumbprint", "IpAddress", "DomainName", "Url")
ACTIONS = ("Warn", "Block", "Audit", "Alert", "AlertAndBlock", "BlockAndRemediate", "Allowed")
SEVERITIES = ("Informational", "Low", "Medium", "High")
HEX_LENGTHS = {"FileSha1": 40, "FileSha256": 64, "FileMd5": 32, "CertificateThumbprint": 40}
MAX_BATCH = 500
DEFAULT_LIMIT = 15000
FIELDS = ("id", "indicatorValue", "indicatorType", "action", "application", "source", "sourceType", "title",
          "creationTimeDateTimeUtc", "createdBy", "createdBySource", "createdByDisplayName", "expirationTime",
          "lastUpdateTime", "lastUpdatedBy", "severity", "description", "recommendedActions", "rbacGroupNames",
          "rbacGroupIds", "generateAlert", "educateUrl", "externalID")
BODY_FIELDS = ("indicatorValue", "indicatorType", "action", "application", "title", "description", "expirationTime",
               "severity", "recommendedActions", "rbacGroupNames", "educateUrl", "generateAlert", "externalID")
_TYPES = {f: STRING for f in FIELDS}
_TYPES.update({"creationTimeDateTimeUtc": DATE, "expirationTime": DATE, "lastUpdateTime": DATE,
               "rbacGroupNames": COLLECTION, "rbacGroupIds": COLLECTION, "generateAlert": BOOL})
# get-ti-indicators-collection.md: the filterable properties.
INDICATOR_SCHEMA = Schema("microsoft.windowsDefenderATP.api.Indicator", [
    Prop(name, _TYPES[name], {"indicatorType": TYPES, "action": ACTIONS, "severity": SEVERITIES}.get(name),
         name in ("application", "createdByDisplayName", "expirationTime", "generateAlert", "title", "rbacGroupNames",
                  "rbacGroupIds", "indicatorValue", "indicatorType", "creationTimeDateTimeUtc", "createdBy", "action",
                  "severity"))
    for name in FIELDS])
# The value checks (common-errors.md codes): on import, these fail one item; anything else makes the body incorrect.
VALUE_CODES = ("InvalidHashValue", "InvalidIpAddress", "InvalidDomainName", "InvalidUrl")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class Permission:
    def __init__(self, app, delegated):
        self.app, self.delegated = tuple(app), tuple(delegated)


READ = Permission(("Ti.ReadWrite", "Ti.ReadWrite.All", "Ti.Read.All"), ("Ti.ReadWrite",))
# The delete pages list no delegated permission; the emulator accepts the one the other indicator pages list.
WRITE = Permission(("Ti.ReadWrite", "Ti.ReadWrite.All"), ("Ti.ReadWrite",))


def fail(status, code, message):
    from .defender import ApiError  # late: defender.py imports this file
    return ApiError(defender_error(status, code, message))


class InvalidIndicator(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


class Store:
    """The indicators of one tenant, by id; created on first use and dropped with the tenant state on reset."""

    def __init__(self):
        self.by_id = {}
        self.by_key = {}  # (type, compared value) -> id
        self.next_id = 1000

    @staticmethod
    def of(state):
        store = getattr(state, "indicator_store", None)
        if store is None:
            store = state.indicator_store = Store()
        return store

    def active(self, now):
        out = []
        for indicator in self.by_id.values():
            expires = parse_ticks(indicator.get("expirationTime")) if indicator.get("expirationTime") else None
            if expires is None or expires / 10_000_000 > now:
                out.append(indicator)
        return sorted(out, key=lambda i: int(i["id"]))

    def find(self, indicator_type, key_value):
        indicator_id = self.by_key.get((indicator_type, key_value))
        return self.by_id.get(indicator_id) if indicator_id is not None else None

    def add(self, indicator):
        self.by_id[indicator["id"]] = indicator
        self.by_key[(indicator["indicatorType"], _key(indicator["indicatorType"], indicator["indicatorValue"]))] = indicator["id"]

    def remove(self, indicator_id):
        indicator = self.by_id.pop(indicator_id)
        self.by_key.pop((indicator["indicatorType"], _key(indicator["indicatorType"], indicator["indicatorValue"])), None)


def _key(indicator_type, value):
    return value.lower() if indicator_type in HEX_LENGTHS or indicator_type == "DomainName" else value


def _domain_ok(name):
    labels = name.rstrip(".").split(".")
    return len(name) <= 253 and len(labels) >= 2 and all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def check_value(indicator_type, value):
    """Raise InvalidIndicator with the documented error codes (common-errors.md) for an invalid value."""
    if indicator_type in HEX_LENGTHS:
        if len(value) != HEX_LENGTHS[indicator_type] or not re.fullmatch(r"[0-9A-Fa-f]+", value):
            raise InvalidIndicator("InvalidHashValue", "Invalid hash value '%s' for type %s." % (value, indicator_type))
    elif indicator_type == "IpAddress":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise InvalidIndicator("InvalidIpAddress", "Invalid IP address '%s' (CIDR notation isn't supported)." % value) from None
    elif indicator_type == "DomainName":
        if not _domain_ok(value):
            raise InvalidIndicator("InvalidDomainName", "Invalid domain name '%s'." % value)
    elif indicator_type == "Url":
        match = re.fullmatch(r"(?:(https?)://)?([^/:?#\s]+)(?::\d{1,5})?(?:[/?#]\S*)?", value, re.IGNORECASE)
        host = match.group(2) if match else ""
        try:
            ipaddress.ip_address(host)
            host_ok = True
        except ValueError:
            host_ok = _domain_ok(host)
        if not match or not host_ok:
            raise InvalidIndicator("InvalidUrl", "Invalid URL '%s'." % value)


def _expiration(value):
    ticks = parse_ticks(value) if isinstance(value, str) else None
    if ticks is None:
        raise InvalidIndicator("InvalidRequestBody", "Request body is incorrect: expirationTime '%s' is not a date and time."
                               % value)
    return datetime.datetime.fromtimestamp(ticks / 10_000_000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def validate(body):
    """The cleaned fields of one indicator body, or InvalidIndicator."""
    if not isinstance(body, dict):
        raise InvalidIndicator("InvalidRequestBody", "Request body is incorrect")
    unknown = sorted(set(body) - set(BODY_FIELDS))
    if unknown:
        raise InvalidIndicator("InvalidRequestBody", "Request body is incorrect: unknown properties %s (names are "
                               "case-sensitive)." % ", ".join(unknown))
    for name in ("indicatorValue", "indicatorType", "action", "title", "description"):
        if body.get(name) in (None, ""):
            raise InvalidIndicator("MissingRequiredParameter", "Parameter %s is missing." % name)
    for name in ("indicatorValue", "indicatorType", "action", "title", "description", "application", "severity",
                 "recommendedActions", "educateUrl", "externalID"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise InvalidIndicator("InvalidRequestBody", "Request body is incorrect: %s must be a string." % name)
    if body["indicatorType"] not in TYPES:
        raise InvalidIndicator("InvalidRequestBody", "Request body is incorrect: indicatorType '%s' is not valid."
                               % body["indicatorType"])
    if body["action"] not in ACTIONS:
        raise InvalidIndicator("InvalidRequestBody", "Request body is incorrect: action '%s' is not valid." % body["action"])
    if body.get("severity") is not None and body["severity"] not in SEVERITIES:
        raise InvalidIndicator("InvalidRequestBody", "Request body is incorrect: severity '%s' is not valid." % body["severity"])
    generate = body.get("generateAlert")
    if generate is not None and not isinstance(generate, bool):
        raise InvalidIndicator("InvalidRequestBody", "Request body is incorrect: generateAlert must be true or false.")
    if body["action"] == "Audit" and generate is not True:
        raise InvalidIndicator("InvalidRequestBody", "GenerateAlert must be set to true when the action is Audit.")
    groups = body.get("rbacGroupNames")
    if isinstance(groups, str):  # the doc's table says comma-separated, its example sends a list: take both
        groups = [g.strip() for g in groups.split(",") if g.strip()]
    if groups is not None and (not isinstance(groups, list) or not all(isinstance(g, str) for g in groups)):
        raise InvalidIndicator("InvalidRequestBody", "Request body is incorrect: rbacGroupNames must be a list of names.")
    check_value(body["indicatorType"], body["indicatorValue"])
    clean = {k: body[k] for k in BODY_FIELDS if k in body}
    if groups is not None:
        clean["rbacGroupNames"] = groups
    if body.get("expirationTime") is not None:
        clean["expirationTime"] = _expiration(body["expirationTime"])
    return clean


def upsert(store, clean, claims, now, limit, active=None, scope=None):
    """Create or update one indicator; returns it. Raises InvalidIndicator when the tenant limit would be passed.

    ``active`` is a one-item list holding the count of active indicators, kept up to date across a batch.
    ``scope`` (rbac.Scope): a user may neither change an indicator of device groups outside theirs nor create one.
    """
    if active is None:
        active = [len(store.active(now))]
    who = claims.get("upn") or claims.get("appid")
    existing = store.find(clean["indicatorType"], _key(clean["indicatorType"], clean["indicatorValue"]))
    _require_exposed(scope, existing if existing is not None else clean)
    if existing is not None:
        if not _may_touch(claims, existing):
            raise InvalidIndicator("Forbidden", "The application may not change indicator %s, which another application "
                                   "created." % existing["id"])
        for key, value in clean.items():
            if key not in ("application", "indicatorValue", "indicatorType"):  # application only on creation
                existing[key] = value
        existing["lastUpdateTime"] = iso7(now)
        existing["lastUpdatedBy"] = who
        return existing
    if active[0] >= limit:
        raise InvalidIndicator("BadRequest", "The maximum number of active indicators (%d) for the tenant was reached."
                               % limit)
    store.next_id += 1
    indicator = {field: None for field in FIELDS}
    indicator.update({"rbacGroupNames": [], "rbacGroupIds": [], "generateAlert": False, "severity": "Informational"})
    indicator.update(clean)
    user = "upn" in claims or "scp" in claims
    indicator.update({"id": str(store.next_id), "source": who, "sourceType": "User" if user else "AadApp",
                      "createdBy": who, "createdBySource": "PublicApi", "createdByDisplayName": who,
                      "creationTimeDateTimeUtc": iso7(now), "lastUpdateTime": iso7(now), "lastUpdatedBy": who})
    store.add(indicator)
    active[0] += 1
    return indicator


def _sees_all(claims):
    if "scp" in claims:
        return True
    roles = set(claims.get("roles") or [])
    return bool(roles & {"Ti.ReadWrite.All", "Ti.Read.All"})


def _may_touch(claims, indicator):
    if "scp" in claims or "Ti.ReadWrite.All" in (claims.get("roles") or []):
        return True
    return indicator.get("createdBy") == claims.get("appid")


def _exposed(scope, indicator):
    """batch-delete-ti-indicators.md: a user must be exposed to the indicator's device groups (rules in rbac.py)."""
    return scope is None or scope.exposed(indicator.get("rbacGroupNames") or [])


def _require_exposed(scope, indicator):
    if not _exposed(scope, indicator):
        raise InvalidIndicator("Forbidden", "User %s isn't exposed to the device groups of indicator %s." % (
            scope.user, indicator.get("id") or indicator.get("indicatorValue")))


def routes(defender, req, parts, lowered):
    """The routes of this file, or None (called first by ``Defender._route``)."""
    if not lowered or lowered[0] != "indicators":
        return None
    if lowered == ["indicators"]:
        if req.method == "POST":
            return "POST", "indicators", lambda r: submit(defender, r), ()
        return "GET", "indicators", lambda r: list_indicators(defender, r), ()
    if lowered == ["indicators", "import"]:
        return "POST", "indicators_import", lambda r: import_indicators(defender, r), ()
    if lowered == ["indicators", "batchdelete"]:
        return "POST", "indicators_batchdelete", lambda r: batch_delete(defender, r), ()
    if len(parts) == 2:
        return "DELETE", "indicators", lambda r, indicator_id: delete_one(defender, r, indicator_id), (parts[1],)
    return None


def _limit(defender):
    return int(getattr(defender.emu.config, "indicator_limit", DEFAULT_LIMIT))


def list_indicators(defender, req):
    claims, state = defender._guard(req, "indicators", READ)
    from .odata import ODataError, execute, parse_query
    try:
        query = parse_query(req.query_pairs, INDICATOR_SCHEMA)
    except ODataError as exc:
        raise fail(400, "ODataError", exc.message) from None
    with defender.emu.lock:
        visible = [dict(i) for i in Store.of(state).active(time.time())
                   if _sees_all(claims) or i.get("createdBy") == claims.get("appid")]
    page, query.total = execute(visible, query)
    return defender._collection("Indicators", page, query)


def submit(defender, req):
    claims, state = defender._guard(req, "indicators", WRITE)
    body = defender._body(req)
    try:
        clean = validate(body)
        with defender.emu.lock:
            indicator = dict(upsert(Store.of(state), clean, claims, time.time(), _limit(defender),
                                    scope=defender.scope(claims)))
    except InvalidIndicator as exc:
        raise fail(403 if exc.code == "Forbidden" else 400, exc.code, exc.message) from None
    return defender._entity("Indicators", indicator, status=200)  # post-ti-indicator.md: 200, not 201


def import_indicators(defender, req):
    claims, state = defender._guard(req, "indicators_import", WRITE)
    body = defender._body(req)
    items = body.get("Indicators")
    if items is None:
        raise fail(400, "MissingRequiredParameter", "Parameter Indicators is missing.")
    if not isinstance(items, list) or not items:
        raise fail(400, "InvalidRequestBody", "Request body is incorrect: Indicators must be a non-empty list.")
    if len(items) > MAX_BATCH:
        raise fail(400, "MaximumBatchSizeExceeded", "Maximum batch size exceeded. Received: %d, allowed: %d."
                   % (len(items), MAX_BATCH))
    # import-ti-indicators.md: "If not successful: this method return 400 - Bad Request. Bad request usually indicates
    # incorrect body." An item that is not a well-formed indicator (an unknown or miscased property, a missing required
    # parameter, a value of the wrong type or outside its enum) makes the whole call a 400 and nothing is written; the
    # page shows no per-item form for it, and the answer names no indicator. A well-formed item whose value is refused
    # (a bad hash, a CIDR range: common-errors.md InvalidHashValue, ti-indicator.md "CIDR ... isn't supported") and
    # one past the tenant limit are reported per item, 200 with {id: null, isFailed: true, failureReason}.
    checked = []
    for item in items:
        try:
            checked.append((item, validate(item), None))
        except InvalidIndicator as exc:
            if exc.code not in VALUE_CODES:
                raise fail(400, exc.code, exc.message) from None
            checked.append((item, None, exc))
    refused = set(v.strip().lower() for v in getattr(defender.emu.config, "indicator_bad_request_values", ()) or ())
    for item, clean, _error in checked:
        if clean is not None and clean["indicatorValue"].strip().lower() in refused:
            raise fail(400, "InvalidRequestBody", "Request body is incorrect.")
    results = []
    with defender.emu.lock:
        store = Store.of(state)
        now = time.time()
        active = [len(store.active(now))]
        for item, clean, error in checked:
            value = item.get("indicatorValue") if isinstance(item, dict) else None
            try:
                if error is not None:
                    raise error
                indicator = upsert(store, clean, claims, now, _limit(defender), active, scope=defender.scope(claims))
            except InvalidIndicator as exc:
                results.append({"id": None, "indicator": value, "isFailed": True, "failureReason": exc.message})
            else:
                results.append({"id": indicator["id"], "indicator": indicator["indicatorValue"], "isFailed": False,
                                "failureReason": None})
    return defender._collection("Collection(microsoft.windowsDefenderATP.api.ImportIndicatorResult)", results,
                                _NoQuery())


class _NoQuery:
    count = False
    select = None


def delete_one(defender, req, indicator_id):
    claims, state = defender._guard(req, "indicators", WRITE)
    with defender.emu.lock:
        store = Store.of(state)
        indicator = store.by_id.get(indicator_id)
        if indicator is None:
            raise fail(404, "ResourceNotFound", "Indicator %s was not found" % indicator_id)
        if not _may_touch(claims, indicator):
            raise fail(403, "Forbidden", "The application may not delete indicator %s." % indicator_id)
        if not _exposed(defender.scope(claims), indicator):
            raise fail(403, "Forbidden", "The requestor isn't exposed to the device groups of indicator %s." % indicator_id)
        store.remove(indicator_id)
    return Response(204, b"", content_type=None)


def batch_delete(defender, req):
    claims, state = defender._guard(req, "indicators_batchdelete", WRITE)
    body = defender._body(req)
    ids = body.get("IndicatorIds")
    if ids is None:
        raise fail(400, "MissingRequiredParameter", "Parameter IndicatorIds is missing.")
    if not isinstance(ids, list) or not ids:
        raise fail(400, "InvalidRequestBody", "Request body is incorrect: IndicatorIds must be a non-empty list.")
    if len(ids) > MAX_BATCH:
        raise fail(400, "MaximumBatchSizeExceeded", "Maximum batch size exceeded. Received: %d, allowed: %d."
                   % (len(ids), MAX_BATCH))
    bad = [i for i in ids if not isinstance(i, str) or not i.isdigit()]
    if bad:
        raise fail(400, "InvalidInput", "Invalid indicator id %r." % (bad[0],))
    with defender.emu.lock:
        store = Store.of(state)
        missing = [i for i in ids if i not in store.by_id]
        if missing:
            raise fail(404, "ResourceNotFound", "Indicator %s was not found" % missing[0])
        scope = defender.scope(claims)
        if any(not _may_touch(claims, store.by_id[i]) or not _exposed(scope, store.by_id[i]) for i in ids):
            raise fail(403, "Forbidden", "The requestor isn't exposed to the device groups of every indicator.")
        for indicator_id in dict.fromkeys(ids):
            store.remove(indicator_id)
    return Response(204, b"", content_type=None)
