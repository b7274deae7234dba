# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    """Connection and authentication options shared by every defender.atp module (documented once)."""

    DOCUMENTATION = r'''
options:
  tenant_id:
    description:
      - Entra ID tenant (directory) ID, or one of its verified domains such as V(contoso.onmicrosoft.com).
      - Required for every method that acquires a token.
      - If not set, the environment variable E(AZURE_TENANT_ID) is used.
    type: str
  client_id:
    description:
      - Application (client) ID of the app registration.
      - If not set, the environment variable E(AZURE_CLIENT_ID) is used.
    type: str
  client_secret:
    description:
      - Client secret of the app registration (its B(Value), not its Secret ID).
      - If not set, the environment variable E(AZURE_CLIENT_SECRET) is used.
    type: str
  certificate_path:
    description:
      - Path to one PEM file holding the app's certificate and its private key. The key signs a client
        assertion, so no secret leaves the host. The assertion is PS256 with the certificate's SHA-256 thumbprint
        (C(x5t#S256)), the form Entra ID documents and MSAL sends; set the environment variable
        E(DEFENDER_ATP_CERTIFICATE_ALGORITHM) to V(RS256) for the older form (RS256 with the SHA-1 C(x5t)). The two
        forms are never mixed.
      - The certificate's public part must be uploaded to the app registration (Certificates & secrets).
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PATH) is used.
    type: path
  certificate_password:
    description:
      - Password of the private key in O(certificate_path), when it is encrypted.
      - If not set, the environment variable E(AZURE_CLIENT_CERTIFICATE_PASSWORD) is used.
    type: str
  username:
    description:
      - User principal name, for the user context (delegated permissions, C(scp) claim) with the password grant of
        a public (native) app, as in Microsoft's "Use Defender ATP APIs" page.
      - The user also needs a Defender RBAC role; results are limited to the user's device groups. Multi-factor
        authentication cannot be satisfied by this grant, so prefer an application for automation.
      - If not set, the environment variable E(AZURE_USERNAME) is used.
    type: str
  password:
    description:
      - Password of O(username).
      - If not set, the environment variable E(AZURE_PASSWORD) is used.
    type: str
  access_token:
    description:
      - An access token acquired earlier, for example the RV(defender.atp.atp_token#module:access_token) of
        M(defender.atp.atp_token). Its audience, tenant and expiry are checked before it is used.
      - When credentials are also given, an expired or rejected token is replaced by a fresh one, with a warning that
        says why. M(defender.atp.atp_token) with O(auth_method=access_token) never replaces it - it inspects the given
        token and nothing else.
      - If not set, the environment variable E(DEFENDER_ATP_ACCESS_TOKEN) is used.
    type: str
  auth_method:
    description:
      - How to authenticate.
      - V(auto) picks the method from the options given (an O(access_token) first, else the one complete set of
        credentials) and reports it in the result of a module (C(auth_method)). Incomplete or ambiguous options are an
        error that names what is missing.
    type: str
    default: auto
    choices: [auto, client_secret, certificate, password, access_token]
  cloud:
    description:
      - Microsoft cloud. Picks the login host, the Defender API host and the token audiences together.
      - V(commercial) logs in at C(login.microsoftonline.com) and calls C(api.security.microsoft.com) with tokens for
        C(https://api.securitycenter.microsoft.com).
      - V(gcc) calls C(api-gcc.securitycenter.microsoft.us); V(gcc_high) and V(dod) log in at C(login.microsoftonline.us)
        and call C(api-gov.securitycenter.microsoft.us); Graph is C(graph.microsoft.us) (GCC High) or
        C(dod-graph.microsoft.us) (DoD).
      - If not set, the environment variable E(DEFENDER_ATP_CLOUD) is used.
    type: str
    default: commercial
    choices: [commercial, dod, gcc, gcc_high]
  region:
    description:
      - Geo-local Defender API host of the commercial cloud (for example V(eu) calls C(eu.api.security.microsoft.com)),
        for lower latency. The token audience does not change.
      - If not set, the environment variable E(DEFENDER_ATP_REGION) is used.
    type: str
    choices: [us, eu, uk, au, swa, ina, aea]
  api_url:
    description:
      - Base URL of the Defender API, overriding O(cloud) and O(region) (private endpoints, proxies, test servers).
        A trailing C(/api) is removed.
      - Must be an C(https) URL; C(http) is refused (the secret or token would travel in clear), except for a loopback
        host (V(localhost), C(127.0.0.0/8), V(::1)), which gets a warning.
      - If not set, the environment variable E(DEFENDER_ATP_API_URL) is used.
    type: str
  login_url:
    description:
      - Base URL of the Entra ID authority, overriding O(cloud), for example V(https://login.microsoftonline.com).
      - Must be an C(https) URL; C(http) is refused (the secret or token would travel in clear), except for a loopback
        host (V(localhost), C(127.0.0.0/8), V(::1)), which gets a warning.
      - If not set, the environment variables E(DEFENDER_ATP_LOGIN_URL) and E(AZURE_AUTHORITY_HOST) are used.
    type: str
  graph_url:
    description:
      - Base URL of Microsoft Graph, overriding O(cloud). A trailing C(/v1.0) is removed.
      - Must be an C(https) URL; C(http) is refused (the secret or token would travel in clear), except for a loopback
        host (V(localhost), C(127.0.0.0/8), V(::1)), which gets a warning.
      - If not set, the environment variable E(DEFENDER_ATP_GRAPH_URL) is used.
    type: str
  api_audience:
    description:
      - Token audience (resource) for the Defender API, overriding the one O(cloud) picks. Rarely needed, because the API
        answers tokens for another audience with 403.
      - The escape hatch for the government clouds, whose audiences Microsoft does not document (the defaults of
        O(cloud) are unconfirmed; V(https://securitycenter.onmicrosoft.us/windowsatpservice) is the other form real
        clients use). V(https://api.security.microsoft.com) is refused - it is the Defender XDR resource, not this API.
      - If not set, the environment variable E(DEFENDER_ATP_API_AUDIENCE) is used.
    type: str
  graph_audience:
    description:
      - Token audience for Microsoft Graph, overriding the one O(cloud) picks.
      - If not set, the environment variable E(DEFENDER_ATP_GRAPH_AUDIENCE) is used.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificates of the login, API and Graph servers. Turning this off is reported as a warning.
      - If not set, the environment variable E(DEFENDER_ATP_VALIDATE_CERTS) is used.
    type: bool
    default: true
  ca_path:
    description:
      - PEM bundle of CA certificates to verify the servers against (a TLS-inspecting proxy, a private endpoint).
      - Without it, the system store is used, or the bundle named by E(REQUESTS_CA_BUNDLE).
      - If not set, the environment variable E(DEFENDER_ATP_CA_PATH) is used.
    type: path
  timeout:
    description:
      - Seconds to wait for one HTTP answer.
      - If not set, the environment variable E(DEFENDER_ATP_TIMEOUT) is used.
    type: float
    default: 60
  max_retries:
    description:
      - How many times a request is retried after HTTP 429, 500, 502, 503, 504 or a connection error.
      - Waits follow the C(Retry-After) header when the server sends one, else a jittered exponential backoff.
      - A write that may have reached the server is not re-sent blindly; the module re-reads state first.
      - If not set, the environment variable E(DEFENDER_ATP_MAX_RETRIES) is used.
    type: int
    default: 5
  max_retry_wait:
    description:
      - Total seconds one request may spend waiting between retries. A C(Retry-After) longer than what is left
        ends the retries with the API's own message.
      - If not set, the environment variable E(DEFENDER_ATP_MAX_RETRY_WAIT) is used.
    type: float
    default: 300
  token_cache:
    description:
      - Reuse tokens across tasks, so a playbook costs one token request per credential and audience.
      - Tokens are cached on the host that runs the module, under C(~/.cache/defender.atp/tokens) (or
        E(DEFENDER_ATP_TOKEN_CACHE_DIR)), in a directory private to the user (0700). A random per-user key
        (C(cache.key), 0600) names and encrypts the entries. A file name is a keyed hash of the tenant, client, user,
        auth method, login URL, API base and audience, never of the credential, and an entry opens only with that key
        and the credential it was obtained with. A cache directory or key file that is a symlink, owned by another
        user or open to group or others is not used (warning); see
        R(the security guide,ansible_collections.defender.atp.docsite.guide_security).
      - Set to V(false) to always request a fresh token, for example right after granting new permissions.
      - If not set, the environment variable E(DEFENDER_ATP_TOKEN_CACHE) is used.
    type: bool
    default: true
notes:
  - All connection options can be set once for every module of the collection with
    C(module_defaults) and the action group C(group/defender.atp.atp).
  - Secrets (O(client_secret), O(certificate_password), O(password), O(access_token)) are never logged or returned.
'''

    # The canonical text of the return keys every module shares (AtpModule adds them to every result). ansible-core
    # merges RETURN fragments only from 2.20 on, so each module keeps a copy in its own RETURN;
    # tests/unit/plugins/doc_fragments/test_shared_docs.py keeps every copy equal to this text.
    RETURN = r'''
auth_method:
  description: The authentication method used (the choice of O(auth_method=auto)).
  returned: when the options were valid
  type: str
  sample: client_secret
http_stats:
  description: Requests this task sent - C(requests) (all, token requests and retries included), C(token_requests),
    C(retries) (after a 429, a 5xx or a connection error), C(throttled) (retries after a 429), C(waited_seconds).
  returned: when a request was attempted
  type: dict
  sample: {"requests": 3, "token_requests": 1, "retries": 0, "throttled": 0, "waited_seconds": 0.0}
'''

    # Added to DOCUMENTATION by controller-side plugins (the defender.atp.machines inventory plugin), which extend
    # both: defender.atp.connection documents the options once; plugin_utils/_connection.py reads them with the
    # modules' environment fallbacks.
    PLUGINS = r'''
options: {}
notes:
  - The connection options read the same environment variables as the modules of the collection, with the same
    precedence (a value in the plugin's file first, then the environment variable, then the default), so one AWX
    credential (see the collection's AWX guide) serves both the inventory source and the job templates.
  - An environment variable set to an empty string counts as unset.
  - >-
    Connection options in the file may be templates, for example
    client_secret: "{{ lookup('ansible.builtin.env', 'MY_SECRET') }}". Values from environment variables are never
    templated.
  - Secrets (O(client_secret), O(certificate_password), O(password), O(access_token)) are never logged, put into a
    cache key or set as host variables.
'''
