"""Mutable tenant state: indexes over the data, machine actions and their lifecycle.

Not thread-safe on its own: the emulator calls everything here under its single state lock.
"""

import re

from . import hunting
from .entities import ACTION_DEFAULTS, ACTION_FIELDS, shape
from .util import TICKS_PER_SECOND, iso7, new_guid, parse_ticks

ACTIVE = ("Pending", "InProgress")
MACHINE_ID_RE = re.compile(r"^[0-9a-fA-F]{40}$")


class TenantState:
    def __init__(self, tenant_id, dataset, now):
        self.tenant_id = tenant_id
        self.dataset = dataset
        # Copies too (tags are changed through the API), with their own tag lists.
        self.machines = [dict(m, machineTags=list(m.get("machineTags") or [])) for m in dataset.machines]
        # Copies: alert updates change them, and a data reset must bring back the originals.
        self.alerts = [dict(a) for a in dataset.alerts]
        self.machine_by_id = {m["id"].lower(): m for m in self.machines}
        self.machines_by_name = {}
        for machine in self.machines:
            self.machines_by_name.setdefault((machine.get("computerDnsName") or "").lower(), []).append(machine)
        self.alert_by_id = {a["id"]: a for a in self.alerts}
        self.actions = {}
        self.created = {}  # action id -> creation time (epoch seconds), the base of the lifecycle
        self.active = set()
        for action in dataset.actions:
            self._add_action(dict(action))
        self.tables = hunting.build_tables(dataset, self.machines, self.alerts, now)

    def _add_action(self, action):
        self.actions[action["id"]] = action
        self.created[action["id"]] = (parse_ticks(action.get("creationDateTimeUtc")) or 0) / TICKS_PER_SECOND
        if action.get("status") in ACTIVE:
            self.active.add(action["id"])

    # -- machines ---------------------------------------------------------------------------------------------------
    def find_machine(self, key):
        """By 40-hex id, else by computer DNS name (case-insensitive; the newest lastSeen wins among duplicates)."""
        machine = self.machine_by_id.get(key.lower())
        if machine is not None:
            return machine
        candidates = self.machines_by_name.get(key.lower())
        if not candidates:
            return None
        return max(candidates, key=lambda m: parse_ticks(m.get("lastSeen")) or 0)

    # -- machine actions --------------------------------------------------------------------------------------------
    def outcome(self, machine_id, action_type, overrides=None):
        """How an action of ``action_type`` on the machine ends: Succeeded unless the data (``action_outcomes``) or the
        config's ``overrides`` chose Failed, TimeOut or Cancelled (machineaction.md lists all four final statuses)."""
        chosen = dict(self.dataset.action_outcomes)
        chosen.update(overrides or {})
        rule = chosen.get(machine_id)
        if isinstance(rule, dict):
            rule = rule.get(action_type, rule.get("*"))
        return rule or "Succeeded"

    def refresh(self, now, pending_seconds, inprogress_seconds, offline, online_since, outcomes=None):
        """Advance Pending -> InProgress -> Succeeded (or the machine's chosen final status) from the timestamps
        (lazily, on read)."""
        for action_id in list(self.active):
            action = self.actions[action_id]
            if action["status"] not in ACTIVE:
                self.active.discard(action_id)
                continue
            machine_id = action["machineId"]
            if machine_id in offline:
                continue  # an offline device never picks its action up
            start = max(self.created[action_id], online_since.get(machine_id, 0.0))
            picked_up = start + pending_seconds
            done = picked_up + inprogress_seconds
            if now >= picked_up and action.get("computerDnsName") is None:
                # Real payloads carry a null computerDnsName on new actions (mde-api.md, "Facts added on review"):
                # it is filled once the device has the action.
                action["computerDnsName"] = (self.machine_by_id.get(machine_id.lower()) or {}).get("computerDnsName")
            if now >= done:
                status = self.outcome(machine_id, action["type"], outcomes)
                action["status"] = status
                action["lastUpdateDateTimeUtc"] = iso7(done)
                if status == "Cancelled":
                    # Cancelled by the service, not through POST .../cancel: nobody requested it (null requestor).
                    action.update({"cancellationRequestor": None, "cancellationComment": None,
                                   "cancellationDateTimeUtc": iso7(done)})
                self.active.discard(action_id)
            elif now >= picked_up and action["status"] == "Pending":
                action["status"] = "InProgress"
                action["lastUpdateDateTimeUtc"] = iso7(picked_up)

    def active_action(self, machine_id, types):
        for action_id in self.active:
            action = self.actions[action_id]
            if action["machineId"] == machine_id and action["type"] in types and action["status"] in ACTIVE:
                return action
        return None

    def create_action(self, machine, action_type, requestor, comment, scope, now, title=None, related_file=None):
        action = shape({
            "id": new_guid(), "type": action_type, "title": title or "%s %s" % (action_type, machine["computerDnsName"]),
            "requestor": requestor, "requestorComment": comment, "status": "Pending", "machineId": machine["id"],
            # Null until the device picks the action up, as in real payloads (see refresh).
            "computerDnsName": None, "creationDateTimeUtc": iso7(now),
            "lastUpdateDateTimeUtc": iso7(now), "scope": scope, "relatedFileInfo": related_file,
        }, ACTION_FIELDS, ACTION_DEFAULTS)
        self._add_action(action)
        self.created[action["id"]] = now
        return action

    def cancel_action(self, action, requestor, comment, now):
        action.update({"status": "Cancelled", "cancellationRequestor": requestor, "cancellationComment": comment,
                       "cancellationDateTimeUtc": iso7(now), "lastUpdateDateTimeUtc": iso7(now)})
        self.active.discard(action["id"])
        return action

    def actions_for(self, machine_id):
        return [dict(a) for a in self.actions.values() if a["machineId"] == machine_id]

    def sorted_actions(self):
        """Copies ordered by id: deliberately not chronological, as the API promises no order."""
        return [dict(self.actions[k]) for k in sorted(self.actions)]


def is_machine_id(text):
    return bool(MACHINE_ID_RE.match(text or ""))
