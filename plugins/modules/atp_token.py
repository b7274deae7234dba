#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_token
short_description: Acquire or inspect a Microsoft Defender for Endpoint access token and check its permissions
version_added: 0.1.0
description:
  - Acquires an Entra ID access token for the Defender for Endpoint API or Microsoft Graph (client secret,
    certificate, or username and password), or inspects a given O(access_token).
  - Decodes its claims and checks them - audience, tenant, expiry, optionally the signature, and
    O(required_permissions). Application permissions come from the C(roles) claim, delegated ones from C(scp);
    a ReadWrite permission covers its Read.
  - Fails before anything else runs, naming each missing permission, so a runbook never does half its work.
  - Register the result with C(no_log) and pass RV(access_token) to later tasks through O(access_token), so a playbook
    costs one token request per credential and API.
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - No Defender permission is needed to get a token; O(required_permissions) names the ones to check.
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.attributes
  - defender.atp.attributes.action_group
  - defender.atp.attributes.check_mode_read_only
options:
  api:
    description:
      - The API the token is for, which picks its audience.
      - V(defender) is the Defender for Endpoint API (C(https://api.securitycenter.microsoft.com) in the commercial cloud).
        A token for C(https://api.security.microsoft.com) is refused - it is the Microsoft Defender XDR resource,
        whose tokens the Defender for Endpoint API answers with 403 - with a message naming the resource to ask for.
      - In the government clouds Microsoft documents the API hosts but not the token audiences. The module asks for
        C(https://api-gcc.securitycenter.microsoft.us) (GCC) or C(https://api-gov.securitycenter.microsoft.us)
        (GCC High, DoD) and also accepts tokens for C(https://securitycenter.onmicrosoft.us/windowsatpservice), the
        other form real clients use. These values are unconfirmed by Microsoft; if your tenant needs another one,
        set O(api_audience).
      - V(graph) is Microsoft Graph (C(https://graph.microsoft.com)), used by advanced hunting through
        M(defender.atp.atp_query).
    type: str
    default: defender
    choices: [defender, graph]
  required_permissions:
    description:
      - Permissions the token must carry, for example V(Machine.Isolate) or V(Alert.Read.All).
      - Application permission names are also satisfied by their delegated equivalents in user tokens (V(Alert.Read.All)
        by C(Alert.Read)), and a ReadWrite permission satisfies its Read.
      - An empty entry, or one with spaces or commas inside (two names run together), is an error before any request.
    type: list
    elements: str
    default: []
  fail_on_missing:
    description:
      - Fail when a permission of O(required_permissions) is missing.
      - Set to V(false) to only report them in RV(missing_permissions), for example to combine the checks of several tokens.
    type: bool
    default: true
  verify_signature:
    description:
      - Also verify the token's signature against the signing keys the authority publishes
        (C(<login_url>/<tenant>/discovery/v2.0/keys)). The API always verifies it; this catches a forged or foreign token early.
      - Only for Defender API tokens. Microsoft Graph access tokens carry a C(nonce) in their header and a signature that
        only Microsoft Graph can verify (Microsoft documents that they cannot be validated by other parties), so
        V(true) with O(api=graph) is an error before any request, and a given token with a C(nonce) header is refused
        with that explanation rather than reported as forged.
    type: bool
    default: false
notes:
  - Accepted Defender audiences - C(https://api.securitycenter.microsoft.com), C(https://api.securitycenter.windows.com),
    C(https://securitycenter.onmicrosoft.com/windowsatpservice), the WindowsDefenderATP app id
    C(fc780465-2017-40d4-a0c5-307022471b92), the government forms above, and O(api_audience) when set.
  - With O(token_cache) enabled, a cached token that lacks a required permission is replaced by a fresh one once before the
    check fails, because new permissions only appear in newly issued tokens.
  - "With O(auth_method=access_token), the module inspects the given O(access_token) and nothing else: a token for
    another resource, another tenant, or an expired one fails the task saying why, even when credentials are also set
    (in C(module_defaults), say), and no token is requested or read from the cache. With O(auth_method=auto), a given
    token that does not fit is replaced by a token of the credentials when they are set: RV(token_source) says
    V(cache) or V(endpoint) instead of V(given), and a warning says the given token was replaced and why."
seealso:
  - module: defender.atp.atp_machine_isolate
  - module: defender.atp.atp_alert_info
  - module: defender.atp.atp_query
  - name: Create an app to access Microsoft Defender for Endpoint without a user
    description: Microsoft's guide to the app registration and its API permissions.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/exposed-apis-create-app-webapp
'''

EXAMPLES = r'''
- name: Get a Defender token that can isolate machines (fails naming what is missing)
  defender.atp.atp_token:
    tenant_id: "{{ tenant_id }}"
    client_id: "{{ client_id }}"
    client_secret: "{{ client_secret }}"
    required_permissions:
      - Machine.Read.All
      - Machine.Isolate
  register: defender_token
  no_log: true

- name: Reuse it in later tasks, without another login
  defender.atp.atp_machine_isolate:
    access_token: "{{ defender_token.access_token }}"
    machines: [ws-042.contoso.com]
    comment: "IR-1234: contain"

- name: A Graph token for advanced hunting, with a certificate
  defender.atp.atp_token:
    api: graph
    tenant_id: contoso.onmicrosoft.com
    client_id: "{{ client_id }}"
    certificate_path: /etc/defender/app.pem
    certificate_password: "{{ vault_cert_password }}"
    required_permissions: [ThreatHunting.Read.All]
  register: graph_token
  no_log: true

- name: Inspect a token from elsewhere without failing, and show what it grants
  defender.atp.atp_token:
    access_token: "{{ token_from_pipeline }}"
    required_permissions: [Machine.Isolate]
    fail_on_missing: false
    verify_signature: true
    tenant_id: "{{ tenant_id }}"
  register: inspected
  no_log: true

- name: Show the permissions (safe to print)
  ansible.builtin.debug:
    msg: "{{ inspected.permission_type }} token with {{ inspected.permissions | join(', ') }}; missing {{ inspected.missing_permissions }}"

- name: Set the connection once for every module of the collection
  module_defaults:
    group/defender.atp.atp:
      tenant_id: "{{ tenant_id }}"
      client_id: "{{ client_id }}"
      client_secret: "{{ client_secret }}"
  block:
    - name: Check the token
      defender.atp.atp_token:
        required_permissions: [Alert.Read.All]
      no_log: true
'''

RETURN = r'''
access_token:
  description:
    - The access token. Register the result with C(no_log) and pass this to other modules' O(access_token).
  returned: success
  type: str
token_type:
  description: Token type, for the C(Authorization) header.
  returned: success
  type: str
  sample: Bearer
expires_on:
  description: When the token expires, in seconds since the epoch (UTC).
  returned: success
  type: int
  sample: 1767225600
claims:
  description: The token's decoded claims that describe it (audience, issuer, tenant, app or user, permissions, times).
  returned: success
  type: dict
  sample: {"aud": "https://api.securitycenter.microsoft.com", "tid": "6b1e9c5d-2f1f-4a8e-9a57-1f0c0d6f2a11",
           "appid": "3a1f5c2e-8a7b-4a0d-9a57-2f1e0c6d7b11", "roles": ["Machine.Isolate", "Machine.Read.All"],
           "exp": 1767225600, "ver": "1.0"}
permissions:
  description: Permissions the token grants (C(roles) of an application token, C(scp) of a user token).
  returned: success
  type: list
  elements: str
  sample: ["Machine.Isolate", "Machine.Read.All"]
permission_type:
  description: V(application) for app-only tokens, V(delegated) for user tokens.
  returned: success
  type: str
  sample: application
missing_permissions:
  description: Permissions of O(required_permissions) the token does not grant (empty when all are present).
  returned: always
  type: list
  elements: str
  sample: []
api:
  description: The API the token is for.
  returned: success
  type: str
  sample: defender
audience:
  description: The audience the token was requested for.
  returned: success
  type: str
  sample: https://api.securitycenter.microsoft.com
token_source:
  description:
    - Where the token came from - V(endpoint) (just issued), V(cache) (the token cache) or V(given) (O(access_token)).
    - V(endpoint) or V(cache) while O(access_token) was given means the given token was replaced (O(auth_method=auto)
      with credentials), and a warning says why.
  returned: success
  type: str
  sample: endpoint
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

from ansible_collections.defender.atp.plugins.module_utils._auth import claims as claims_util
from ansible_collections.defender.atp.plugins.module_utils._module import AtpModule
from ansible_collections.defender.atp.plugins.module_utils._auth.clouds import accepted_audiences
from ansible_collections.defender.atp.plugins.module_utils._errors import (
    AtpAuthError, AtpError, AtpOptionError, AtpPermissionError)


def fetch_jwks(module):
    """The authority's signing keys (tenant keys first, then the common set)."""
    login = module.settings.endpoints['login_url']
    tenant = module.params.get('tenant_id') or 'common'
    keys = []
    failures = []
    for path in ('%s/%s/discovery/v2.0/keys' % (login, tenant), '%s/common/discovery/keys' % login):
        try:
            body = module.client.get(path, auth=False, what='Fetching signing keys from %s' % path)
        except AtpError as error:
            # The common key set may still answer; say what went wrong only if neither does.
            failures.append(error.message)
            continue
        keys.extend((body or {}).get('keys') or [])
        if keys:
            break
    if not keys:
        raise AtpAuthError('signature: the signing keys of %s could not be fetched to verify the token%s.'
                           % (login, ' (%s)' % '; '.join(failures) if failures else ''))
    return {'keys': keys}


def inspect(module, info, api):
    required = module.params['required_permissions'] or []
    claims = info['claims']
    problems = claims_util.check_claims(claims, expected_audiences=accepted_audiences(api, module.settings.audience(api)),
                                        tenant_id=module.params.get('tenant_id'))
    if problems:
        raise AtpAuthError('The token was refused: %s.' % '; '.join(problems))
    if module.params['verify_signature']:
        claims_util.verify_signature(info['access_token'], fetch_jwks(module))
    return claims_util.missing_permissions(claims, required)


def check_required_permissions(names):
    """Permission names look like Machine.Isolate: no empty entry, no spaces or commas inside one."""
    cleaned = []
    for position, name in enumerate(names or []):
        text = (name or '').strip()
        if not text or any(char.isspace() or char in ',;' for char in text):
            raise AtpOptionError('required_permissions item %d (%r) is not a permission name; give names such as '
                                 'Machine.Isolate or Alert.Read.All, one per list item.' % (position + 1, name))
        cleaned.append(text)
    return cleaned


# Microsoft Graph access tokens carry a nonce in their header and are signed over a transformed header: Microsoft
# says they cannot be validated by anyone but Graph (entra-docs access-tokens.md; AzureAD identitymodel-extensions
# #609; mde-api.md "Facts added on review"). Checking one would call a genuine token forged, so the combination is
# refused before any request, rather than skipped with a warning: a check the user asked for never silently passes.
GRAPH_SIGNATURE_MESSAGE = ('verify_signature cannot be used with api=graph: Microsoft Graph access tokens have a nonce in '
                           'their header and a signature that only Microsoft Graph can verify, so a genuine token would fail '
                           'the check. Remove verify_signature for Graph tokens (Graph verifies them on every request), and '
                           'use it with api=defender.')


def run_module(module):
    api = module.params['api']
    if module.params['verify_signature'] and api == 'graph':
        raise AtpOptionError(GRAPH_SIGNATURE_MESSAGE)
    module.params['required_permissions'] = check_required_permissions(module.params['required_permissions'])
    module.prepare()
    authenticator = module.authenticator
    if module.params.get('auth_method') == 'access_token':
        # "This token": inspect the one given, whatever credentials module_defaults also hold. A token that does not
        # fit (another audience, expired) is reported, never swapped for a token of those credentials.
        info = authenticator.given_token_info(api)
    else:
        # With auto, a given token that does not fit is replaced when credentials are also given: the Authenticator
        # warns, naming why, and token_source says where the replacement came from.
        info = authenticator.token_info(api)
    missing = inspect(module, info, api)
    if missing and info['source'] == 'cache':
        # New permissions only show in newly issued tokens: ask once more before failing.
        info = authenticator.token_info(api, fresh=True)
        missing = inspect(module, info, api)
    claims = info['claims']
    result = dict(
        changed=False,
        access_token=info['access_token'],
        token_type=info['token_type'],
        expires_on=info['expires_on'],
        claims=claims_util.summarize(claims),
        permissions=claims_util.granted_permissions(claims),
        permission_type=claims_util.permission_type(claims),
        missing_permissions=missing,
        api=api,
        audience=module.settings.audience(api),
        token_source=info['source'],
    )
    if missing and module.params['fail_on_missing']:
        error = AtpPermissionError(
            'The %s token (%s permissions of %s) is missing %s: %s. Grant %s in the app registration (API permissions), give '
            'admin consent, then run again.' % (
                api, result['permission_type'], claims.get('app_displayname') or claims.get('appid') or claims.get('upn') or 'the caller',
                'this permission' if len(missing) == 1 else 'these permissions', ', '.join(missing),
                'it' if len(missing) == 1 else 'them'),
            missing=missing)
        result.pop('access_token')
        module.fail_json(msg=error.message, **dict((k, v) for k, v in result.items() if k != 'changed'))
    module.exit_json(**result)


def main():
    module = AtpModule(
        argument_spec=dict(
            api=dict(type='str', default='defender', choices=['defender', 'graph']),
            required_permissions=dict(type='list', elements='str', default=[]),
            fail_on_missing=dict(type='bool', default=True),
            verify_signature=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
