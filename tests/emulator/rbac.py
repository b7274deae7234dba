"""Device-group RBAC for user (delegated) tokens: which machines, alerts and indicators a user may see and act on.

What Microsoft documents:

* Every page that reads or acts on one machine or alert says, for user tokens, "The user needs to have access to the
  device, based on device group settings" (get-machine-by-id.md, isolate-machine.md, run-av-scan.md,
  restrict-code-execution.md, stop-and-quarantine-file.md, collect-investigation-package.md,
  add-or-remove-machine-tags.md; update-alert.md: "the device associated with the alert"), and names the role
  permission the request needs (mde-api.md 3.2): ``View data`` for reads, ``Active remediation actions`` for isolate,
  scan, restrict and quarantine, ``Alerts investigation`` for alert updates and the investigation package,
  ``Manage security settings`` for tags (add-or-remove-multiple-machine-tags.md).
* Lists hold only what the user may see: get-machines.md "Responses include only devices that the user has access
  to", get-alerts.md "The response includes only alerts that are associated with devices that the user can access".
* batch-delete-ti-indicators.md: "If requestor isn't exposed to any indicator's device groups - 403 Forbidden".
* common-errors.md: 403 ``Forbidden`` "valid token but insufficient permission for the action".

What the docs leave open, and the emulator's choice (the harder case for a client each time):

* A request for one machine, action or alert the user may not see or act on is 403 ``Forbidden`` in the
  common-errors.md shape, naming the object (never a 404 that a client could take for "gone").
* Machine-action lists hold only the actions of machines the user may see (get-machineactions-collection.md is
  silent; the other lists behave so).
* A bulk call (alerts/batchUpdate, AddOrRemoveTagForMultipleMachines, indicators/BatchDelete) with one object the
  user may not touch is 403 for the whole call and changes nothing, so a client must fall back to one request per
  object to get the others done.
* An indicator limited to device groups (``rbacGroupNames``) is exposed to a user who has every one of those groups;
  a tenant-wide one (no groups) to every user. The docs name no role permission for indicators, so none is checked.
* Device groups apply to users only: application tokens (``roles``) are never scoped. A user not named in the config
  key ``user_device_groups`` has every device group with every permission (the default analyst), so the suites
  written before device groups were emulated see the same data.
"""

from .directory import SCOPED_USERNAME

VIEW_DATA = "View data"
ALERTS_INVESTIGATION = "Alerts investigation"
ACTIVE_REMEDIATION = "Active remediation actions"
SECURITY_SETTINGS = "Manage security settings"
PERMISSIONS = (VIEW_DATA, ALERTS_INVESTIGATION, ACTIVE_REMEDIATION, SECURITY_SETTINGS)

# The default scoped user: everything on the Finance machines, View data only on the Engineering ones, nothing else.
# So with one token a test meets all three cases: allowed, visible but not allowed to act (a 403 on the write), and
# invisible (left out of lists, 403 on a direct request).
DEFAULT_USER_DEVICE_GROUPS = {SCOPED_USERNAME: {"Finance": list(PERMISSIONS), "Engineering": [VIEW_DATA]}}


class ScopeError(ValueError):
    pass


def check_config(value):
    """Validate ``user_device_groups`` (``{upn: {group: [permissions]} | [groups] | null}``); return it normalised.

    A list of group names grants every permission on them; ``null`` removes the user's restriction.
    """
    if not isinstance(value, dict):
        raise ScopeError("user_device_groups must be {user principal name: {device group: [permissions]}}")
    clean = {}
    for user, groups in value.items():
        if not isinstance(user, str) or not user.strip():
            raise ScopeError("user_device_groups keys must be user principal names")
        if groups is None:
            clean[user.lower()] = None
            continue
        if isinstance(groups, list):
            groups = {name: list(PERMISSIONS) for name in groups}
        if not isinstance(groups, dict) or not all(isinstance(name, str) for name in groups):
            raise ScopeError("user_device_groups[%r] must map device group names to permissions" % user)
        entry = {}
        for name, permissions in groups.items():
            if not isinstance(permissions, list) or any(p not in PERMISSIONS for p in permissions):
                raise ScopeError("user_device_groups[%r][%r] must be a list of %s" % (user, name, ", ".join(PERMISSIONS)))
            entry[name] = list(permissions)
        clean[user.lower()] = entry
    return clean


class Scope:
    """What one token may reach. ``groups`` None: every device group with every permission."""

    def __init__(self, user=None, groups=None):
        self.user = user
        self.groups = None if groups is None else {name.lower(): set(perms) | {VIEW_DATA} for name, perms in groups.items()}

    @property
    def restricted(self):
        return self.groups is not None

    def allows(self, group_name, permission=VIEW_DATA):
        if self.groups is None:
            return True
        granted = self.groups.get(str(group_name or "").lower())
        return granted is not None and permission in granted

    def exposed(self, group_names):
        """Whether the user may change an indicator applied to ``group_names`` (empty: the whole tenant)."""
        return not group_names or all(self.allows(name) for name in group_names)


UNRESTRICTED = Scope()


def scope_for(config, claims):
    """The Scope of a verified token's claims (a user token carries ``scp``; an application token does not)."""
    if "scp" not in claims:
        return UNRESTRICTED
    user = str(claims.get("upn") or claims.get("unique_name") or "")
    groups = (getattr(config, "user_device_groups", None) or {}).get(user.lower())
    return Scope(user, groups)


def machine_group(state, machine_id):
    machine = state.machine_by_id.get(str(machine_id or "").lower())
    return machine.get("rbacGroupName") if machine else None


def alert_group(state, alert):
    """The device group of the alert's machine (the alert's own ``rbacGroupName`` when the machine is unknown)."""
    machine = state.machine_by_id.get(str(alert.get("machineId") or "").lower())
    return machine.get("rbacGroupName") if machine else alert.get("rbacGroupName")


def alert_visible(scope, state, alert):
    return not scope.restricted or not alert.get("machineId") or scope.allows(alert_group(state, alert))


def forbidden(scope, what, group, permission=VIEW_DATA):
    """The 403 for one object (common-errors.md shape). The message is free text, as Microsoft's is."""
    from .defender import _fail  # late: defender.py imports this file
    if scope.allows(group):
        reason = "the user's role has no '%s' permission on the device group of %s" % (permission, what)
    else:
        reason = "%s is in a device group the user has no access to" % what
    return _fail(403, "Forbidden", "User %s is not allowed to do this: %s." % (scope.user, reason))


def require(scope, what, group, permission=VIEW_DATA):
    """Raise the per-object 403 unless the scope allows ``permission`` on ``group``."""
    if not scope.allows(group, permission):
        raise forbidden(scope, what, group, permission)
