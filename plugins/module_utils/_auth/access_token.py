# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""A token acquired earlier (by atp_token or another tool): used as given, never minted."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.defender.atp.plugins.module_utils._auth.method import AuthMethod
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError


class AccessTokenAuth(AuthMethod):
    NAME = 'access_token'
    REQUIRED = ('access_token',)
    DISTINCTIVE = ('access_token',)
    CAN_ACQUIRE = False

    def validate(self):
        token = self.params['access_token'].strip()
        if token.lower().startswith('bearer '):
            token = token[len('bearer '):].strip()
        if token.count('.') != 2:
            raise AtpOptionError('access_token is not a JWT (three dot-separated parts); pass the raw access token, '
                                 'for example the access_token returned by defender.atp.atp_token.')
        self.params['access_token'] = token

    def token_form(self, scope, token_url):  # pragma: no cover - never called
        raise NotImplementedError('an access_token cannot mint new tokens')

    def secret_material(self):  # pragma: no cover - never cached
        return self.digest(self.params['access_token'])
