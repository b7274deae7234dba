"""The Entra ID directory: tenants, app registrations, users, resource audiences and permissions."""

import secrets
import uuid

# Identifiers of the WindowsDefenderATP resource (mde-api.md 1.3) plus the US-government forms real clients use
# (the API hosts and the .us windowsatpservice URI; Microsoft documents none, mde-api.md 1.2); the emulator stands in
# for every cloud, so it accepts all of them.
DEFENDER_AUDIENCES = (
    "https://api.securitycenter.microsoft.com",
    "https://api.securitycenter.windows.com",
    "https://securitycenter.onmicrosoft.com/windowsatpservice",
    "fc780465-2017-40d4-a0c5-307022471b92",
    "https://api-gcc.securitycenter.microsoft.us",
    "https://api-gov.securitycenter.microsoft.us",
    "https://securitycenter.onmicrosoft.us/windowsatpservice",
)
# The Microsoft Defender XDR resource: Entra issues tokens for it, but the MDE API answers them with 403
# (mde-api.md "Facts added on review"; TheHive Cortex-Analyzers PR #1480). Its host is also an MDE API host.
XDR_AUDIENCES = (
    "https://api.security.microsoft.com",
)
GRAPH_AUDIENCES = (
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "00000003-0000-0000-c000-000000000000",
)
DEFENDER, GRAPH, XDR = "defender", "graph", "xdr"

DEFENDER_APP_ROLES = (
    "Alert.Read.All", "Alert.ReadWrite.All", "Machine.Read.All", "Machine.ReadWrite.All", "Machine.Isolate",
    "Machine.Scan", "Machine.CollectForensics", "Machine.RestrictExecution", "Machine.StopAndQuarantine",
    "Machine.LiveResponse", "Machine.Offboard", "AdvancedQuery.Read.All", "Ti.ReadWrite.All", "Ti.ReadWrite",
)
GRAPH_APP_ROLES = ("ThreatHunting.Read.All",)
DEFENDER_DELEGATED = ("Alert.Read", "Alert.ReadWrite", "Machine.Read", "Machine.ReadWrite", "Machine.Isolate",
                      "Machine.Scan", "AdvancedQuery.Read")
DEFENDER_DELEGATED += ("Ti.ReadWrite",)  # indicators (post-ti-indicator.md)
GRAPH_DELEGATED = ("ThreatHunting.Read.All",)

# Fixed ids so other suites and the README can name them; secrets and passwords are new on every start.
TENANT_ID = "a839b112-1253-6432-9bf6-94542403f21c"  # the aadTenantId of Microsoft's alert examples
TENANT_DOMAINS = ("contoso.onmicrosoft.com", "contoso.com")
CLIENT_ID = "6f5a8c1e-2b3d-4e7f-9a0b-1c2d3e4f5a6b"
PUBLIC_CLIENT_ID = "0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f"
LIMITED_CLIENT_ID = "3e2d1c0b-9a8f-4e7d-b6c5-4a3b2c1d0e9f"
USERNAME = "analyst@contoso.onmicrosoft.com"
# A second user, limited to some device groups (rbac.DEFAULT_USER_DEVICE_GROUPS); the analyst has every group.
SCOPED_USERNAME = "responder@contoso.onmicrosoft.com"
OTHER_TENANT_ID = "5f1c3e2d-8b7a-4c69-9d1e-2a3b4c5d6e7f"
OTHER_TENANT_DOMAINS = ("fabrikam.onmicrosoft.com",)
OTHER_CLIENT_ID = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


def resource_kind(identifier):
    """Which API a v1 ``resource`` / v2 scope prefix names: DEFENDER, GRAPH, XDR or None (unknown)."""
    key = identifier.rstrip("/").lower()
    if key in _DEFENDER_KEYS:
        return DEFENDER
    if key in _GRAPH_KEYS:
        return GRAPH
    if key in _XDR_KEYS:
        return XDR
    return None


_DEFENDER_KEYS = frozenset(a.lower() for a in DEFENDER_AUDIENCES)
_GRAPH_KEYS = frozenset(a.lower() for a in GRAPH_AUDIENCES)
_XDR_KEYS = frozenset(a.lower() for a in XDR_AUDIENCES)


def _object_id(seed):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "defender-atp-emulator/" + seed))


