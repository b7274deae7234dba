"""Response actions beyond isolation, as Microsoft documents them (mde-api.md 5.4, 5.5):

* ``POST /api/machines/{id}/StopAndQuarantineFile`` {Comment, Sha1}: 201 MachineAction with
  ``relatedFileInfo``; a pending one on the same file -> 400 ActiveRequestAlreadyExists
  (stop-and-quarantine-file.md; issue M365 #5702). Permission Machine.StopAndQuarantine.
* ``GET /api/machineactions/{id}/GetPackageUri``: 200 ``{"@odata.context": ...#Edm.String, "value": link}``
  for a Succeeded CollectInvestigationPackage action, 404 otherwise (get-package-sas-uri.md). Application
  Machine.Read.All / Machine.ReadWrite.All, delegated Machine.CollectForensics; 2 a minute, 120 an hour.
* the link: ``<emulator>/packages/<action id>.zip?se=<expiry>&sig=<signature>``, a SAS-like URL the emulator
  serves itself. It expires after ``package_link_seconds`` (config): then 403 AuthenticationFailed, as
  Azure storage answers an expired SAS. A request that carries an Authorization header is refused (400):
  a client must never send its Defender token to the storage host.
* ``POST /api/machines/{id}/tags`` {Value, Action: Add|Remove}: 200 with the updated Machine
  (add-or-remove-machine-tags.md); ``POST /api/machines/AddOrRemoveTagForMultipleMachines``
  {Value, Action, MachineIds (<= 500)} (add-or-remove-multiple-machine-tags.md). Permission
  Machine.ReadWrite.All (delegated Machine.ReadWrite). The bulk answer's body is not documented: here
  200 with the updated machines.

Run-antivirus-scan, collect-investigation-package and restrict/unrestrict are in ``defender.ACTIONS``.
"""

import hashlib
import hmac
import io
import os
import re
import time
import zipfile

from . import rbac
from .messages import Response, json_response
from .state import is_machine_id
from .util import iso7

SHA1_RE = re.compile(r"^[0-9a-fA-F]{40}$")
MAX_TAG_LENGTH = 200
MAX_BULK_MACHINES = 500
PACKAGE_PREFIX = "/packages/"


def check_platform(machine, fail):
    """common-errors.md: 400 OsPlatformNotSupported, "OS Platform {the client OS Platform} isn't supported for this
    action". Strict where the pages are silent: anything not named Windows* (null and "Other" too) is refused."""
    platform = machine.get("osPlatform")
    if not str(platform or "").lower().startswith("windows"):
        raise fail(400, "OsPlatformNotSupported", "OS Platform %s isn't supported for this action." % platform)


