# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""The contract every authentication method follows (one method a file, as in community.hashi_vault).

A method names the options it needs, validates them before any network call, and builds the form
fields of its token request. The Authenticator does the rest (endpoint, caching, refresh).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib


class AuthMethod(object):
    NAME = None
    # Options that must all be set for this method.
    REQUIRED = ()
    # Options whose presence signals that the user meant this method.
    DISTINCTIVE = ()
    # Whether the method can mint new tokens (an access_token can't).
    CAN_ACQUIRE = True

    def __init__(self, params):
        self.params = params

    @classmethod
    def missing(cls, params):
        return [name for name in cls.REQUIRED if not params.get(name)]

    @classmethod
    def complete(cls, params):
        return not cls.missing(params)

    @classmethod
    def signalled(cls, params):
        return any(params.get(name) for name in cls.DISTINCTIVE)

    def validate(self):
        """Check the options locally; raise AtpOptionError. Runs before any request."""

    def token_form(self, scope, token_url):
        """Form fields of the token request for ``scope`` (``<audience>/.default``)."""
        raise NotImplementedError

    def basic_auth(self):
        return None

    def secret_material(self):
        """Bytes only the credential holder knows: with the per-user cache key, they encrypt the token cache entry."""
        raise NotImplementedError

    @staticmethod
    def digest(*parts):
        sha = hashlib.sha256()
        for part in parts:
            if part is None:
                part = b''
            if not isinstance(part, bytes):
                part = part.encode('utf-8')
            sha.update(hashlib.sha256(part).digest())
        return sha.digest()
