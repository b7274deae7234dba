"""Entra ID: the v1 and v2 token endpoints, JWKS and OpenID metadata, and AADSTS errors (mde-api.md 2, 3)."""

import base64
import datetime
import hmac
import time
import urllib.parse

import jwt

from . import directory as dirmod
from .messages import json_response
from .tokens import STS, random_claim
from .util import new_guid

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})
LOGIN_HOSTS = ("https://login.microsoftonline.com", "https://login.microsoftonline.us", "https://login.windows.net",
               "https://login.partner.microsoftonline.cn", "https://sts.windows.net")
ASSERTION_SKEW = 300  # seconds of clock skew tolerated on an assertion's nbf, as Entra does


class AadError(Exception):
    """An Entra error; ``response()`` renders it in the documented shape (mde-api.md 2.5)."""

    def __init__(self, status, error, code, description):
        super().__init__(description)
        self.status, self.error, self.code, self.description = status, error, code, description

    def response(self, headers=None):
        trace, correlation = new_guid(), new_guid()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
        body = {
            "error": self.error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s" % (
                self.code, self.description, trace, correlation, stamp),
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": "https://login.microsoftonline.com/error?code=%d" % self.code,
        }
        return json_response(self.status, body, headers=[("x-ms-request-id", trace), ("Cache-Control", "no-store, no-cache")]
                             + list(headers or []))


def missing(name):
    return AadError(400, "invalid_request", 900144, "The request body must contain the following parameter: '%s'." % name)


def invalid_resource(resource, tenant):
    return AadError(400, "invalid_resource", 500011, (
        "The resource principal named %s was not found in the tenant named %s. This can happen if the application has "
        "not been installed by the administrator of the tenant or consented to by any user in the tenant. You might "
        "have sent your authentication request to the wrong tenant.") % (resource, tenant))


def bad_assertion(detail):
    return AadError(401, "invalid_client", 700027, detail)


