"""Run-time settings that tests change through ``/_emulator/config``."""

import copy

from . import rbac
from .data import check_outcomes

# Documented quotas (mde-api.md 6.1 and 6.2); graph_hunting follows the MDE hunting quota, token is generous.
DEFAULT_RATE_LIMITS = {
    "alerts": {"per_minute": 100, "per_hour": 1500},
    "machines": {"per_minute": 100, "per_hour": 1500},
    "machineactions": {"per_minute": 100, "per_hour": 1500},
    "isolate": {"per_minute": 100, "per_hour": 1500},
    "actions": {"per_minute": 100, "per_hour": 1500},
    "packageuri": {"per_minute": 2, "per_hour": 120},
    "tags": {"per_minute": 100, "per_hour": 1500},
    "advancedqueries": {"per_minute": 45, "per_hour": 1500},
    "graph_hunting": {"per_minute": 45, "per_hour": 1500},
    "token": {"per_minute": 200, "per_hour": 6000},
    "alerts_batch": {"per_minute": 10, "per_hour": 500},
    "indicators": {"per_minute": 100, "per_hour": 1500},
    "indicators_import": {"per_minute": 30, "per_hour": 1800},
    "indicators_batchdelete": {"per_minute": 30, "per_hour": 1500},
}
SCHEMA_CASES = ("default", "lower", "upper")
# The wording of 429 messages: "quota" names the limit and window (as observed from the service), "plain" names no
# numbers at all. Microsoft documents the message as free text that can change, so clients must cope with both.
THROTTLE_MESSAGES = ("quota", "plain")
DUPLICATE_ANSWERS = ("documented", "error")


class ConfigError(ValueError):
    pass


