# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""defender.atp.machines never repeats a secret that a server echoes in an error (issue 19).

A reflecting proxy in front of the token endpoint or the API puts the request - the token form with client_secret,
the Authorization header - into its error body; the plugin's error quotes that body.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import traceback

import pytest

from ansible.errors import AnsibleError
from urllib.parse import urlencode


def everything_shown(error):
    """The error as Ansible can show it: its message and every chained exception (2.19 shows the whole chain)."""
    return str(error) + '\n' + ''.join(traceback.format_exception(type(error), error, error.__traceback__))


def test_a_token_error_that_echoes_the_secret_is_redacted(inv, fresh_emulator):
    """Failed before: the AADSTS description, secret included, was the AnsibleError's message."""
    secret = inv.conn['client_secret']
    fresh_emulator.add_fault(path='oauth2', status=401, body={
        'error': 'invalid_client', 'error_codes': [7000215],
        'error_description': 'AADSTS7000215: Invalid client secret provided. Request was: %s'
                             % urlencode({'grant_type': 'client_credentials', 'client_secret': secret})})
    with pytest.raises(AnsibleError) as error:
        inv.parse()
    shown = everything_shown(error.value)
    assert 'AADSTS7000215' in shown
    assert secret not in shown
    # Through InventoryManager (ansible-playbook, ansible-inventory): the warning it prints is the same message.
    assert not inv.manager(inv.write()).hosts


def test_an_api_error_that_echoes_the_given_token_is_redacted(inv, fresh_emulator):
    token = fresh_emulator.mint_token(roles=['Machine.Read.All'])
    conn = dict((k, v) for k, v in inv.conn.items() if k not in ('client_id', 'client_secret'))
    fresh_emulator.add_fault(path='^/api/machines$', status=400, body={
        'error': {'code': 'BadRequest', 'message': 'Header Authorization: Bearer %s is not allowed here' % token}})
    with pytest.raises(AnsibleError) as error:
        inv.parse(inv.write(connection=False, access_token=token, **conn))
    shown = everything_shown(error.value)
    assert 'HTTP 400' in shown
    assert token not in shown


def test_the_connection_redacts_the_token_it_obtained(inv, fresh_emulator):
    """The token the plugin got from the token endpoint (not an option) is known to its redactor too."""
    from ansible_collections.defender.atp.plugins.module_utils._connection import resolve_connection_options
    from ansible_collections.defender.atp.plugins.plugin_utils._connection import PluginConnection
    connection = PluginConnection(resolve_connection_options(inv.conn), 'defender.atp.machines')
    try:
        connection.authenticate()
        token = connection.authenticator.token('defender')
        assert token not in connection.redact('the server said %s' % token)
        assert inv.conn['client_secret'] not in connection.redact('echo %s' % inv.conn['client_secret'])
    finally:
        connection.close()
