# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""User context: the resource-owner password grant of a native (public) app.

This is the flow of Microsoft's "Use Defender ATP APIs" (native app) page: the token carries the
user's delegated permissions in ``scp``. It cannot satisfy MFA; prefer an application for automation.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.module_utils._auth.method import AuthMethod
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError


class PasswordAuth(AuthMethod):
    NAME = 'password'
    REQUIRED = ('tenant_id', 'client_id', 'username', 'password')
    DISTINCTIVE = ('username', 'password')

    def validate(self):
        tenant = (self.params.get('tenant_id') or '').lower()
        if tenant in ('common', 'consumers'):
            raise AtpOptionError('The password grant cannot use the %r tenant: set tenant_id to your tenant GUID or domain.' % tenant)
        password = self.params.get('password') or ''
        if password != password.strip():
            raise AtpOptionError('password has leading or trailing whitespace, which Entra ID does not support for this grant.')

    def token_form(self, scope, token_url):
        form = {
            'grant_type': 'password',
            'client_id': self.params['client_id'],
            'username': self.params['username'],
            'password': self.params['password'],
            'scope': scope,
        }
        # A confidential client may also authenticate itself; a public (native) client must not.
        if self.params.get('client_secret'):
            form['client_secret'] = self.params['client_secret']
        return form

    def secret_material(self):
        return self.digest(self.params['username'], self.params['password'], self.params.get('client_secret'))