class Identity:
    def __init__(self, emulator):
        self.emu = emulator

    # -- routing -------------------------------------------------------------------------------------------------
    def handle(self, req):
        """A Response for login-host paths, else None."""
        parts = [p for p in req.path.split("/") if p]
        if len(parts) < 2:
            return None
        tenant_name, rest = parts[0], [p.lower() for p in parts[1:]]
        if rest in (["oauth2", "token"], ["oauth2", "v2.0", "token"]):
            req.family = "token"
            v2 = len(rest) == 3
            try:
                if req.method != "POST":
                    raise AadError(400, "invalid_request", 900561,
                                   "The endpoint only accepts POST requests. Received a %s request." % req.method)
                return self.token(req, tenant_name, v2)
            except AadError as err:
                return err.response()
        if req.method != "GET":
            return None
        req.family = "metadata"
        try:
            if rest in (["discovery", "keys"], ["discovery", "v2.0", "keys"]):
                return self.jwks(tenant_name, v2=len(rest) == 3)
            if rest == [".well-known", "openid-configuration"]:
                return self.openid(tenant_name, v2=False)
            if rest == ["v2.0", ".well-known", "openid-configuration"]:
                return self.openid(tenant_name, v2=True)
            if tenant_name.lower() == "common" and rest[0] == "userrealm" and len(rest) == 2:
                return self.user_realm(parts[2])
            if tenant_name.lower() == "common" and rest == ["discovery", "instance"]:
                return self.instance_discovery(req)
        except AadError as err:
            return err.response()
        return None

    def _tenant(self, name):
        tenant = self.emu.directory.find(name)
        if tenant is None:
            raise AadError(400, "invalid_request", 90002, (
                "Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct "
                "cloud. Check with your subscription administrator, this may happen if there are no active subscriptions "
                "for the tenant.") % name)
        return tenant

    # -- token endpoint ----------------------------------------------------------------------------------------------
    def token(self, req, tenant_name, v2):
        form = req.form()
        basic_id, basic_secret = _basic_auth(req.header("Authorization"))
        grant_type = form.get("grant_type")
        req.grant_type = grant_type
        client_id = form.get("client_id") or basic_id
        req.client = client_id or None
        secret = form.get("client_secret") or basic_secret
        assertion = form.get("client_assertion")
        for value in (secret, assertion, form.get("password")):
            if value:
                self.emu.remember_secret(value)

        tenant = self._resolve_tenant(tenant_name, grant_type, form.get("username"))
        if not grant_type:
            raise missing("grant_type")
        if grant_type not in ("client_credentials", "password"):
            raise AadError(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'." % grant_type)
        if not client_id:
            raise missing("client_id")
        app = tenant.apps.get(client_id.lower())
        if app is None:
            raise AadError(400, "unauthorized_client", 700016, (
                "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application "
                "has not been installed by the administrator of the tenant or consented to by any user in the tenant. "
                "You may have sent your authentication request to the wrong tenant.") % (client_id, tenant.display_name))
        throttled = self.emu.throttle((tenant.tenant_id, app.client_id, "token"), "token")
        if throttled:
            raise _Throttle(throttled)

        resource, kind, requested = self._resource(form, tenant, v2, grant_type)
        req.audience = resource
        acr = self._authenticate_client(req, app, tenant, secret, assertion, form)
        user = None
        if grant_type == "client_credentials":
            if app.public:
                raise AadError(401, "invalid_client", 7000218,
                               "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
            if v2 and (len(requested) != 1 or requested[0][1] != ".default"):
                raise AadError(400, "invalid_scope", 1002012, (
                    "The provided value for scope %s is not valid. Client credential flows must have a scope value with "
                    "/.default suffixed to the resource identifier (application ID URI).") % form.get("scope"))
        else:
            user = self._user(tenant, form)
            if not app.delegated[kind]:
                raise AadError(400, "invalid_grant", 65001, (
                    "The user or administrator has not consented to use the application with ID '%s' named '%s'. Send an "
                    "interactive authorization request for this user and resource.") % (app.client_id, app.display_name))
        return self._issue(req, tenant, app, kind, resource, acr, user, v2)

    def _resolve_tenant(self, name, grant_type, username):
        lowered = name.lower()
        if lowered in ("common", "consumers", "organizations"):
            if grant_type == "password" and lowered == "organizations" and username and "@" in username:
                return self._tenant(username.rsplit("@", 1)[1])
            if grant_type == "password":
                raise AadError(400, "invalid_request", 9001023, (
                    "The grant type isn't supported over the /common or /consumers endpoints. Please use the "
                    "/organizations or tenant-specific endpoint."))
            raise AadError(400, "invalid_request", 50059, (
                "No tenant-identifying information found in either the request or implied by any provided credentials."))
        return self._tenant(name)

    def _resource(self, form, tenant, v2, grant_type):
        """(aud, kind, [(resource, permission)]) from ``resource=`` (v1) or ``scope=`` (v2)."""
        if not v2:
            resource = form.get("resource")
            if not resource:
                raise missing("resource")
            kind = dirmod.resource_kind(resource)
            if kind is None or resource.rstrip("/").endswith("/.default"):
                raise invalid_resource(resource, tenant.tenant_id)
            return resource, kind, [(resource, None)]
        if "resource" in form:
            raise AadError(400, "invalid_request", 901002, "The 'resource' request parameter is not supported.")
        scope = form.get("scope")
        if not scope:
            raise missing("scope")
        requested = []
        for item in scope.split():
            if item.lower() in OIDC_SCOPES:
                continue
            resource, permission = item.rpartition("/")[::2]
            if not resource:  # a bare permission name means Microsoft Graph, as in Entra
                resource, permission = "https://graph.microsoft.com", item
            requested.append((resource, permission))
        if not requested:
            raise AadError(400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. "
                           "The scope %s is not valid." % scope)
        resources = {pair[0].rstrip("/").lower() for pair in requested}
        if len(resources) > 1:
            raise AadError(400, "invalid_scope", 70011, (
                "The provided value for the input parameter 'scope' is not valid. The scope %s is not valid. "
                "Scopes for more than one resource were requested.") % scope)
        resource = requested[0][0]
        kind = dirmod.resource_kind(resource)
        if kind is None:
            raise invalid_resource(resource, tenant.tenant_id)
        return resource, kind, requested

    def _authenticate_client(self, req, app, tenant, secret, assertion, form):
        """The ``appidacr`` value: "0" public client, "1" secret, "2" certificate."""
        if app.public:
            if secret or assertion:
                raise AadError(401, "invalid_client", 700025,
                               "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
            return "0"
        if assertion:
            self._verify_assertion(req, app, tenant, assertion, form.get("client_assertion_type"))
            return "2"
        if secret:
            if not any(hmac.compare_digest(secret.encode(), s.encode()) for s in app.secrets):
                raise AadError(401, "invalid_client", 7000215, (
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
                    "value, not the client secret ID, for a secret added to app '%s'.") % app.client_id)
            return "1"
        raise AadError(401, "invalid_client", 7000218,
                       "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")

    def _verify_assertion(self, req, app, tenant, assertion, assertion_type):
        if assertion_type != JWT_BEARER:
            raise AadError(400, "invalid_request", 900144 if not assertion_type else 50027,
                           "The request body must contain the following parameter: 'client_assertion_type'."
                           if not assertion_type else "Invalid client_assertion_type '%s'." % assertion_type)
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.InvalidTokenError:
            raise bad_assertion("Client assertion is not a well-formed JWT.") from None
        alg = header.get("alg")
        # Entra documents PS256 with x5t#S256 (certificate-credentials.md) and older docs RS256 with x5t; neither says
        # what it does with both thumbprints or a crossed pair, so the emulator accepts any and logs the form sent.
        req.assertion = {"alg": alg, "thumbprints": sorted(k for k in ("x5t", "x5t#S256") if header.get(k))}
        if alg not in ("RS256", "PS256"):
            raise bad_assertion("Client assertion algorithm '%s' is not supported; use RS256 or PS256." % alg)
        cert = app.certificate_by_thumbprint(header.get("x5t"), header.get("x5t#S256"))
        if cert is None:
            raise bad_assertion((
                "The certificate with identifier used to sign the client assertion is not registered on application. "
                "[Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, "
                "Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]")
                % (header.get("x5t") or header.get("x5t#S256"), app.client_id))
        try:
            claims = jwt.decode(assertion, cert.cert.public_key(), algorithms=[alg],
                                options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                         "verify_iat": False, "verify_iss": False})
        except jwt.InvalidSignatureError:
            raise bad_assertion("Client assertion failed signature validation.") from None
        except jwt.InvalidTokenError as exc:
            raise bad_assertion("Client assertion is invalid: %s." % exc) from None
        iss, sub = claims.get("iss"), claims.get("sub")
        if iss != sub:
            raise AadError(401, "invalid_client", 50048, "Subject mismatches Issuer claim in the client assertion.")
        if (iss or "").lower() != app.client_id.lower():
            raise AadError(401, "invalid_client", 700021,
                           "Client assertion application identifier doesn't match 'client_id' parameter.")
        aud = claims.get("aud")
        allowed = self._assertion_audiences(req, tenant)
        if not isinstance(aud, str) or aud.rstrip("/").lower() not in allowed:
            raise bad_assertion("The audience claim '%s' of the client assertion is not valid for this token endpoint." % aud)
        now = time.time()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, (int, float)) or exp <= now or (isinstance(nbf, (int, float)) and nbf > now + ASSERTION_SKEW):
            raise AadError(401, "invalid_client", 700024, "Client assertion is not within its valid time range. "
                           "Current time: %s, assertion valid from %s, expiry time of assertion %s."
                           % (_stamp(now), _stamp(nbf), _stamp(exp)))

    def _assertion_audiences(self, req, tenant):
        hosts = list(LOGIN_HOSTS) + [self.emu.url]
        host_header = req.header("Host")
        if host_header:
            hosts.append("https://" + host_header)
        allowed = set()
        for host in hosts:
            for name in tenant.names():
                for suffix in ("/oauth2/v2.0/token", "/oauth2/token", "/v2.0"):
                    allowed.add((host.rstrip("/") + "/" + name + suffix).lower())
        return allowed

    def _user(self, tenant, form):
        username, password = form.get("username"), form.get("password")
        if not username:
            raise missing("username")
        if not password:
            raise missing("password")
        user = tenant.users.get(username.lower())
        if user is None:
            raise AadError(400, "invalid_grant", 50034, (
                "The user account %s does not exist in the %s directory. To sign into this application, the account "
                "must be added to the directory.") % (username, tenant.tenant_id))
        if not hmac.compare_digest(password.encode(), user.password.encode()):
            raise AadError(400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
        return user

    def _issue(self, req, tenant, app, kind, resource, acr, user, v2):
        now = int(time.time())
        lifetime = self.emu.config.token_lifetime
        sts = STS.format(tenant.tenant_id)
        claims = {"aud": resource, "iss": sts, "iat": now, "nbf": now, "exp": now + lifetime, "aio": random_claim(),
                  "app_displayname": app.display_name, "appid": app.client_id, "appidacr": acr, "idp": sts,
                  "idtyp": "user" if user else "app"}
        scopes = []
        if user:
            scopes = list(app.delegated[kind])
            claims.update({"amr": ["pwd"], "name": user.display_name, "oid": user.object_id, "scp": " ".join(scopes),
                           "sub": user.object_id, "unique_name": user.username, "upn": user.username})
        else:
            claims.update({"oid": app.object_id, "sub": app.object_id})
            if app.roles[kind]:  # Entra leaves the claim out when no role was granted (mde-api.md 2.1)
                claims["roles"] = list(app.roles[kind])
        claims.update({"tid": tenant.tenant_id, "uti": random_claim(), "ver": "1.0"})
        token = self.emu.signer.issue(claims, nonce=kind == dirmod.GRAPH)  # Graph tokens carry a header nonce
        self.emu.remember_secret(token)
        if v2:
            body = {"token_type": "Bearer"}
            if user:
                body["scope"] = " ".join(resource.rstrip("/") + "/" + s for s in scopes)
            body.update({"expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token})
        else:
            body = {"token_type": "Bearer"}
            if user:
                body["scope"] = " ".join(scopes)
            body.update({"expires_in": str(lifetime), "ext_expires_in": str(lifetime), "expires_on": str(now + lifetime),
                         "not_before": str(now), "resource": resource, "access_token": token})
        return json_response(200, body, headers=[("Cache-Control", "no-store, no-cache"), ("Pragma", "no-cache"),
                                                 ("x-ms-request-id", new_guid())])

    # -- metadata ---------------------------------------------------------------------------------------------------
    def jwks(self, tenant_name, v2):
        if tenant_name.lower() in ("common", "organizations", "consumers"):
            issuer_tid = "{tenantid}"
        else:
            issuer_tid = self._tenant(tenant_name).tenant_id
        issuer = "https://login.microsoftonline.com/%s/v2.0" % issuer_tid if v2 else None
        return json_response(200, {"keys": [self.emu.signer.jwk(issuer)]})

    def openid(self, tenant_name, v2):
        common = tenant_name.lower() in ("common", "organizations", "consumers")
        tid = "{tenantid}" if common else self._tenant(tenant_name).tenant_id
        path_tid = tenant_name if common else tid
        base = self.emu.url
        if v2:
            doc = {"token_endpoint": "%s/%s/oauth2/v2.0/token" % (base, path_tid),
                   "jwks_uri": "%s/%s/discovery/v2.0/keys" % (base, path_tid),
                   "issuer": "https://login.microsoftonline.com/%s/v2.0" % tid,
                   "authorization_endpoint": "%s/%s/oauth2/v2.0/authorize" % (base, path_tid)}
        else:
            doc = {"token_endpoint": "%s/%s/oauth2/token" % (base, path_tid),
                   "jwks_uri": "%s/common/discovery/keys" % base,
                   "issuer": STS.format(tid),
                   "authorization_endpoint": "%s/%s/oauth2/authorize" % (base, path_tid)}
        doc.update({
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "request_uri_parameter_supported": False,
            "tenant_region_scope": "NA",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        })
        return json_response(200, doc)

    def user_realm(self, username):
        domain = urllib.parse.unquote(username).rpartition("@")[2]
        tenant = self.emu.directory.find(domain)
        if tenant is None:
            return json_response(200, {"ver": "1.0", "account_type": "Unknown", "cloud_instance_name": "microsoftonline.com"})
        return json_response(200, {"ver": "1.0", "account_type": "Managed", "domain_name": domain,
                                   "cloud_instance_name": "microsoftonline.com", "cloud_audience_urn": "urn:federation:MicrosoftOnline"})

    def instance_discovery(self, req):
        host = urllib.parse.urlsplit(self.emu.url).netloc
        return json_response(200, {
            "tenant_discovery_endpoint": "%s/%s/v2.0/.well-known/openid-configuration" % (self.emu.url, dirmod.TENANT_ID),
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]})


class _Throttle(AadError):
    def __init__(self, throttled):
        super().__init__(429, "temporarily_unavailable", 90055, (
            "TenantThrottlingThreshold - The number of requests sent to this tenant has exceeded the limit. "
            + throttled.message))
        self.retry_after = throttled.retry_after

    def response(self, headers=None):
        return super().response(headers=[("Retry-After", str(self.retry_after))])


def _basic_auth(header):
    if not header or not header.lower().startswith("basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    user, secret = decoded.partition(":")[::2]
    # RFC 6749 2.3.1: both halves are form-urlencoded before base64.
    return urllib.parse.unquote_plus(user) or None, urllib.parse.unquote_plus(secret) or None


def _stamp(value):
    if not isinstance(value, (int, float)):
        return "(none)"
    return datetime.datetime.fromtimestamp(value, datetime.timezone.utc).strftime("%m/%d/%Y %H:%M:%S")
