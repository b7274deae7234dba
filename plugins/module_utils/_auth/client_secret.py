# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""Client credentials with an application secret (OAuth 2.0 client_credentials grant)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.module_utils._auth.method import AuthMethod


class ClientSecretAuth(AuthMethod):
    NAME = 'client_secret'
    REQUIRED = ('tenant_id', 'client_id', 'client_secret')
    DISTINCTIVE = ('client_secret',)

    def token_form(self, scope, token_url):
        return {
            'grant_type': 'client_credentials',
            'client_id': self.params['client_id'],
            'client_secret': self.params['client_secret'],
            'scope': scope,
        }

    def secret_material(self):
        return self.digest(self.params['client_secret'])