class ResponseActions:
    def __init__(self, defender, requirement_class, fail):
        self.defender = defender
        self.emu = defender.emu
        self.fail = fail
        self.stop_and_quarantine = requirement_class(("Machine.StopAndQuarantine",))
        self.package_uri = requirement_class(("Machine.Read.All", "Machine.ReadWrite.All"), ("Machine.CollectForensics",))
        self.write_machines = requirement_class(("Machine.ReadWrite.All",), ("Machine.ReadWrite",))
        self._key = os.urandom(32)

    # -- routing (called from Defender._route) ------------------------------------------------------------------------
    def route(self, parts, lowered):
        n = len(parts)
        if lowered == ["machines", "addorremovetagformultiplemachines"]:
            return "POST", "tags", self.bulk_tags, ()
        if n == 3 and lowered[0] == "machines" and lowered[2] == "stopandquarantinefile":
            return "POST", "actions", self.stop_and_quarantine_file, (parts[1],)
        if n == 3 and lowered[0] == "machines" and lowered[2] == "tags":
            return "POST", "tags", self.machine_tags, (parts[1],)
        if n == 3 and lowered[0] == "machineactions" and lowered[2] == "getpackageuri":
            return "GET", "packageuri", self.get_package_uri, (parts[1],)
        return None

    # -- stop and quarantine ------------------------------------------------------------------------------------------
    def stop_and_quarantine_file(self, req, machine_id):
        claims, state = self.defender._guard(req, "actions", self.stop_and_quarantine)
        body = self.defender._body(req)
        comment = self.defender._comment(body)
        sha1 = body.get("Sha1")
        if sha1 is None:
            raise self.fail(400, "MissingRequiredParameter", "Parameter Sha1 is missing.")
        if not isinstance(sha1, str) or not SHA1_RE.match(sha1):
            raise self.fail(400, "InvalidRequestBody", "Request body is incorrect: Sha1 must be a SHA-1 (40 hex).")
        sha1 = sha1.lower()
        with self.emu.lock:
            machine = state.machine_by_id.get(machine_id.lower()) if is_machine_id(machine_id) else None
            if machine is None:
                raise self.fail(404, "ResourceNotFound", "Machine %s was not found" % machine_id)
            self.defender.require_machine(claims, state, machine["id"], "machine %s" % machine_id, rbac.ACTIVE_REMEDIATION)
            # stop-and-quarantine-file.md: Windows 10 1703+ and Windows 11 only.
            check_platform(machine, self.fail)
            self.emu.refresh(state)
            # stop-and-quarantine-file.md documents no answer to a repeat: the 400 of the other actions' pages.
            for action_id in state.active:
                action = state.actions[action_id]
                if (action["machineId"] == machine["id"] and action["type"] == "StopAndQuarantineFile"
                        and (action.get("relatedFileInfo") or {}).get("fileIdentifier") == sha1):
                    raise self.fail(400, "ActiveRequestAlreadyExists", "Action is already in progress")
            action = dict(state.create_action(
                machine, "StopAndQuarantineFile", self.defender._requestor(claims), comment, None, time.time(),
                related_file={"fileIdentifier": sha1, "fileIdentifierType": "Sha1"}))
        return self.defender._entity("MachineActions", action, status=201)

    # -- investigation package ----------------------------------------------------------------------------------------
    def _signature(self, action_id, expiry):
        return hmac.new(self._key, ("%s|%d" % (action_id, expiry)).encode(), hashlib.sha256).hexdigest()

    def get_package_uri(self, req, action_id):
        claims, state = self.defender._guard(req, "packageuri", self.package_uri)
        with self.emu.lock:
            self.emu.refresh(state)
            action = dict(self.defender._action_by_key(state, action_id))
        # As collect-investigation-package.md: a user needs 'Alerts investigation' on the machine's device group.
        self.defender.require_machine(claims, state, action.get("machineId"), "machine action %s" % action_id,
                                      rbac.ALERTS_INVESTIGATION)
        if action["type"] != "CollectInvestigationPackage" or action["status"] != "Succeeded":
            raise self.fail(404, "ResourceNotFound", "Investigation package for action %s was not found" % action_id)
        config = self.emu.config
        expiry = int(time.time() + config.package_link_seconds)
        origin = "https://%s" % config.package_link_host if config.package_link_host else self.emu.url
        link = "%s%s%s.zip?sv=2021-08-06&sr=b&sp=r&se=%d&sig=%s" % (
            origin, PACKAGE_PREFIX, action["id"], expiry, self._signature(action["id"], expiry))
        if config.package_link_quoted:
            # get-package-sas-uri.md: the example's value is "\"https://userrequests-us...\"", the link in quotes.
            link = '"%s"' % link
        return json_response(200, {"@odata.context": "%s/api/$metadata#Edm.String" % self.emu.url, "value": link},
                             odata=True)

    def download(self, req):
        """The storage host: no bearer token, a valid unexpired signature, else Azure-storage-like errors."""
        req.family = "storage"
        if req.method != "GET":
            return _storage_error(405, "UnsupportedHttpVerb", "The resource doesn't support specified Http Verb.")
        if req.header("Authorization"):
            return _storage_error(400, "InvalidAuthenticationInfo",
                                  "Authentication information is not given in the correct format: a SAS link must "
                                  "not be sent with an Authorization header.")
        name = req.path[len(PACKAGE_PREFIX):]
        action_id = name[:-len(".zip")] if name.endswith(".zip") else ""
        query = dict(req.query_pairs)
        try:
            expiry = int(query.get("se", ""))
        except ValueError:
            expiry = None
        signature = query.get("sig", "")
        if expiry is None or not hmac.compare_digest(signature, self._signature(action_id, expiry)):
            return _storage_error(403, "AuthenticationFailed", "Server failed to authenticate the request.")
        if time.time() > expiry:
            return _storage_error(403, "AuthenticationFailed", "Signed expiry time [%s] must be after signed start "
                                  "time" % iso7(expiry))
        redirect = self.emu.config.package_redirect_host
        if redirect and query.get("hop") != "1":
            target = "https://%s%s?%s&hop=1" % (redirect, req.path, req.raw_query)
            return Response(302, b"", content_type=None, headers=[("Location", target)])
        return Response(200, _package_zip(action_id, self.emu.config.package_bytes), content_type="application/zip")

    # -- tags -----------------------------------------------------------------------------------------------------------
    def _tag_body(self, req, bulk):
        body = self.defender._body(req)
        value, action = body.get("Value"), body.get("Action")
        if value is None:
            raise self.fail(400, "MissingRequiredParameter", "Parameter Value is missing.")
        if action is None:
            raise self.fail(400, "MissingRequiredParameter", "Parameter Action is missing.")
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TAG_LENGTH:
            raise self.fail(400, "InvalidRequestBody", "Request body is incorrect: Value must be a tag of 1 to %d "
                            "characters." % MAX_TAG_LENGTH)
        if action not in ("Add", "Remove"):
            raise self.fail(400, "InvalidRequestBody", "Request body is incorrect: Action must be Add or Remove.")
        ids = None
        if bulk:
            ids = body.get("MachineIds")
            if ids is None:
                raise self.fail(400, "MissingRequiredParameter", "Parameter MachineIds is missing.")
            if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
                raise self.fail(400, "InvalidRequestBody", "Request body is incorrect: MachineIds must be a list of ids.")
            if len(ids) > MAX_BULK_MACHINES:
                raise self.fail(400, "InvalidRequestBody", "Request body is incorrect: at most %d machines per call."
                                % MAX_BULK_MACHINES)
        return value, action, ids

    @staticmethod
    def _apply(machine, value, action):
        # add-or-remove-machine-tags.md does not say how tags compare: the emulator is strict, exact spelling only (a
        # Remove of "ir-1" leaves "IR-1"; an Add of "ir-1" next to "IR-1" adds it), so a client must send the spelling
        # each machine holds.
        tags = list(machine.get("machineTags") or [])
        if action == "Add" and value not in tags:
            tags.append(value)
        elif action == "Remove":
            tags = [t for t in tags if t != value]
        machine["machineTags"] = tags

    def machine_tags(self, req, machine_id):
        claims, state = self.defender._guard(req, "tags", self.write_machines)
        value, action, _ids = self._tag_body(req, bulk=False)
        with self.emu.lock:
            machine = state.machine_by_id.get(machine_id.lower()) if is_machine_id(machine_id) else None
            if machine is None:
                raise self.fail(404, "ResourceNotFound", "Machine %s was not found" % machine_id)
            # add-or-remove-machine-tags.md: 'Manage security setting' on the machine's device group.
            self.defender.require_machine(claims, state, machine["id"], "machine %s" % machine_id, rbac.SECURITY_SETTINGS)
            self._apply(machine, value, action)
            answer = dict(machine)
        return self.defender._entity("Machines", answer)

    def bulk_tags(self, req):
        claims, state = self.defender._guard(req, "tags", self.write_machines)
        value, action, ids = self._tag_body(req, bulk=True)
        with self.emu.lock:
            machines = [state.machine_by_id.get(i.lower()) if is_machine_id(i) else None for i in ids]
            unknown = [i for i, m in zip(ids, machines) if m is None]
            if unknown:
                # Undocumented: the emulator refuses the whole call, the strictest reading (nothing half-done).
                raise self.fail(404, "ResourceNotFound", "Machines %s were not found" % ", ".join(unknown[:5]))
            # Undocumented too: one machine the user may not tag refuses the whole call (rbac.py).
            for machine in machines:
                self.defender.require_machine(claims, state, machine["id"], "machine %s" % machine["id"],
                                              rbac.SECURITY_SETTINGS)
            for machine in machines:
                self._apply(machine, value, action)
            answer = [dict(m) for m in machines]
        return json_response(200, {"@odata.context": "%s/api/$metadata#Machines" % self.emu.url, "value": answer},
                             odata=True)


def _storage_error(status, code, message):
    body = ('<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s</Message></Error>'
            % (code, message)).encode()
    return Response(status, body, content_type="application/xml", headers=[("x-ms-error-code", code)])


def _package_zip(action_id, size=0):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Investigation package/README.txt", "Emulated investigation package of action %s\n" % action_id)
        archive.writestr("Investigation package/Processes/processes.csv", "ProcessId,Name\n4,System\n")
        if size:
            # Stored, not deflated: the package is at least ``size`` bytes on the wire.
            archive.writestr(zipfile.ZipInfo("Investigation package/padding.bin"), os.urandom(size),
                             compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()
