"""The Defender for Endpoint API under ``/api`` (and ``/api/v1.0``): alerts, machines, machine actions, hunting."""

import time

from . import alert_updates, hunting, indicators, odata, rbac
from .directory import DEFENDER, resource_kind
from .entities import ACTION_SCHEMA, ALERT_SCHEMA, MACHINE_SCHEMA
from .messages import Response, defender_error, json_response
from .response_actions import PACKAGE_PREFIX, ResponseActions, check_platform
from .state import is_machine_id
from .tokens import TokenError
from .util import dumps, is_guid


class ApiError(Exception):
    def __init__(self, response):
        super().__init__(response.status)
        self.response = response


def _fail(status, code, message, headers=None):
    return ApiError(defender_error(status, code, message, headers))


class Requirement:
    """Any one of ``app`` (roles) or, for user tokens, any one of ``delegated`` (scp) grants access (mde-api.md 4)."""

    def __init__(self, app, delegated=None):
        self.app = tuple(app)
        self.delegated = tuple(delegated if delegated is not None else app)


READ_ALERTS = Requirement(("Alert.Read.All", "Alert.ReadWrite.All"), ("Alert.Read", "Alert.ReadWrite"))
READ_MACHINES = Requirement(("Machine.Read.All", "Machine.ReadWrite.All"), ("Machine.Read", "Machine.ReadWrite"))
ISOLATE = Requirement(("Machine.Isolate",))
SCAN = Requirement(("Machine.Scan",))
COLLECT = Requirement(("Machine.CollectForensics",))
RESTRICT = Requirement(("Machine.RestrictExecution",))
CANCEL = Requirement(("Machine.CollectForensics", "Machine.Isolate", "Machine.RestrictExecution", "Machine.Scan",
                      "Machine.Offboard", "Machine.StopAndQuarantine", "Machine.LiveResponse"))
QUERY = Requirement(("AdvancedQuery.Read.All",), ("AdvancedQuery.Read",))


class ActionSpec:
    """``windows_only``: the action's page limits it to Windows (OsPlatformNotSupported elsewhere). ``duplicate``: what a
    repeat of the same type answers while one is pending: "pending" (the page says it "returns pending machine
    action"), "plain400" (a 400 without a documented code) or "error" (400 ActiveRequestAlreadyExists)."""

    def __init__(self, action_type, requirement, family, conflicts, scope_param=None, scope_values=(), default_scope=None,
                 role=rbac.ACTIVE_REMEDIATION, windows_only=False, duplicate="error"):
        self.type, self.requirement, self.family, self.conflicts = action_type, requirement, family, conflicts
        self.scope_param, self.scope_values, self.default_scope = scope_param, scope_values, default_scope
        self.role = role  # the user role permission the action needs (mde-api.md 3.2)
        self.windows_only, self.duplicate = windows_only, duplicate


ISOLATION_TYPES = ("Full", "Selective", "UnManagedDevice")
ACTIONS = {
    # isolate-machine.md documents no answer to a repeat: the 400 of unisolate-machine.md's other answer.
    "isolate": ActionSpec("Isolate", ISOLATE, "isolate", ("Isolate", "Unisolate"), "IsolationType", ISOLATION_TYPES, "Full"),
    # unisolate-machine.md: a repeat "returns pending machine action or HTTP 400 ... Action is already in progress".
    "unisolate": ActionSpec("Unisolate", ISOLATE, "isolate", ("Isolate", "Unisolate"), duplicate="pending"),
    # run-av-scan.md: Windows 10 1709+ and Windows 11 only; a repeat returns the pending machine action (or the 400).
    "runantivirusscan": ActionSpec("RunAntiVirusScan", SCAN, "actions", ("RunAntiVirusScan",), "ScanType", ("Quick", "Full"),
                                   windows_only=True, duplicate="pending"),
    # collect-investigation-package.md: a user needs 'Alerts investigation', not 'Active remediation actions'; "If a
    # collection is already running, this returns 400 Bad Request" (no code).
    "collectinvestigationpackage": ActionSpec("CollectInvestigationPackage", COLLECT, "actions", ("CollectInvestigationPackage",),
                                              role=rbac.ALERTS_INVESTIGATION, duplicate="plain400"),
    # restrict-code-execution.md / unrestrict-code-execution.md: Windows only; a repeat returns the pending action.
    "restrictcodeexecution": ActionSpec("RestrictCodeExecution", RESTRICT, "actions",
                                        ("RestrictCodeExecution", "UnrestrictCodeExecution"), windows_only=True,
                                        duplicate="pending"),
    "unrestrictcodeexecution": ActionSpec("UnrestrictCodeExecution", RESTRICT, "actions",
                                          ("RestrictCodeExecution", "UnrestrictCodeExecution"), windows_only=True,
                                          duplicate="pending"),
}


