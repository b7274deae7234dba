"""Tenant data: the default Contoso tenant, the small Fabrikam tenant, data files, and generated data at scale.

Everything is deterministic for a given seed; times are relative to the start time so "the last 30 days" stays true.
"""

import hashlib
import json
import random
import uuid

from . import directory
from .entities import (ACTION_DEFAULTS, ACTION_FIELDS, ALERT_DEFAULTS, ALERT_FIELDS, ALERT_SEVERITIES, ALERT_STATUSES,
                       EVIDENCE_FIELDS, MACHINE_DEFAULTS, MACHINE_FIELDS, shape)
from .util import iso7, is_guid, parse_ticks

HOUR, DAY = 3600.0, 86400.0
DEFAULT_PROCESS_ROWS = 500
FINAL_STATUSES = ("Succeeded", "Failed", "TimeOut", "Cancelled")
# Machines of the default data whose new actions end unsuccessfully (machineaction.md's other final statuses).
DEFAULT_OUTCOMES = (("kiosk-01.contoso.com", "Failed"), ("srv-file-01.contoso.com", "TimeOut"),
                    ("ws-eng-03.contoso.com", "Cancelled"))


class DataError(ValueError):
    pass


class Dataset:
    """One tenant's entities. Machines and alerts are never mutated after load (so resets can share them)."""

    def __init__(self, machines, alerts, actions, offline=None, process_rows=DEFAULT_PROCESS_ROWS, hunting=None, seed=0,
                 action_outcomes=None):
        self.machines = machines
        self.alerts = alerts
        self.actions = actions
        self.offline = offline  # None: every machine whose healthStatus is Inactive
        # machine id -> how its new actions end ("Failed", "TimeOut", "Cancelled", or {action type or "*": status});
        # a machine not named here ends them Succeeded.
        self.action_outcomes = dict(action_outcomes or {})
        self.process_rows = process_rows
        self.hunting = hunting or {}  # table name -> list of row dicts (from a data file)
        self.seed = seed

    def offline_ids(self):
        if self.offline is not None:
            return list(self.offline)
        return [m["id"] for m in self.machines if m.get("healthStatus") == "Inactive"]


def machine_id(name, salt=""):
    return hashlib.sha1(("mde-emulator/%s/%s" % (name.lower(), salt)).encode()).hexdigest()  # noqa: S324 (an id, not security)


def stable_guid(*parts):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mde-emulator/" + "/".join(str(p) for p in parts)))


# -- machines -----------------------------------------------------------------------------------------------------------
GROUPS = {"a-team": (140, "The-A-Team"), "unassigned": (0, "UnassignedGroup"), "finance": (201, "Finance"),
          "servers": (202, "Servers"), "engineering": (203, "Engineering"), "sales": (204, "Sales"),
          "middleeast": (205, "MiddleEast"), "design": (206, "Design")}
OS_FACTS = {
    "Windows10": ("22H2", 19045, "10.0.19045.4291", "10.8760.19041.4291", "Intune"),
    "Windows11": ("23H2", 22631, "10.0.22631.3447", "10.8760.22621.3447", "Intune"),
    "WindowsServer2019": ("1809", 17763, "10.0.17763.5696", "10.8760.17763.5696", "MicrosoftDefenderForEndpoint"),
    "WindowsServer2022": ("21H2", 20348, "10.0.20348.2402", "10.8760.20348.2402", "MicrosoftDefenderForEndpoint"),
    "Linux": ("22.04", None, "Ubuntu 22.04.4 LTS", "101.24042.0002", "MicrosoftDefenderForEndpoint"),
    "macOS": ("14.4", None, "14.4.1", "101.24042.0008", "Intune"),
}