class Config:
    def __init__(self):
        self.token_lifetime = 3599
        self.pending_seconds = 2.0
        self.inprogress_seconds = 3.0
        self.offline_machines = []
        self.rate_scale = 1.0
        self.rate_limits = copy.deepcopy(DEFAULT_RATE_LIMITS)
        self.rate_limits_enabled = True
        self.schema_case = "default"
        self.max_result_bytes = 124 * 1024 * 1024
        # ASP.NET OData's default MaxNodeCount for $filter (0: no limit); whether Defender raised it is not documented.
        self.max_node_count = 100
        # Longest request target (path and query) the Defender API accepts before 414 (0: no limit). Not documented
        # for Defender; 8,192 is ASP.NET Core Kestrel's default MaxRequestLineSize.
        self.max_url_length = 8192
        self.throttle_message = "quota"
        self.indicator_limit = 15000  # active indicators per tenant (import-ti-indicators.md)
        # Indicator values whose presence makes an import a plain 400 (import-ti-indicators.md: "Bad request usually
        # indicates incorrect body", naming no indicator): a test aid for refusals a client cannot foresee.
        self.indicator_bad_request_values = []
        self.package_link_seconds = 300.0  # how long a GetPackageUri link stays valid ("minutes", undocumented)
        # Device groups of user tokens, by UPN (rbac.py): users not named here have every group.
        self.user_device_groups = rbac.check_config(rbac.DEFAULT_USER_DEVICE_GROUPS)
        # get-package-sas-uri.md: "value" is the link wrapped in literal quotes. False serves the bare link.
        self.package_link_quoted = True
        # The host:port the link names (None: the emulator's own, which is the API host a client is configured with).
        # Microsoft's example names userrequests-us.securitycenter.windows.com; another host tests a client's refusal.
        self.package_link_host = None
        # Whether the download first answers 302 to the same path on this host:port (None: no redirect). Undocumented:
        # whether Microsoft's download host redirects to storage is not said (mde-api.md, "Facts added on review").
        self.package_redirect_host = None
        self.package_bytes = 0  # pad the package to at least this many bytes (tests of a size cap)
        # The answer to a repeated action while one is pending: "documented" answers with the pending action where the
        # action's page says so (run-av-scan.md, restrict-code-execution.md, unrestrict-code-execution.md,
        # unisolate-machine.md), 400 ActiveRequestAlreadyExists elsewhere and a plain 400 for the package collection
        # (collect-investigation-package.md); "error" answers 400 ActiveRequestAlreadyExists everywhere (the pages'
        # other answer) and still the plain 400 for the collection.
        self.duplicate_actions = "documented"
        # {machine id: status or {action type or "*": status}}: how new actions end, over the data's own choice (None
        # removes the data's entry for that machine).
        self.action_outcomes = {}

    KEYS = ("token_lifetime", "pending_seconds", "inprogress_seconds", "offline_machines", "rate_scale", "rate_limits",
            "rate_limits_enabled", "schema_case", "max_result_bytes", "max_node_count", "max_url_length",
            "throttle_message", "indicator_limit", "package_link_seconds", "user_device_groups",
            "indicator_bad_request_values", "package_link_quoted", "package_link_host", "package_redirect_host",
            "package_bytes", "duplicate_actions", "action_outcomes")

    def as_dict(self):
        return {key: copy.deepcopy(getattr(self, key)) for key in self.KEYS}

    def copy(self):
        clone = Config()
        clone.update(self.as_dict())
        clone.user_device_groups = copy.deepcopy(self.user_device_groups)  # update() merges; a copy is exact
        return clone

    def update(self, values):
        """Apply a partial update; validates everything first so a bad request changes nothing."""
        if not isinstance(values, dict):
            raise ConfigError("config must be a JSON object")
        staged = {}
        for key, value in values.items():
            if key not in self.KEYS:
                raise ConfigError("unknown config key %r (known: %s)" % (key, ", ".join(self.KEYS)))
            staged[key] = self._check(key, value)
        for key, value in staged.items():
            if key == "rate_limits":
                for family, limits in value.items():
                    self.rate_limits.setdefault(family, {}).update(limits)
            elif key == "user_device_groups":
                # Merged per user; null removes a user's restriction (that user then has every device group).
                for user, groups in value.items():
                    if groups is None:
                        self.user_device_groups.pop(user, None)
                    else:
                        self.user_device_groups[user] = groups
            else:
                setattr(self, key, value)

    @staticmethod
    def _check(key, value):
        number = (int, float)
        if key == "token_lifetime":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError("token_lifetime must be a positive integer (seconds)")
        elif key in ("pending_seconds", "inprogress_seconds", "package_link_seconds"):
            if not isinstance(value, number) or isinstance(value, bool) or value < 0:
                raise ConfigError("%s must be a number >= 0" % key)
            value = float(value)
        elif key == "rate_scale":
            if not isinstance(value, number) or isinstance(value, bool) or value <= 0:
                raise ConfigError("rate_scale must be a number > 0")
            value = float(value)
        elif key == "offline_machines":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError("offline_machines must be a list of machine ids")
        elif key == "indicator_bad_request_values":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError("indicator_bad_request_values must be a list of indicator values")
            value = list(value)
        elif key in ("rate_limits_enabled", "package_link_quoted"):
            if not isinstance(value, bool):
                raise ConfigError("%s must be true or false" % key)
        elif key in ("package_link_host", "package_redirect_host"):
            if value is not None and (not isinstance(value, str) or not value or "/" in value or "@" in value):
                raise ConfigError("%s must be null or a host[:port]" % key)
        elif key == "package_bytes":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 512 * 1024 * 1024:
                raise ConfigError("package_bytes must be an integer from 0 to 536870912")
        elif key == "duplicate_actions":
            if value not in DUPLICATE_ANSWERS:
                raise ConfigError("duplicate_actions must be one of %s" % ", ".join(DUPLICATE_ANSWERS))
        elif key == "action_outcomes":
            value = check_outcomes(value, ConfigError, allow_none=True)
        elif key == "schema_case":
            if value not in SCHEMA_CASES:
                raise ConfigError("schema_case must be one of %s" % ", ".join(SCHEMA_CASES))
        elif key in ("max_node_count", "max_url_length"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError("%s must be an integer >= 0 (0: no limit)" % key)
        elif key == "throttle_message":
            if value not in THROTTLE_MESSAGES:
                raise ConfigError("throttle_message must be one of %s" % ", ".join(THROTTLE_MESSAGES))
        elif key in ("max_result_bytes", "indicator_limit"):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError("%s must be a positive integer" % key)
        elif key == "user_device_groups":
            try:
                value = rbac.check_config(value)
            except rbac.ScopeError as exc:
                raise ConfigError(str(exc)) from None
        elif key == "rate_limits":
            if not isinstance(value, dict):
                raise ConfigError("rate_limits must be {family: {per_minute: n, per_hour: n}}")
            for family, limits in value.items():
                if not isinstance(limits, dict) or not limits or any(
                        k not in ("per_minute", "per_hour") or not isinstance(v, int) or isinstance(v, bool) or v < 1
                        for k, v in limits.items()):
                    raise ConfigError("rate_limits[%r] must be {per_minute: n, per_hour: n} with positive integers" % family)
            value = copy.deepcopy(value)
        return value
