"""Alert updates: ``PATCH /api/alerts/{id}`` (update-alert.md) and ``POST /api/alerts/batchUpdate`` (batch-update-alerts.md).

Both take camelCase ``status``, ``assignedTo``, ``classification``, ``determination`` and ``comment``;
batchUpdate adds ``alertIds``. PATCH answers 200 with the alert (404 for an unknown id), batchUpdate
200 with an empty body. Body names are case-sensitive (common-errors.md), so an unknown name is a 400.
"""

import time

from . import rbac
from .messages import Response, defender_error
from .util import iso7


class Permission:
    """Any one of ``app`` (roles) or, for a user token, of ``delegated`` (scp): the shape ``Defender._guard`` reads."""

    def __init__(self, app, delegated):
        self.app, self.delegated = tuple(app), tuple(delegated)


def fail(status, code, message):
    """The Defender backend's ApiError (imported late: defender.py imports this file)."""
    from .defender import ApiError
    return ApiError(defender_error(status, code, message))


# update-alert.md misspells the role "Alerts.ReadWrite.All"; tokens carry Alert.ReadWrite.All (mde-api.md 4).
UPDATE_ALERTS = Permission(("Alert.ReadWrite.All",), ("Alert.ReadWrite",))
STATUSES = ("New", "InProgress", "Resolved")
# The value a client sends, and the display spelling batch-update-alerts.md shows for the same classification.
CLASSIFICATIONS = {"TruePositive": "TruePositive", "FalsePositive": "FalsePositive",
                   "InformationalExpectedActivity": "InformationalExpectedActivity",
                   "Informational, expected activity": "InformationalExpectedActivity"}
# Both spellings of the two values the pages disagree on (mde-api.md 5.3).
DETERMINATIONS = ("MultiStagedAttack", "MaliciousUserActivity", "CompromisedUser", "Malware", "Phishing",
                  "UnwantedSoftware", "Other", "SecurityTesting", "LineOfBusinessApplication", "ConfirmedActivity",
                  "ConfirmedUserActivity", "NotMalicious", "Clean", "InsufficientData")
FIELDS = ("status", "assignedTo", "classification", "determination", "comment")


def routes(defender, req, parts, lowered):
    """The routes of this file, or None (called first by ``Defender._route``)."""
    if lowered == ["alerts", "batchupdate"]:
        return "POST", "alerts_batch", lambda r: batch_update(defender, r), ()
    if len(parts) == 2 and lowered[0] == "alerts" and req.method == "PATCH":
        return "PATCH", "alerts", lambda r, alert_id: patch_alert(defender, r, alert_id), (parts[1],)
    return None


def _changes(body, allowed=FIELDS):
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise fail(400, "InvalidRequestBody", "Request body is incorrect: unknown properties %s (names are case-sensitive: "
                   "%s)." % (", ".join(unknown), ", ".join(allowed)))
    changes = {k: body[k] for k in FIELDS if k in body and body[k] is not None}
    for key, value in changes.items():
        if not isinstance(value, str):
            raise fail(400, "InvalidRequestBody", "Request body is incorrect: %s must be a string." % key)
    if "status" in changes and changes["status"] not in STATUSES:
        raise fail(400, "InvalidRequestBody", "Request body is incorrect: status '%s' is not one of %s."
                   % (changes["status"], ", ".join(STATUSES)))
    if "classification" in changes:
        if changes["classification"] not in CLASSIFICATIONS:
            raise fail(400, "InvalidRequestBody", "Request body is incorrect: classification '%s' is not valid."
                       % changes["classification"])
        changes["classification"] = CLASSIFICATIONS[changes["classification"]]
    if "determination" in changes and changes["determination"] not in DETERMINATIONS:
        raise fail(400, "InvalidRequestBody", "Request body is incorrect: determination '%s' is not valid."
                   % changes["determination"])
    if "comment" in changes and not changes["comment"].strip():
        raise fail(400, "InvalidRequestBody", "Request body is incorrect: comment is empty.")
    return changes


def _apply(alert, changes, author, now):
    for key in ("status", "assignedTo", "classification", "determination"):
        if key in changes:
            alert[key] = changes[key]
    if "comment" in changes:
        alert["comments"] = list(alert.get("comments") or []) + [
            {"comment": changes["comment"], "createdBy": author, "createdTime": iso7(now)}]
    if changes.get("status") == "Resolved":
        alert["resolvedTime"] = iso7(now)
    elif "status" in changes:
        alert["resolvedTime"] = None
    alert["lastUpdateTime"] = iso7(now)


def patch_alert(defender, req, alert_id):
    claims, state = defender._guard(req, "alerts", UPDATE_ALERTS)
    changes = _changes(defender._body(req))
    if not changes:
        raise fail(400, "InvalidRequestBody", "Request body is incorrect: nothing to update.")
    with defender.emu.lock:
        alert = state.alert_by_id.get(alert_id)
        if alert is None:
            raise fail(404, "ResourceNotFound", "Alert %s was not found" % alert_id)
        # update-alert.md: a user needs 'Alerts investigation' on the device group of the alert's machine.
        rbac.require(defender.scope(claims), "alert %s" % alert_id, rbac.alert_group(state, alert), rbac.ALERTS_INVESTIGATION)
        _apply(alert, changes, defender._requestor(claims), time.time())
        answer = dict(alert, evidence=[])
    return defender._entity("Alerts", answer)


def batch_update(defender, req):
    claims, state = defender._guard(req, "alerts_batch", UPDATE_ALERTS)
    body = defender._body(req)
    ids = body.get("alertIds")
    if ids is None:
        raise fail(400, "MissingRequiredParameter", "Parameter alertIds is missing.")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise fail(400, "InvalidRequestBody", "Request body is incorrect: alertIds must be a non-empty list of alert ids.")
    changes = _changes({k: v for k, v in body.items() if k != "alertIds"})
    if not changes:
        raise fail(400, "InvalidRequestBody", "Request body is incorrect: nothing to update.")
    with defender.emu.lock:
        missing = [i for i in ids if i not in state.alert_by_id]
        if missing:
            # Not documented; the emulator refuses the whole batch, which is the harder case for a client.
            raise fail(404, "ResourceNotFound", "Alert %s was not found" % missing[0])
        # Not documented: one alert the user may not update refuses the whole batch, nothing changed (rbac.py).
        scope = defender.scope(claims)
        for alert_id in ids:
            rbac.require(scope, "alert %s" % alert_id, rbac.alert_group(state, state.alert_by_id[alert_id]),
                         rbac.ALERTS_INVESTIGATION)
        now = time.time()
        for alert_id in dict.fromkeys(ids):
            _apply(state.alert_by_id[alert_id], changes, defender._requestor(claims), now)
    return Response(200, b"", content_type=None)