# name, osPlatform, healthStatus, riskScore, exposureLevel, group, machineTags, lastSeen (hours ago), overrides
DEFAULT_MACHINES = [
    ("mymachine1.contoso.com", "Windows10", "Active", "Low", "Medium", "a-team", ["test tag 1", "test tag 2"], 2, {
        "id": "1e5bc9d7e413ddd7902c2932e418702b84d0cc07", "firstSeen": "2018-08-02T14:55:03.7791856Z", "version": "1709",
        "osBuild": 18209, "lastIpAddress": "172.17.230.209", "lastExternalIpAddress": "167.220.196.71",
        "aadDeviceId": "80fe8ff8-2624-418e-9591-41f0491218f9", "isAadJoined": True}),
    ("desktop-39g9tgl", "Windows10", "Active", "Medium", "Medium", "engineering", [], 5,
     {"id": "f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f"}),
    ("desktop-test", "Windows11", "Active", "High", "High", "unassigned", ["test"], 1,
     {"id": "7b1f4967d9728e5aa3c06a9e617a22a4a5a17378"}),
    ("temp123.middleeast.corp.microsoft.com", "Windows10", "Active", "Medium", "Low", "middleeast", [], 3,
     {"id": "12ee6dd8c833c8a052ea231ec1b19adaf497b625"}),
    ("ws-finance-01.contoso.com", "Windows11", "Active", "Low", "Low", "finance", ["finance"], 1, {"deviceValue": "High"}),
    ("ws-finance-02.contoso.com", "Windows11", "Active", "Medium", "Medium", "finance", ["finance", "vip"], 4, {"deviceValue": "High"}),
    ("ws-finance-03.contoso.com", "Windows11", "Active", "High", "High", "finance", ["finance", "compromised"], 6, {"deviceValue": "High"}),
    ("ws-hr-01.contoso.com", "Windows10", "Active", "Low", "Low", "unassigned", ["hr"], 2, {}),
    ("ws-eng-01.contoso.com", "Windows11", "Active", "None", "Low", "engineering", ["engineering"], 1, {}),
    ("ws-eng-02.contoso.com", "Windows11", "Active", "Informational", "Low", "engineering", ["engineering"], 7, {}),
    ("ws-eng-03.contoso.com", "Windows10", "ImpairedCommunication", "Low", "Medium", "engineering", ["engineering"], 30, {}),
    ("ws-eng-04.contoso.com", "Windows10", "NoSensorData", "Medium", "Medium", "engineering", ["engineering"], 50, {}),
    ("ws-eng-05.contoso.com", "Windows11", "Active", "High", "High", "engineering", ["engineering", "compromised"], 1, {}),
    ("WS-Sales-01.Contoso.com", "Windows10", "Active", "Low", "Low", "sales", ["sales"], 3, {}),
    ("ws-sales-02.contoso.com", "Windows11", "Active", "Medium", "Medium", "sales", ["sales"], 8, {}),
    ("SRV-SQL-01.contoso.com", "WindowsServer2019", "Active", "Medium", "High", "servers", ["prod", "sql", "tier1"], 2, {"deviceValue": "High"}),
    ("srv-dc-01.contoso.com", "WindowsServer2022", "Active", "Low", "Medium", "servers", ["prod", "tier0"], 1, {"deviceValue": "High"}),
    ("srv-dc-02.contoso.com", "WindowsServer2022", "Active", "Low", "Medium", "servers", ["prod", "tier0"], 1, {"deviceValue": "High"}),
    ("srv-file-01.contoso.com", "WindowsServer2019", "Active", "Medium", "Medium", "servers", ["prod"], 4, {}),
    ("srv-web-01.contoso.com", "Linux", "Active", "Low", "Medium", "servers", ["prod", "web"], 2, {}),
    ("srv-web-02.contoso.com", "Linux", "Active", "High", "High", "servers", ["prod", "web", "compromised"], 5, {}),
    ("srv-app-01.contoso.com", "Linux", "Active", "None", "Low", "servers", ["staging"], 3, {}),
    ("lnx-build-01.contoso.com", "Linux", "Active", "Informational", "Low", "engineering", ["build"], 6, {}),
    ("lnx-build-02.contoso.com", "Linux", "NoSensorDataImpairedCommunication", "Low", "Low", "engineering", ["build"], 70, {}),
    ("mac-design-01.contoso.com", "macOS", "Active", "High", "Medium", "design", ["design", "compromised"], 2, {}),
    ("mac-design-02.contoso.com", "macOS", "Active", "Low", "Low", "design", ["design"], 9, {}),
    ("mac-exec-01.contoso.com", "macOS", "Active", "Medium", "Medium", "unassigned", ["vip"], 12, {}),
    # The re-imaged host: two records, one DNS name (mde-api.md / user-pains 25).
    ("ws-reimaged.contoso.com", "Windows10", "Inactive", "None", "Low", "unassigned", [], 20 * 24,
     {"id": machine_id("ws-reimaged.contoso.com", "before-reimage"), "isPotentialDuplication": True,
      "firstSeen_days": 400}),
    ("ws-reimaged.contoso.com", "Windows11", "Active", "Low", "Low", "unassigned", [], 1, {"firstSeen_days": 19}),
    ("ws-offline-01.contoso.com", "Windows10", "Inactive", "Low", "Low", "unassigned", [], 9 * 24, {}),
    ("laptop-travel-07.contoso.com", "Windows11", "Inactive", "Medium", "Medium", "sales", ["sales", "travel"], 4 * 24, {}),
    ("kiosk-01.contoso.com", "Windows10", "Active", "None", "Low", "unassigned", ["kiosk"], 2, {"deviceValue": "Low"}),
    ("ws-lab-01.contoso.com", "Windows10", "Unknown", "None", "None", "unassigned", ["lab"], 100, {}),
    ("byod-01.contoso.com", "Windows10", "Unknown", "None", "None", "unassigned", [], 30,
     {"onboardingStatus": "CanBeOnboarded", "agentVersion": None, "managedBy": "Unknown"}),
    ("iot-cam-01.contoso.com", "Linux", "Unknown", "None", "None", "unassigned", ["iot"], 48,
     {"onboardingStatus": "Unsupported", "agentVersion": None, "managedBy": "Unknown"}),
    ("ws-guest-01.contoso.com", "Windows10", "Unknown", "None", "None", "unassigned", [], 72,
     {"onboardingStatus": "InsufficientInfo", "agentVersion": None, "managedBy": "Unknown"}),
    ("ws-it-01.contoso.com", "Windows11", "Active", "Low", "Low", "unassigned", ["it", "admin"], 1, {}),
    ("ws-it-02.contoso.com", "Windows11", "Active", "Medium", "Medium", "unassigned", ["it"], 3, {}),
    ("srv-exch-01.contoso.com", "WindowsServer2019", "Active", "High", "High", "servers", ["prod", "exchange"], 2, {"deviceValue": "High"}),
    ("srv-ca-01.contoso.com", "WindowsServer2022", "ImpairedCommunication", "Low", "Medium", "servers", ["prod", "tier0"], 26, {}),
    ("ws-support-01.contoso.com", "Windows10", "Active", "Low", "Low", "unassigned", ["helpdesk", "Bob's PC"], 5, {}),
    ("ws-support-02.contoso.com", "Windows10", "Active", "Informational", "Low", "unassigned", ["helpdesk"], 7, {}),
]