class App:
    """An app registration and its service principal in one tenant."""

    def __init__(self, client_id, display_name, public=False, roles=None, delegated=None, secret=None, certificates=()):
        self.client_id = client_id
        self.display_name = display_name
        self.public = public
        self.object_id = _object_id("sp/" + client_id)
        self.secrets = [secret] if secret else []
        self.certificates = list(certificates)  # tls.ClientCertificate
        # The emulator grants nothing on the XDR resource: it only exists so a token for it can be refused by MDE.
        self.roles = {kind: list((roles or {}).get(kind, ())) for kind in (DEFENDER, GRAPH, XDR)}
        self.delegated = {kind: list((delegated or {}).get(kind, ())) for kind in (DEFENDER, GRAPH, XDR)}

    def certificate_by_thumbprint(self, x5t=None, x5t_s256=None):
        for cert in self.certificates:
            if x5t and cert.x5t == x5t.rstrip("="):
                return cert
            if x5t_s256 and cert.x5t_s256 == x5t_s256.rstrip("="):
                return cert
        return None


class User:
    def __init__(self, username, password, display_name):
        self.username = username
        self.password = password
        self.display_name = display_name
        self.object_id = _object_id("user/" + username.lower())


class Tenant:
    def __init__(self, tenant_id, domains, display_name):
        self.tenant_id = tenant_id
        self.domains = tuple(domains)
        self.display_name = display_name
        self.apps = {}
        self.users = {}

    def add_app(self, app):
        self.apps[app.client_id.lower()] = app
        return app

    def add_user(self, user):
        self.users[user.username.lower()] = user
        return user

    def names(self):
        """Every spelling a URL may use for this tenant."""
        return (self.tenant_id,) + self.domains


class Directory:
    def __init__(self):
        self.tenants = {}

    def add(self, tenant):
        self.tenants[tenant.tenant_id] = tenant
        return tenant

    def find(self, name):
        """A tenant by GUID or verified domain (case-insensitive), else None."""
        key = (name or "").lower()
        for tenant in self.tenants.values():
            if key == tenant.tenant_id or key in (d.lower() for d in tenant.domains):
                return tenant
        return None

    def all_secret_values(self):
        values = []
        for tenant in self.tenants.values():
            for app in tenant.apps.values():
                values.extend(app.secrets)
                for cert in app.certificates:
                    # The private keys only: the certificates themselves are public and may be shown anywhere.
                    values.extend({cert.key_text, cert.plain_key_text})
                    if cert.password:
                        values.append(cert.password)
            values.extend(u.password for u in tenant.users.values())
        return values


def build(tls):
    """The default directory: two tenants, the apps and the user described in README.md."""
    full_roles = {DEFENDER: DEFENDER_APP_ROLES, GRAPH: GRAPH_APP_ROLES}
    directory = Directory()
    main = directory.add(Tenant(TENANT_ID, TENANT_DOMAINS, "Contoso"))
    main.add_app(App(CLIENT_ID, "defender-atp-automation", roles=full_roles, secret=_secret(),
                     certificates=[tls.client_cert, tls.encrypted_client_cert]))
    main.add_app(App(PUBLIC_CLIENT_ID, "defender-atp-native", public=True,
                     delegated={DEFENDER: DEFENDER_DELEGATED, GRAPH: GRAPH_DELEGATED}))
    main.add_app(App(LIMITED_CLIENT_ID, "defender-atp-readonly", secret=_secret(),
                     roles={DEFENDER: ("Machine.Read.All", "Alert.Read.All")}))
    main.add_user(User(USERNAME, _password(), "SecOps Analyst"))
    main.add_user(User(SCOPED_USERNAME, _password(), "Finance Responder"))
    other = directory.add(Tenant(OTHER_TENANT_ID, OTHER_TENANT_DOMAINS, "Fabrikam"))
    other.add_app(App(OTHER_CLIENT_ID, "fabrikam-defender-automation", roles=full_roles, secret=_secret()))
    return directory


def _secret():
    # Shaped like an Entra secret value (40 characters, with '~' and '.'), which also exercises URL-encoding.
    return secrets.token_urlsafe(27)[:34] + "~" + secrets.token_hex(2) + "." + "Q"


def _password():
    return "Pw!" + secrets.token_urlsafe(12) + "#1"