def repeat_answer(spec, pending, config, fail):
    """The answer to ``spec`` while ``pending`` (an active action of its family) exists: the pending action itself (a dict)
    where the page documents it and ``duplicate_actions`` is "documented", else raises the 400."""
    if spec.duplicate == "plain400":
        raise fail(400, "BadRequest", "An investigation package collection is already running on this device.")
    if spec.duplicate == "pending" and pending["type"] == spec.type and config.duplicate_actions == "documented":
        return pending
    raise fail(400, "ActiveRequestAlreadyExists", "Action is already in progress")


class Defender:
    def __init__(self, emulator):
        self.emu = emulator
        self.responses = ResponseActions(self, Requirement, _fail)

    # -- routing -------------------------------------------------------------------------------------------------
    def handle(self, req):
        if req.path.startswith(PACKAGE_PREFIX):
            return self.responses.download(req)
        parts = [p for p in req.path.split("/") if p]
        if not parts or parts[0].lower() != "api":
            return None
        parts = parts[1:]
        if parts and parts[0].lower() == "v1.0":
            parts = parts[1:]
        lowered = [p.lower() for p in parts]
        route = self._route(req, parts, lowered)
        if route is None:
            req.family = "unknown"
            return defender_error(404, "NotFound", "No HTTP resource was found that matches the request URI '%s'." % req.path)
        method, family, handler, args = route
        req.family = family
        limit = self.emu.config.max_url_length
        if limit and len(req.path) + 1 + len(req.raw_query) > limit:
            # The front end refuses it before the API sees it: no OData error body (the real body is not documented).
            return Response(414, b"<h2>Request-URI Too Long</h2>", content_type="text/html; charset=us-ascii")
        if req.method != method:
            return defender_error(405, "MethodNotAllowed", "The requested resource does not support http method '%s'."
                                  % req.method, headers=[("Allow", method)])
        try:
            return handler(req, *args)
        except ApiError as err:
            return err.response

    def _route(self, req, parts, lowered):
        for extra in (alert_updates.routes, indicators.routes):  # endpoints kept in their own files
            route = extra(self, req, parts, lowered)
            if route is not None:
                return route
        n = len(parts)
        route = self.responses.route(parts, lowered)
        if route is not None:
            return route
        if lowered == ["alerts"]:
            return "GET", "alerts", self.list_alerts, ()
        if n == 2 and lowered[0] == "alerts":
            return "GET", "alerts", self.get_alert, (parts[1],)
        if lowered == ["machines"]:
            return "GET", "machines", self.list_machines, ()
        if n == 2 and lowered[0] == "machines":
            return "GET", "machines", self.get_machine, (parts[1],)
        if n == 3 and lowered[0] == "machines" and lowered[2] == "alerts":
            return "GET", "alerts", self.machine_alerts, (parts[1],)
        if n == 3 and lowered[0] == "machines" and lowered[2] in ACTIONS:
            return "POST", ACTIONS[lowered[2]].family, self.machine_action, (parts[1], ACTIONS[lowered[2]])
        if lowered == ["machineactions"]:
            return "GET", "machineactions", self.list_actions, ()
        if n == 2 and lowered[0] == "machineactions":
            return "GET", "machineactions", self.get_action, (parts[1],)
        if n == 3 and lowered[0] == "machineactions" and lowered[2] == "cancel":
            return "POST", "machineactions", self.cancel_action, (parts[1],)
        if lowered == ["advancedqueries", "run"]:
            return "POST", "advancedqueries", self.advanced_query, ()
        return None

    # -- authentication, permission, quota ---------------------------------------------------------------------------
    def _guard(self, req, family, requirement):
        token = req.bearer()
        if token:
            self.emu.remember_secret(token)
        try:
            claims = self.emu.signer.verify(token)
        except TokenError as exc:
            raise _fail(401, "Unauthorized", "Unauthorized request - reason of failure: %s" % exc.message,
                        headers=[("WWW-Authenticate", 'Bearer error="invalid_token"')]) from None
        req.client = claims.get("appid")
        if resource_kind(str(claims.get("aud", ""))) != DEFENDER:
            # mde-api.md 1.3 / issue #9246: a token for another resource gets 403.
            raise _fail(403, "Forbidden", "The access token audience '%s' is not valid for the Microsoft Defender for "
                        "Endpoint API; request a token for https://api.securitycenter.microsoft.com." % claims.get("aud"))
        if "scp" in claims:
            granted = str(claims.get("scp") or "").split()
            if not set(granted) & set(requirement.delegated):
                raise _fail(403, "Forbidden", "Missing delegated scopes. API required roles: %s, delegated scopes: %s"
                            % (",".join(requirement.delegated), ",".join(granted)))
        else:
            granted = list(claims.get("roles") or [])
            if not set(granted) & set(requirement.app):
                raise _fail(403, "Forbidden", "Missing application roles. API required roles: %s, application roles: %s"
                            % (",".join(requirement.app), ",".join(granted)))
        state = self.emu.tenant_state(claims.get("tid"))
        if state is None:
            raise _fail(403, "Forbidden", "The tenant %s has no Microsoft Defender for Endpoint subscription." % claims.get("tid"))
        throttled = self.emu.throttle((claims.get("tid"), claims.get("appid"), family), family)
        if throttled:
            raise _fail(429, "TooManyRequests", throttled.message, headers=[("Retry-After", str(throttled.retry_after))])
        return claims, state

    @staticmethod
    def _requestor(claims):
        return claims.get("upn") or claims.get("appid")

    def scope(self, claims):
        """The device groups a token reaches (rbac.py): a user's, or every group for an application."""
        return rbac.scope_for(self.emu.config, claims)

    def require_machine(self, claims, state, machine_id, what, permission=rbac.VIEW_DATA):
        """The per-object 403 (rbac.py) unless the token may do ``permission`` on the machine's device group."""
        rbac.require(self.scope(claims), what, rbac.machine_group(state, machine_id), permission)

    def _collection(self, context, page, query):
        body = {"@odata.context": "%s/api/$metadata#%s" % (self.emu.url, context)}
        if query.count:
            body["@odata.count"] = query.total
        body["value"] = [odata.project(e, query.select) for e in page] if query.select else page
        return json_response(200, body, odata=True)

    def _entity(self, context, entity, status=200):
        body = {"@odata.context": "%s/api/$metadata#%s/$entity" % (self.emu.url, context)}
        body.update(entity)
        return json_response(status, body, odata=True)

    def _query(self, req, schema):
        try:
            return odata.parse_query(req.query_pairs, schema, self.emu.config.max_node_count or None)
        except odata.ODataError as exc:
            # ASP.NET OData's EnableQuery wraps every query-option error in this sentence (SRResources.UriQueryStringInvalid).
            raise _fail(400, "ODataError", "The query specified in the URI is not valid. " + exc.message) from None

    # -- alerts --------------------------------------------------------------------------------------------------------
    def list_alerts(self, req):
        claims, state = self._guard(req, "alerts", READ_ALERTS)
        query = self._query(req, ALERT_SCHEMA)
        page, query.total = odata.execute(self._visible_alerts(claims, state, state.alerts), query)
        if "evidence" not in query.expand:
            page = [dict(a, evidence=[]) for a in page]  # evidence only when expanded (get-alerts.md)
        return self._collection("Alerts", page, query)

    def get_alert(self, req, alert_id):
        claims, state = self._guard(req, "alerts", READ_ALERTS)
        alert = state.alert_by_id.get(alert_id)
        if alert is None:
            raise _fail(404, "ResourceNotFound", "Alert %s was not found" % alert_id)
        if not rbac.alert_visible(self.scope(claims), state, alert):
            raise rbac.forbidden(self.scope(claims), "alert %s" % alert_id, rbac.alert_group(state, alert))
        return self._entity("Alerts", alert)

    def _visible_alerts(self, claims, state, alerts):
        """get-alerts.md: a user token lists only the alerts of machines in the user's device groups."""
        scope = self.scope(claims)
        return alerts if not scope.restricted else [a for a in alerts if rbac.alert_visible(scope, state, a)]

    def machine_alerts(self, req, key):
        """get-machine-related-alerts.md: the machine's alerts, 404 when there is no such machine. The page documents no
        query options; exposed-apis-odata-samples.md shows $filter on it (``machines/{id}/alerts/$count?$filter=...``),
        so the alert entity's options are served as on /api/alerts."""
        claims, state = self._guard(req, "alerts", READ_ALERTS)
        machine = state.find_machine(key)
        if machine is None:
            raise _fail(404, "ResourceNotFound", "Machine %s was not found" % key)
        self.require_machine(claims, state, machine["id"], "machine %s" % key)
        query = self._query(req, ALERT_SCHEMA)
        page, query.total = odata.execute([a for a in state.alerts if a.get("machineId") == machine["id"]], query)
        if "evidence" not in query.expand:
            page = [dict(a, evidence=[]) for a in page]
        return self._collection("Alerts", page, query)

    # -- machines ------------------------------------------------------------------------------------------------------
    def list_machines(self, req):
        claims, state = self._guard(req, "machines", READ_MACHINES)
        query = self._query(req, MACHINE_SCHEMA)
        scope = self.scope(claims)
        # get-machines.md: "Responses include only devices that the user has access to, based on device group settings".
        machines = state.machines if not scope.restricted else [m for m in state.machines if scope.allows(m.get("rbacGroupName"))]
        page, query.total = odata.execute(machines, query)
        return self._collection("Machines", page, query)

    def get_machine(self, req, key):
        claims, state = self._guard(req, "machines", READ_MACHINES)
        machine = state.find_machine(key)
        if machine is None:
            raise _fail(404, "ResourceNotFound", "Machine %s was not found" % key)
        self.require_machine(claims, state, machine["id"], "machine %s" % key)  # get-machine-by-id.md
        return self._entity("Machines", machine)

    # -- machine actions -------------------------------------------------------------------------------------------------
    def list_actions(self, req):
        claims, state = self._guard(req, "machineactions", READ_MACHINES)
        query = self._query(req, ACTION_SCHEMA)
        scope = self.scope(claims)
        with self.emu.lock:
            self.emu.refresh(state)
            actions = state.sorted_actions()
        if scope.restricted:  # undocumented; as the other lists (rbac.py)
            actions = [a for a in actions if scope.allows(rbac.machine_group(state, a.get("machineId")))]
        page, query.total = odata.execute(actions, query)
        return self._collection("MachineActions", page, query)

    def _action_by_key(self, state, action_id):
        if not is_guid(action_id):
            raise _fail(400, "BadRequest", "The key value (%s) from request is not valid. The key value should be format of "
                        "type 'Edm.Guid'." % action_id)
        action = state.actions.get(action_id.lower())
        if action is None:
            raise _fail(404, "ResourceNotFound", "Machine action %s was not found" % action_id)
        return action

    def get_action(self, req, action_id):
        claims, state = self._guard(req, "machineactions", READ_MACHINES)
        with self.emu.lock:
            self.emu.refresh(state)
            action = dict(self._action_by_key(state, action_id))
        self.require_machine(claims, state, action.get("machineId"), "machine action %s" % action_id)
        return self._entity("MachineActions", action)

    def cancel_action(self, req, action_id):
        claims, state = self._guard(req, "machineactions", CANCEL)
        comment = self._comment(self._body(req))
        with self.emu.lock:
            self.emu.refresh(state)
            action = self._action_by_key(state, action_id)
            self.require_machine(claims, state, action.get("machineId"), "machine action %s" % action_id,
                                 rbac.ACTIVE_REMEDIATION)
            if action["status"] not in ("Pending", "InProgress"):
                raise _fail(400, "BadRequest", "Machine action %s is already in a final state (%s) and cannot be cancelled."
                            % (action_id, action["status"]))
            action = dict(state.cancel_action(action, self._requestor(claims), comment, time.time()))
        return self._entity("MachineActions", action, status=200)

    @staticmethod
    def _body(req):
        try:
            body = req.json_body()
        except ValueError:
            raise _fail(400, "InvalidRequestBody", "Request body is incorrect") from None
        if not isinstance(body, dict):
            raise _fail(400, "InvalidRequestBody", "Request body is incorrect")
        return body

    @staticmethod
    def _comment(body):
        # Body parameter names are case-sensitive (common-errors.md): 'comment' is not 'Comment'.
        if "Comment" not in body or body["Comment"] is None:
            raise _fail(400, "MissingRequiredParameter", "Parameter Comment is missing.")
        comment = body["Comment"]
        if not isinstance(comment, str) or not comment.strip():
            raise _fail(400, "InvalidRequestBody", "Request body is incorrect: Comment must be a non-empty string.")
        return comment

    def machine_action(self, req, machine_id, spec):
        claims, state = self._guard(req, spec.family, spec.requirement)
        body = self._body(req)
        comment = self._comment(body)
        scope = None
        if spec.scope_param:
            scope = body.get(spec.scope_param)
            if scope is None and spec.default_scope is None:
                raise _fail(400, "MissingRequiredParameter", "Parameter %s is missing." % spec.scope_param)
            scope = spec.default_scope if scope is None else scope
            if scope not in spec.scope_values:
                raise _fail(400, "InvalidRequestBody", "Request body is incorrect: %s '%s' is not valid; use one of %s."
                            % (spec.scope_param, scope, ", ".join(spec.scope_values)))
        with self.emu.lock:
            machine = state.machine_by_id.get(machine_id.lower()) if is_machine_id(machine_id) else None
            if machine is None:
                raise _fail(404, "ResourceNotFound", "Machine %s was not found" % machine_id)
            # isolate-machine.md, run-av-scan.md, ...: the user needs access to the device and the action's role.
            self.require_machine(claims, state, machine["id"], "machine %s" % machine_id, spec.role)
            if spec.windows_only:
                check_platform(machine, _fail)
            self.emu.refresh(state)
            pending = state.active_action(machine["id"], spec.conflicts)
            if pending:
                # Undocumented: the status code of the answer with the pending action; 201 as for a new one.
                return self._entity("MachineActions", dict(repeat_answer(spec, pending, self.emu.config, _fail)), status=201)
            action = dict(state.create_action(machine, spec.type, self._requestor(claims), comment, scope, time.time()))
        return self._entity("MachineActions", action, status=201)

    # -- advanced hunting ------------------------------------------------------------------------------------------------
    def advanced_query(self, req):
        state = self._guard(req, "advancedqueries", QUERY)[1]
        try:
            body = req.json_body()
        except ValueError:
            body = None
        # run-advanced-query-api.md: a body that isn't valid JSON (or lacks Query) reads as "Missing query."
        if not isinstance(body, dict) or not isinstance(body.get("Query"), str) or not body["Query"].strip():
            raise _fail(400, "InvalidRequestBody", "Missing query.")
        started = time.time()
        try:
            columns, rows, scanned = hunting.run(body["Query"], state.tables, started)
        except hunting.HuntingError as exc:
            raise _fail(400, "BadRequest", exc.message) from None
        results = dumps(hunting.results(columns, rows))
        if len(results) > self.emu.config.max_result_bytes:
            raise _fail(400, "BadRequest", "Query execution has exceeded the allowed result size. Optimize your query by "
                        "limiting the number of results and try again")
        case = {"default": "upper", "lower": "lower", "upper": "upper"}[self.emu.config.schema_case]
        stats = hunting.stats(time.time() - started, scanned, len(results))
        payload = b'{"Schema":' + dumps(hunting.schema(columns, case)) + b',"Results":' + results + b',"Stats":' + dumps(stats) + b"}"
        return json_response(200, payload)