def build_machine(index, name, platform, health, risk, exposure, group, tags, last_seen_hours, overrides, now, salt=""):
    version, build, os_version, agent, managed_by = OS_FACTS[platform]
    group_id, group_name = GROUPS[group]
    mid = overrides.get("id") or machine_id(name, salt)
    windows = platform.startswith("Windows")
    ip = "10.%d.%d.%d" % (group_id % 250, 1 + index // 200, 10 + index % 200)
    mac = "00155D%06X" % (int(mid[:6], 16))
    first_seen_days = overrides.get("firstSeen_days", 90 + index * 7 % 400)
    machine = {
        "id": mid, "computerDnsName": name,
        "firstSeen": iso7(now - first_seen_days * DAY), "lastSeen": iso7(now - last_seen_hours * HOUR - index * 61.3),
        "osPlatform": platform, "version": version, "osProcessor": "x64", "lastIpAddress": ip,
        "lastExternalIpAddress": "167.220.%d.%d" % (196 + index % 4, 10 + index % 240), "osBuild": build,
        "healthStatus": health, "rbacGroupId": group_id, "rbacGroupName": group_name, "riskScore": risk,
        "exposureLevel": exposure, "isAadJoined": windows and not platform.startswith("WindowsServer"),
        "aadDeviceId": stable_guid("aad", mid) if windows and not platform.startswith("WindowsServer") else None,
        "machineTags": list(tags), "deviceValue": "Normal",
        "ipAddresses": [
            {"ipAddress": ip, "macAddress": mac, "type": "Ethernet" if windows else "Other", "operationalStatus": "Up"},
            {"ipAddress": "127.0.0.1", "macAddress": None, "type": "SoftwareLoopback", "operationalStatus": "Up"}],
        "osArchitecture": "64-bit", "onboardingStatus": "Onboarded", "mergedIntoMachineId": None,
        "isPotentialDuplication": False, "isExcluded": False, "exclusionReason": None, "osVersion": os_version,
        "agentVersion": agent, "defenderAvStatus": "Updated" if health == "Active" else "NotUpdated",
        "managedBy": managed_by, "managedByStatus": "Success" if health == "Active" else "Unknown",
        "vmMetadata": ({"hypervisorId": stable_guid("hv", mid), "cloudResourceId": "/subscriptions/%s/resourceGroups/prod/"
                        "providers/Microsoft.Compute/virtualMachines/%s" % (stable_guid("sub"), name.split(".")[0]),
                        "cloudProvider": "Azure", "cloudResourceIdentifiers": None}
                       if platform in ("Linux", "WindowsServer2022") and "cam" not in name else None),
    }
    machine.update({k: v for k, v in overrides.items() if k in MACHINE_FIELDS})
    return shape(machine, MACHINE_FIELDS, MACHINE_DEFAULTS)


# -- alerts ---------------------------------------------------------------------------------------------------------
# title, category, detectionSource, threatFamilyName, threatName, mitreTechniques, evidence kinds
ALERT_KINDS = [
    ("Suspicious 'Meterpreter' behavior was detected", "SuspiciousActivity", "WindowsDefenderAv", "Meterpreter", None,
     ["T1064", "T1085", "T1220"], ("user", "process")),
    ("Low-reputation arbitrary code executed by signed executable", "Execution", "WindowsDefenderAtp", None, None,
     ["T1064", "T1085", "T1220"], ("user", "process", "file")),
    ("Windows Defender AV detected 'Mikatz', high-severity malware", "MalwareDownload", "WindowsDefenderAv", "Mikatz",
     "HackTool:Win32/Mikatz!dha", ["T1003"], ("file",)),
    ("Suspicious PowerShell command line", "Execution", "WindowsDefenderAtp", None, None, ["T1059.001"], ("user", "process")),
    ("Ransomware behavior detected in the file system", "Ransomware", "WindowsDefenderAtp", None, None, ["T1486"],
     ("process", "file")),
    ("Communication with a known command-and-control server", "CommandAndControl", "WindowsDefenderAtp", None, None,
     ["T1071", "T1105"], ("process", "ip")),
    ("Connection to a custom network indicator", "InitialAccess", "CustomTi", None, None, ["T1566.002"], ("url", "ip")),
    ("Credential dumping activity observed", "CredentialAccess", "WindowsDefenderAtp", None, None, ["T1003.001"],
     ("user", "process")),
    ("An active 'Emotet' malware was detected", "Malware", "WindowsDefenderAv", "Emotet", "Trojan:Win32/Emotet.ARJ!MTB",
     ["T1204.002"], ("file", "process")),
    ("Suspicious sequence of exploration activities", "Discovery", "WindowsDefenderAtp", None, None,
     ["T1016", "T1033", "T1087"], ("user", "process")),
    ("Automated investigation started manually", "SuspiciousActivity", "AutomatedInvestigation", None, None, [], ()),
    ("Possible reverse shell on a Linux host", "Execution", "WindowsDefenderAtp", None, None, ["T1059.004"], ("process", "ip")),
    ("'EICAR_Test_File' malware was prevented", "Malware", "WindowsDefenderAv", "EICAR_Test_File", "Virus:DOS/EICAR_Test_File",
     [], ("file",)),
]
DESCRIPTION = ("Malware and unwanted software are undesirable applications that perform annoying, disruptive, or harmful "
               "actions on affected machines. Some of these undesirable applications can replicate and spread from one "
               "machine to another.\n\nBecause this malware was active, take precautionary measures and check for "
               "residual signs of infection.")
INVESTIGATION_STATES = ("Queued", "Running", "SuccessfullyRemediated", "Benign", "PartiallyInvestigated", "TerminatedByUser",
                        "UnsupportedOs", "PendingApproval")
RESOLUTIONS = (("TruePositive", "Malware"), ("FalsePositive", "Clean"), ("InformationalExpectedActivity", "SecurityTesting"),
               ("TruePositive", "MultiStagedAttack"), (None, None))


def evidence(kind, when, machine, rng):
    """One evidence item shaped like fixtures/alerts_list_expand_evidence.json."""
    user = machine["computerDnsName"].split(".")[0].lower().replace("-", "")[:12]
    item = {"entityType": {"user": "User", "process": "Process", "file": "File", "ip": "Ip", "url": "Url"}[kind],
            "evidenceCreationTime": iso7(when)}
    if kind == "user":
        item.update({"accountName": user, "domainName": "CONTOSO", "userSid": "S-1-5-21-11111607-1111760036-109187956-%d"
                     % rng.randrange(1000, 99999), "aadUserId": stable_guid("user", user),
                     "userPrincipalName": "%s@contoso.com" % user})
    elif kind == "process":
        item.update({"sha1": "ff836cfb1af40252bd2a2ea843032e99a5b262ed",
                     "sha256": "a4752c71d81afd3d5865d24ddb11a6b0c615062fcc448d24050c2172d2cbccd6",
                     "fileName": "rundll32.exe", "filePath": "C:\\Windows\\SysWOW64", "processId": rng.randrange(1000, 9999),
                     "processCommandLine": "rundll32.exe  c:\\temp\\suspicious.dll,RepeatAfterMe",
                     "processCreationTime": iso7(when - 146), "parentProcessId": rng.randrange(1000, 9999),
                     "parentProcessCreationTime": iso7(when - 147), "parentProcessFileName": "rundll32.exe",
                     "parentProcessFilePath": "C:\\Windows\\System32", "detectionStatus": "Detected"})
    elif kind == "file":
        item.update({"sha1": "8563f95b2f8a284fc99da44500cd51a77c1ff36c",
                     "sha256": "dc0ade0c95d6db98882bc8fa6707e64353cd6f7767ff48d6a81a6c2aef21c608",
                     "fileName": "suspicious.dll", "filePath": "c:\\temp", "detectionStatus": "Detected"})
    elif kind == "ip":
        item.update({"ipAddress": "203.0.113.%d" % rng.randrange(1, 254)})
    elif kind == "url":
        item.update({"url": "http://malicious.example.invalid/payload?id=%d" % rng.randrange(1000)})
    return shape(item, EVIDENCE_FIELDS, {})


def build_alert(rng, index, machine, severity, status, created, tenant_id, kind=None):
    title, category, source, family, threat, mitre, kinds = kind or ALERT_KINDS[index % len(ALERT_KINDS)]
    first_event = created - rng.uniform(60, 3600)
    last_event = first_event + rng.uniform(1, 600)
    resolved = status == "Resolved"
    classification, determination = RESOLUTIONS[index % len(RESOLUTIONS)] if resolved else (
        ("TruePositive", None) if status == "InProgress" and index % 2 else (None, None))
    updated = created + rng.uniform(5, 3 * DAY if resolved else HOUR)
    alert = {
        "id": "da%018d_%d" % (637000000000000000 + rng.randrange(10 ** 15), rng.randrange(-2 ** 31, 2 ** 31)),
        "incidentId": 7000 + index * 3, "investigationId": 720000 + index if index % 3 else None,
        "assignedTo": "secop@contoso.com" if status in ("InProgress", "Resolved") else None,
        "severity": severity, "status": status, "classification": classification, "determination": determination,
        "investigationState": INVESTIGATION_STATES[index % len(INVESTIGATION_STATES)], "detectionSource": source,
        "detectorId": stable_guid("detector", title), "category": category, "threatFamilyName": family, "title": title,
        "description": DESCRIPTION, "alertCreationTime": iso7(created), "firstEventTime": iso7(first_event),
        "lastEventTime": iso7(last_event), "lastUpdateTime": iso7(updated), "resolvedTime": iso7(updated) if resolved else None,
        "machineId": machine["id"], "computerDnsName": machine["computerDnsName"], "rbacGroupName": machine["rbacGroupName"],
        "aadTenantId": tenant_id, "threatName": threat, "mitreTechniques": list(mitre),
        "relatedUser": {"userName": machine["computerDnsName"].split(".")[0].lower(), "domainName": "CONTOSO"} if kinds and "user" in kinds else None,
        "comments": [{"comment": "Triaged by the SOC", "createdBy": "secop@contoso.com", "createdTime": iso7(updated)}]
        if status != "New" and index % 2 == 0 else [],
        "evidence": [evidence(k, created + 1, machine, rng) for k in kinds],
    }
    return shape(alert, ALERT_FIELDS, ALERT_DEFAULTS)


def _fixture_alerts(now, machine, tenant_id):
    """Microsoft's two example alerts (fixtures/alerts_list*.json), moved into the last 30 days."""
    first = {
        "id": "da637308392288907382_-880718168", "incidentId": 7587, "investigationId": 723156,
        "assignedTo": "secop123@contoso.com", "severity": "Low", "status": "New", "classification": "TruePositive",
        "determination": None, "investigationState": "Queued", "detectionSource": "WindowsDefenderAv",
        "category": "SuspiciousActivity", "threatFamilyName": "Meterpreter",
        "title": "Suspicious 'Meterpreter' behavior was detected", "description": DESCRIPTION,
        "alertCreationTime": iso7(now - 2 * DAY), "firstEventTime": iso7(now - 2 * DAY - 91.1),
        "lastEventTime": iso7(now - 2 * DAY - 90.6), "lastUpdateTime": iso7(now - 2 * DAY + 1.4), "resolvedTime": None,
        "mitreTechniques": ["T1064", "T1085", "T1220"], "relatedUser": {"userName": "temp123", "domainName": "DOMAIN"},
        "comments": [{"comment": "test comment for docs", "createdBy": "secop123@contoso.com",
                      "createdTime": iso7(now - 2 * DAY + 50000)}], "evidence": [],
    }
    second = dict(first, id="da637472900382838869_1364969609", incidentId=1126093, investigationId=None, assignedTo=None,
                  classification=None, investigationState="Queued", detectionSource="WindowsDefenderAtp",
                  detectorId="17e10bbc-3a68-474a-8aad-faef14d43952", category="Execution", threatFamilyName=None,
                  title="Low-reputation arbitrary code executed by signed executable",
                  alertCreationTime=iso7(now - 5 * DAY), firstEventTime=iso7(now - 5 * DAY - 144.8),
                  lastEventTime=iso7(now - 5 * DAY - 143.7), lastUpdateTime=iso7(now - 5 * DAY + 1.5))
    rng = random.Random(7)
    second["evidence"] = [evidence(k, now - 5 * DAY + 1, machine, rng) for k in ("user", "process", "file")]
    out = []
    for alert in (first, second):
        alert.update({"machineId": machine["id"], "computerDnsName": machine["computerDnsName"],
                      "rbacGroupName": machine["rbacGroupName"], "aadTenantId": tenant_id})
        out.append(shape(alert, ALERT_FIELDS, ALERT_DEFAULTS))
    return out


# -- machine actions ----------------------------------------------------------------------------------------------------
def _when(value):
    """Epoch seconds or ISO text (kept verbatim, so Microsoft's example timestamps survive unchanged)."""
    return value if isinstance(value, str) else iso7(value)


def build_action(machine, action_type, status, created, requestor="Analyst@contoso.com", comment="", scope=None,
                 updated=None, action_id=None, cancelled_by=None, related_file=None):
    if updated is None:
        updated = created if status == "Pending" or isinstance(created, str) else created + 75.4
    action = {
        # Ids depend on what the action is, not on when the emulator started: the README can name them.
        "id": action_id or stable_guid("action", machine["id"], action_type, status, comment),
        "type": action_type, "title": "%s %s" % (action_type, machine["computerDnsName"]), "requestor": requestor,
        "requestorComment": comment, "status": status, "machineId": machine["id"],
        "computerDnsName": machine["computerDnsName"], "creationDateTimeUtc": _when(created),
        "lastUpdateDateTimeUtc": _when(updated), "scope": scope, "relatedFileInfo": related_file,
    }
    if cancelled_by:
        action.update({"cancellationRequestor": cancelled_by, "cancellationComment": "Wrong machine",
                       "cancellationDateTimeUtc": _when(updated)})
    return shape(action, ACTION_FIELDS, ACTION_DEFAULTS)


def _default_actions(by_name, now):
    def m(name):
        return by_name[name]

    acts = [
        # Microsoft's examples, with their ids and dates (fixtures/machineactions_list.json, machineaction_get.json,
        # isolate_response.json, unisolate_response.json).
        build_action(m("desktop-39g9tgl"), "CollectInvestigationPackage", "Succeeded", "2018-12-04T12:43:57.2011911Z",
                     comment="test", updated="2018-12-04T12:45:25.4049122Z",
                     action_id="69dc3630-1ccc-4342-acf3-35286eec741d"),
        build_action(m("desktop-39g9tgl"), "RunAntiVirusScan", "Succeeded", "2018-12-04T12:18:27.1293487Z",
                     comment="Check machine for viruses due to alert 3212", scope="Full",
                     updated="2018-12-04T12:18:57.5511934Z", action_id="2e9da30d-27f6-4208-81f2-9cd3d67893ba"),
        build_action(m("desktop-39g9tgl"), "StopAndQuarantineFile", "Succeeded", "2018-12-04T12:15:40.6052029Z",
                     comment="test", updated="2018-12-04T12:16:14.2899973Z",
                     action_id="44cffc15-0e3d-4cbf-96aa-bf76f9b27f5e",
                     related_file={"fileIdentifier": "a0c659857ccbe457fdaf5fe21d54efdcbf6f6508", "fileIdentifierType": "Sha1"}),
        build_action(m("desktop-test"), "Isolate", "Succeeded", "2019-01-02T14:39:38.2262283Z", scope="Selective",
                     requestor="Analyst@TestPrd.onmicrosoft.com", comment="test for docs",
                     updated="2019-01-02T14:40:44.6596267Z", action_id="5382f7ea-7557-4ab7-9782-d50480024a4e"),
        build_action(m("mymachine1.contoso.com"), "Isolate", "Succeeded", "2017-12-04T12:12:18.9725659Z",
                     scope="Full", comment="Isolate machine due to alert 1234", action_id="b89eb834-4578-496c-8be0-03f004061435"),
        build_action(m("mymachine1.contoso.com"), "Unisolate", "Succeeded", "2018-12-04T12:13:15.0104931Z",
                     comment="Unisolate machine since it was clean and validated",
                     action_id="09a0f91e-a2eb-409d-af33-5577fe9bd558"),
        # ws-finance-03: isolated, released, isolated again (currently isolated).
        build_action(m("ws-finance-03.contoso.com"), "Isolate", "Succeeded", now - 20 * DAY, scope="Full", comment="Alert 7001"),
        build_action(m("ws-finance-03.contoso.com"), "Unisolate", "Succeeded", now - 19 * DAY, comment="Clean after scan"),
        build_action(m("ws-finance-03.contoso.com"), "Isolate", "Succeeded", now - 3 * DAY, scope="Full",
                     comment="Incident 7042: ransomware behaviour"),
        # srv-web-02: scanned, then isolated (currently isolated).
        build_action(m("srv-web-02.contoso.com"), "RunAntiVirusScan", "Succeeded", now - 2 * DAY, scope="Quick",
                     comment="Scan before containment"),
        build_action(m("srv-web-02.contoso.com"), "Isolate", "Succeeded", now - 1 * DAY, scope="Full",
                     comment="Reverse shell observed", requestor=directory.CLIENT_ID),
        # ws-hr-01: isolated then released.
        build_action(m("ws-hr-01.contoso.com"), "Isolate", "Succeeded", now - 10 * DAY, scope="Full", comment="Phishing"),
        build_action(m("ws-hr-01.contoso.com"), "Unisolate", "Succeeded", now - 9 * DAY, comment="Reimaged user profile"),
        # laptop-travel-07 is offline: its isolation is still waiting for the device.
        build_action(m("laptop-travel-07.contoso.com"), "Isolate", "Pending", now - 6 * HOUR, scope="Full",
                     comment="Lost laptop"),
        # ws-eng-05: attempts that did not change anything.
        build_action(m("ws-eng-05.contoso.com"), "Isolate", "Failed", now - 5 * DAY, scope="Full", comment="First try"),
        build_action(m("ws-eng-05.contoso.com"), "Isolate", "Cancelled", now - 4 * DAY, scope="Selective",
                     comment="Second try", cancelled_by="secop@contoso.com"),
        build_action(m("ws-eng-05.contoso.com"), "Isolate", "TimeOut", now - 3 * DAY, scope="Full", comment="Third try",
                     updated=now - 3 * DAY + 3 * DAY - 60),
        build_action(m("ws-eng-05.contoso.com"), "RunAntiVirusScan", "Succeeded", now - 2 * DAY, scope="Full",
                     comment="Full scan"),
        build_action(m("srv-sql-01.contoso.com"), "CollectInvestigationPackage", "Succeeded", now - 12 * DAY,
                     comment="Forensics for incident 7010"),
    ]
    return acts


# -- tenants --------------------------------------------------------------------------------------------------------
def default_dataset(now, seed=1):
    rng = random.Random(seed)
    machines = [build_machine(i, *spec, now=now) for i, spec in enumerate(DEFAULT_MACHINES)]
    by_name = {}
    for machine in machines:
        by_name.setdefault(machine["computerDnsName"].lower(), machine)
    by_name["ws-reimaged.contoso.com"] = machines[[i for i, s in enumerate(DEFAULT_MACHINES) if s[0] == "ws-reimaged.contoso.com"][1]]
    onboarded = [m for m in machines if m["onboardingStatus"] == "Onboarded"]
    compromised = [m for m in machines if "compromised" in m["machineTags"]]
    alerts = _fixture_alerts(now, by_name["temp123.middleeast.corp.microsoft.com"], directory.TENANT_ID)
    for i in range(58):
        severity = ALERT_SEVERITIES[i % 5]
        status = ALERT_STATUSES[(i // 5) % 4]
        machine = compromised[i % len(compromised)] if severity == "High" else onboarded[rng.randrange(len(onboarded))]
        created = now - (0.3 * HOUR + (i * 12.37 * HOUR) % (29.5 * DAY))
        if i == 4:
            # One High alert of the last hours, so "high-severity alerts of the last day" finds something.
            created = now - 2.5 * HOUR
        alerts.append(build_alert(rng, i, machine, severity, status, created, directory.TENANT_ID))
    actions = _default_actions(by_name, now)
    # machineaction.md: an action ends Succeeded, Failed, TimeOut or Cancelled. Three machines end every new action
    # unsuccessfully, so a client that counts on Succeeded is caught by default.
    outcomes = {by_name[name]["id"]: status for name, status in DEFAULT_OUTCOMES}
    return Dataset(machines, alerts, actions, seed=seed, action_outcomes=outcomes)


def other_dataset(now):
    """Fabrikam: a second tenant whose data differs, so cross-tenant mix-ups are visible."""
    rng = random.Random(99)
    specs = [("fabrikam-ws-01.fabrikam.com", "Windows11", "Active", "Low", "Low", "unassigned", ["fabrikam"], 1, {}),
             ("fabrikam-ws-02.fabrikam.com", "Windows10", "Active", "Medium", "Medium", "unassigned", ["fabrikam"], 3, {}),
             ("fabrikam-srv-01.fabrikam.com", "WindowsServer2022", "Active", "High", "High", "servers",
              ["fabrikam", "compromised"], 2, {})]
    machines = [build_machine(i, *spec, now=now, salt="fabrikam") for i, spec in enumerate(specs)]
    alerts = [build_alert(rng, i, machines[i % 3], ALERT_SEVERITIES[(i + 2) % 5], ALERT_STATUSES[i % 4],
                          now - (i + 1) * DAY, directory.OTHER_TENANT_ID) for i in range(4)]
    actions = [build_action(machines[2], "Isolate", "Succeeded", now - 2 * DAY, scope="Full", comment="Fabrikam incident",
                            requestor=directory.OTHER_CLIENT_ID)]
    return Dataset(machines, alerts, actions, seed=99)


# -- generated data at scale ----------------------------------------------------------------------------------------
def generate(base, now, machines=0, alerts=0, hunting_rows=None, seed=1):
    """``base`` plus ``machines`` machines and ``alerts`` alerts; ``hunting_rows`` sets DeviceProcessEvents' size."""
    # A stream of its own: random.Random(seed) would replay the base data's draws and repeat its alert ids.
    rng = random.Random('generate-%d' % seed)
    new_machines = list(base.machines)
    platforms = list(OS_FACTS)
    healths = ("Active",) * 12 + ("Inactive", "ImpairedCommunication", "NoSensorData", "Unknown")
    risks = ("None", "Informational", "Low", "Low", "Medium", "High")
    exposures = ("None", "Low", "Low", "Medium", "High")
    groups = list(GROUPS)
    tag_sets = ([], ["prod"], ["finance"], ["engineering"], ["sales"], ["vip"], ["prod", "web"], ["lab"], ["compromised"])
    for i in range(machines):
        name = "gen-%05d.scale.contoso.com" % i
        spec = (name, platforms[i % len(platforms)], healths[rng.randrange(len(healths))], risks[rng.randrange(len(risks))],
                exposures[rng.randrange(len(exposures))], groups[i % len(groups)], tag_sets[i % len(tag_sets)],
                rng.uniform(0.1, 30 * 24), {})
        new_machines.append(build_machine(i, *spec, now=now, salt="gen%d" % seed))
    new_alerts = list(base.alerts)
    pool = new_machines
    if alerts and not pool:
        raise DataError("generated alerts need at least one machine to be linked to")
    alert_ids = set(a["id"] for a in new_alerts)
    for i in range(alerts):
        machine = pool[rng.randrange(len(pool))]
        created = now - rng.uniform(60, 30 * DAY)
        alert = build_alert(rng, i, machine, ALERT_SEVERITIES[rng.randrange(5)], ALERT_STATUSES[rng.randrange(4)],
                            created, base.alerts[0]["aadTenantId"] if base.alerts else directory.TENANT_ID)
        while alert["id"] in alert_ids:
            alert["id"] = "da%018d_%d" % (637000000000000000 + rng.randrange(10 ** 15), rng.randrange(-2 ** 31, 2 ** 31))
        alert_ids.add(alert["id"])
        new_alerts.append(alert)
    return Dataset(new_machines, new_alerts, list(base.actions), offline=base.offline,
                   process_rows=base.process_rows if hunting_rows is None else hunting_rows, hunting=base.hunting, seed=seed,
                   action_outcomes=base.action_outcomes)


# -- data files -----------------------------------------------------------------------------------------------------
def from_document(doc, now):
    """A Dataset from ``{"machines": [...], "alerts": [...], "machine_actions": [...], "offline_machines": [...],
    "action_outcomes": {machine id: status}, "hunting": {"DeviceProcessEvents": [...]}}`` (every key optional)."""
    if not isinstance(doc, dict):
        raise DataError("the data document must be a JSON object")
    unknown = set(doc) - {"machines", "alerts", "machine_actions", "offline_machines", "action_outcomes", "hunting",
                          "generate"}
    if unknown:
        raise DataError("unknown keys in data document: %s" % ", ".join(sorted(unknown)))
    machines = []
    for item in _list(doc, "machines"):
        if not isinstance(item, dict) or not item.get("id") or not item.get("computerDnsName"):
            raise DataError("every machine needs an id and a computerDnsName")
        machines.append(shape(item, MACHINE_FIELDS, MACHINE_DEFAULTS))
    known = {m["id"] for m in machines}
    alerts = []
    for item in _list(doc, "alerts"):
        if not isinstance(item, dict) or not item.get("id"):
            raise DataError("every alert needs an id")
        alerts.append(shape(item, ALERT_FIELDS, ALERT_DEFAULTS))
    actions = []
    for item in _list(doc, "machine_actions"):
        if not isinstance(item, dict) or not is_guid(item.get("id")) or item.get("machineId") not in known:
            raise DataError("every machine action needs a GUID id and the machineId of a machine in the document")
        if not item.get("type") or not item.get("status"):
            raise DataError("every machine action needs a type and a status")
        item = dict(item)
        item.setdefault("creationDateTimeUtc", iso7(now))
        item.setdefault("lastUpdateDateTimeUtc", item["creationDateTimeUtc"])
        if parse_ticks(item["creationDateTimeUtc"]) is None:
            raise DataError("creationDateTimeUtc of action %s is not an ISO 8601 time" % item["id"])
        actions.append(shape(item, ACTION_FIELDS, ACTION_DEFAULTS))
    hunting = doc.get("hunting") or {}
    if not isinstance(hunting, dict) or not all(isinstance(v, list) for v in hunting.values()):
        raise DataError("hunting must be {table name: [row objects]}")
    offline = doc.get("offline_machines")
    if offline is not None and not (isinstance(offline, list) and all(isinstance(v, str) for v in offline)):
        raise DataError("offline_machines must be a list of machine ids")
    outcomes = check_outcomes(doc.get("action_outcomes") or {}, DataError)
    return Dataset(machines, alerts, actions, offline=offline, process_rows=DEFAULT_PROCESS_ROWS, hunting=hunting,
                   action_outcomes=outcomes)


def check_outcomes(value, error, allow_none=False):
    """``{machine id: status or {action type or "*": status}}`` with final statuses only (``None`` removes a machine's
    entry when ``allow_none``); raises ``error`` otherwise."""
    if not isinstance(value, dict):
        raise error("action_outcomes must be {machine id: status or {action type: status}}")
    for machine, rule in value.items():
        rules = rule.values() if isinstance(rule, dict) else [rule]
        if rule is None and allow_none:
            continue
        if not isinstance(machine, str) or not rules or any(r not in FINAL_STATUSES for r in rules):
            raise error("action_outcomes[%r] must be one of %s (or {action type: status})"
                        % (machine, ", ".join(FINAL_STATUSES)))
    return dict(value)


def load_file(path, now):
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError) as exc:
        raise DataError("cannot read data file %s: %s" % (path, exc)) from None
    return from_document(doc, now)


def _list(doc, key):
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise DataError("%s must be a list" % key)
    return value
