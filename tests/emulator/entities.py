"""Entity shapes (field order as in Microsoft's examples) and their OData property types."""

from .odata import BOOL, COLLECTION, DATE, INT, STRING, Prop, Schema

# Field order follows fixtures/machines_list.json, then the documented and observed extra fields (mde-api.md 5.4).
MACHINE_FIELDS = (
    "id", "computerDnsName", "firstSeen", "lastSeen", "osPlatform", "version", "osProcessor", "lastIpAddress",
    "lastExternalIpAddress", "osBuild", "healthStatus", "rbacGroupId", "rbacGroupName", "riskScore", "exposureLevel",
    "isAadJoined", "aadDeviceId", "machineTags", "deviceValue", "ipAddresses", "osArchitecture", "onboardingStatus",
    "mergedIntoMachineId", "isPotentialDuplication", "isExcluded", "exclusionReason", "osVersion", "agentVersion",
    "defenderAvStatus", "managedBy", "managedByStatus", "vmMetadata",
)
# fixtures/alerts_list_expand_evidence.json
ALERT_FIELDS = (
    "id", "incidentId", "investigationId", "assignedTo", "severity", "status", "classification", "determination",
    "investigationState", "detectionSource", "detectorId", "category", "threatFamilyName", "title", "description",
    "alertCreationTime", "firstEventTime", "lastEventTime", "lastUpdateTime", "resolvedTime", "machineId",
    "computerDnsName", "rbacGroupName", "aadTenantId", "threatName", "mitreTechniques", "relatedUser", "comments",
    "evidence",
)
EVIDENCE_FIELDS = (
    "entityType", "evidenceCreationTime", "sha1", "sha256", "fileName", "filePath", "processId", "processCommandLine",
    "processCreationTime", "parentProcessId", "parentProcessCreationTime", "parentProcessFileName",
    "parentProcessFilePath", "ipAddress", "url", "registryKey", "registryHive", "registryValueType", "registryValue",
    "accountName", "domainName", "userSid", "aadUserId", "userPrincipalName", "detectionStatus",
)
# machineaction.md / machineaction_get.json, plus the fields current responses carry (run-live-response.md).
ACTION_FIELDS = (
    "id", "type", "title", "requestor", "requestorComment", "status", "machineId", "computerDnsName",
    "creationDateTimeUtc", "lastUpdateDateTimeUtc", "cancellationRequestor", "cancellationComment",
    "cancellationDateTimeUtc", "errorHResult", "scope", "externalId", "requestSource", "relatedFileInfo", "commands",
    "troubleshootInfo",
)
ACTION_DEFAULTS = {"errorHResult": 0, "requestSource": "PublicApi", "commands": []}
MACHINE_DEFAULTS = {"machineTags": [], "ipAddresses": [], "isPotentialDuplication": False, "isExcluded": False}
ALERT_DEFAULTS = {"mitreTechniques": [], "comments": [], "evidence": []}

ALERT_SEVERITIES = ("UnSpecified", "Informational", "Low", "Medium", "High")
ALERT_STATUSES = ("Unknown", "New", "InProgress", "Resolved")
HEALTH_STATUSES = ("Active", "Inactive", "ImpairedCommunication", "NoSensorData", "NoSensorDataImpairedCommunication", "Unknown")
RISK_SCORES = ("None", "Informational", "Low", "Medium", "High")
EXPOSURE_LEVELS = ("None", "Low", "Medium", "High")
ONBOARDING_STATUSES = ("Onboarded", "CanBeOnboarded", "Unsupported", "InsufficientInfo")
DEVICE_VALUES = ("Normal", "Low", "High")
ACTION_STATUSES = ("Pending", "InProgress", "Succeeded", "Failed", "TimeOut", "Cancelled")
ACTION_TYPES = ("RunAntiVirusScan", "Offboard", "LiveResponse", "CollectInvestigationPackage", "Isolate", "Unisolate",
                "StopAndQuarantineFile", "RestrictCodeExecution", "UnrestrictCodeExecution")


def shape(entity, fields, defaults):
    """The entity with exactly ``fields``, in order; missing ones get a default (None unless listed)."""
    out = {}
    for field in fields:
        if field in entity:
            out[field] = entity[field]
        else:
            default = defaults.get(field)
            out[field] = list(default) if isinstance(default, list) else default
    return out


def _props(types, filterable, enums=None):
    enums = enums or {}
    return [Prop(name, types.get(name, STRING), enums.get(name), name in filterable) for name in types]


_ALERT_TYPES = {f: STRING for f in ALERT_FIELDS}
_ALERT_TYPES.update({"incidentId": INT, "investigationId": INT, "alertCreationTime": DATE, "firstEventTime": DATE,
                     "lastEventTime": DATE, "lastUpdateTime": DATE, "resolvedTime": DATE, "mitreTechniques": COLLECTION,
                     "relatedUser": "Complex", "comments": "Collection(Complex)", "evidence": "Collection(Complex)"})
# get-alerts.md: the filterable properties (InvestigationId as the doc spells it is accepted too). machineId and
# computerDnsName are not among them (mde-api.md, "Facts added on review"): a machine's alerts come from
# GET /api/machines/{id}/alerts. Any other property is refused, as an ASP.NET OData service refuses one not marked
# filterable.
ALERT_SCHEMA = Schema("microsoft.windowsDefenderATP.api.Alert", _props(
    _ALERT_TYPES,
    {"alertCreationTime", "lastUpdateTime", "incidentId", "investigationId", "id", "assignedTo", "detectionSource",
     "lastEventTime", "status", "severity", "category"},
    {"severity": ALERT_SEVERITIES, "status": ALERT_STATUSES}), aliases={"InvestigationId": "investigationId"},
    expandable=("evidence",))

_MACHINE_TYPES = {f: STRING for f in MACHINE_FIELDS}
_MACHINE_TYPES.update({"firstSeen": DATE, "lastSeen": DATE, "osBuild": INT, "rbacGroupId": INT, "isAadJoined": BOOL,
                       "machineTags": COLLECTION, "ipAddresses": "Collection(Complex)", "isPotentialDuplication": BOOL,
                       "isExcluded": BOOL, "vmMetadata": "Complex"})
# get-machines.md: the filterable properties.
MACHINE_SCHEMA = Schema("microsoft.windowsDefenderATP.api.Machine", _props(
    _MACHINE_TYPES,
    {"computerDnsName", "id", "version", "deviceValue", "aadDeviceId", "machineTags", "lastSeen", "exposureLevel",
     "onboardingStatus", "lastIpAddress", "healthStatus", "osPlatform", "riskScore", "rbacGroupId"},
    {"healthStatus": HEALTH_STATUSES, "riskScore": RISK_SCORES, "exposureLevel": EXPOSURE_LEVELS,
     "onboardingStatus": ONBOARDING_STATUSES, "deviceValue": DEVICE_VALUES}))

_ACTION_TYPES = {f: STRING for f in ACTION_FIELDS}
_ACTION_TYPES.update({"creationDateTimeUtc": DATE, "lastUpdateDateTimeUtc": DATE, "cancellationDateTimeUtc": DATE,
                      "errorHResult": INT, "relatedFileInfo": "Complex", "commands": "Collection(Complex)",
                      "troubleshootInfo": "Complex"})
# get-machineactions-collection.md: the filterable properties.
ACTION_SCHEMA = Schema("microsoft.windowsDefenderATP.api.MachineAction", _props(
    _ACTION_TYPES, {"id", "status", "machineId", "type", "requestor", "creationDateTimeUtc"},
    {"status": ACTION_STATUSES, "type": ACTION_TYPES}))
