# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Internal to defender.atp, not a public API: other collections must not import it; it may change in any release.
"""``AtpModule``: an AnsibleModule wrapper (in the spirit of amazon.aws' AnsibleAWSModule).

It merges the connection options into the module's spec, checks the Python dependencies, builds
the authenticated HTTP client lazily, and turns every collection error into one ``fail_json``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.defender.atp.plugins.module_utils._connection import ApiConnection
from ansible_collections.defender.atp.plugins.module_utils._auth.claims import HAS_JWT, JWT_IMPORT_ERROR
from ansible_collections.defender.atp.plugins.module_utils._connection import connection_argspec
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpError
from ansible_collections.defender.atp.plugins.module_utils._http.client import HAS_REQUESTS, REQUESTS_IMPORT_ERROR


class AtpModule(object):

    def __init__(self, argument_spec=None, supports_check_mode=True, **kwargs):
        self.module = AnsibleModule(argument_spec=connection_argspec(**(argument_spec or {})),
                                    supports_check_mode=supports_check_mode, **kwargs)
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib('requests'), exception=str(REQUESTS_IMPORT_ERROR))
        if not HAS_JWT:
            self.module.fail_json(msg=missing_required_lib('PyJWT (pyjwt[crypto])'), exception=str(JWT_IMPORT_ERROR))
        self.params = self.module.params
        # The same connection setup as the controller-side plugins (module_utils/_connection.py).
        self.connection = ApiConnection(self.params, warn=self.warn)

    # -- pass-throughs --------------------------------------------------------------------

    @property
    def check_mode(self):
        return self.module.check_mode

    @property
    def diff_mode(self):
        return self.module._diff

    def warn(self, message):
        self.module.warn(message)

    # -- connection -----------------------------------------------------------------------

    @property
    def settings(self):
        return self.connection.settings

    @property
    def authenticator(self):
        return self.connection.authenticator

    @property
    def client(self):
        """The authenticated HttpClient (validation of every option happens on first use)."""
        return self.connection.client

    def prepare(self):
        """Validate connection and auth options now, before any request (raises AtpError)."""
        return self.client

    # -- results ----------------------------------------------------------------------------

    def _common_result(self):
        result = {}
        if self.connection.built_authenticator is not None:
            result['auth_method'] = self.connection.built_authenticator.name
        if self.connection.built_client is not None:
            result['http_stats'] = self.connection.built_client.stats.as_dict()
        return result

    def exit_json(self, **result):
        merged = self._common_result()
        merged.update(result)
        self.module.exit_json(**merged)

    def fail_json(self, msg, **result):
        merged = self._common_result()
        merged.update(result)
        self.module.fail_json(msg=msg, **merged)

    def fail_from(self, error, **result):
        """Fail with an AtpError's message and its structured details."""
        details = dict(error.details)
        details.update(result)
        self.fail_json(msg=error.message, **details)

    def run(self, function):
        """Call ``function(self)``; any AtpError becomes a clean failure, anything else a failure with a traceback."""
        try:
            function(self)
        except AtpError as error:
            self.fail_from(error)
        except Exception as error:  # pylint: disable=broad-except
            self.fail_json(msg='Unexpected error: %s: %s' % (type(error).__name__, error), exception=traceback.format_exc())
