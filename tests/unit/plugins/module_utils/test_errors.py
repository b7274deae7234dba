# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``stops_the_rest``: which API errors hold for every object of a task, and which for one object alone."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest
import requests

from ansible_collections.defender.atp.plugins.module_utils._http.messages import describe_http_error
from ansible_collections.defender.atp.plugins.module_utils._errors import (
    AtpApiError, AtpOptionError, AtpTransportError, AtpWriteOutcomeUnknown, stops_the_rest)


def api_error(status, code=None, message=None, what='Isolate of machine m1'):
    """The AtpApiError the HTTP client raises for this answer (HttpClient._error)."""
    response = requests.models.Response()
    response.status_code = status
    body = {'error': {'code': code, 'message': message, 'target': 't'}} if code else ''
    response._content = (json.dumps(body) if body else '').encode('utf-8')
    text, details = describe_http_error(what, response)
    return AtpApiError(text, **details)


@pytest.mark.parametrize('error', [
    api_error(401, 'Unauthorized', 'Unauthorized request - reason of failure: token expired'),
    api_error(401),
    api_error(403, 'Forbidden', 'Missing application roles. API required roles: Machine.Isolate, application roles: '
                                'Machine.Read.All'),
    api_error(403, 'Forbidden', 'Missing delegated scopes. API required roles: Machine.Isolate, delegated scopes: '
                                'Machine.Read'),
], ids=['401', 'bare-401', 'missing-app-role', 'missing-scope'])
def test_a_rejected_token_or_a_missing_permission_stops_the_rest(error):
    assert stops_the_rest(error)


@pytest.mark.parametrize('error', [
    api_error(403, 'Forbidden', 'User u@contoso.com is not allowed to do this: machine m1 is in a device group the user '
                                'has no access to.'),
    api_error(403, 'DisallowedOperation', 'Isolation is not allowed for this device group.'),
    api_error(403, 'DisabledFeature', 'Tenant feature is not enabled.'),
    api_error(403),
    api_error(403, 'Forbidden', 'The requestor isn\'t exposed to the device groups of indicator 1001.'),
    api_error(400, 'InvalidRequestBody', 'Request body is incorrect'),
    api_error(404, 'ResourceNotFound', 'Machine m1 was not found'),
    AtpApiError('HTTP 403 without details', status=403),
    AtpWriteOutcomeUnknown('HTTP 503; the request may or may not have been applied.', status=503),
    AtpTransportError('connection refused'),
    AtpOptionError('bad option'),
    ValueError('not an AtpError'),
], ids=['device-group', 'DisallowedOperation', 'DisabledFeature', 'bare-403', 'indicator-groups', '400', '404',
        'no-details', 'unknown-outcome', 'transport', 'option', 'other'])
def test_a_per_object_error_does_not(error):
    assert not stops_the_rest(error)


# -- the bulk write and its fallback ------------------------------------------------------------------------------------

def test_bulk_or_each_answers_how_the_objects_were_sent():
    from ansible_collections.defender.atp.plugins.module_utils._errors import (
        BULK, EACH, STOPPED, UNKNOWN, bulk_or_each, not_sent)

    def refused(error):
        def send():
            raise error
        return send

    assert bulk_or_each(lambda: 'answer', each=lambda: 'each') == (BULK, 'answer')
    # One bad object may refuse the whole call: one request each.
    assert bulk_or_each(refused(api_error(400, 'BadRequest')), each=lambda: 'each') == (EACH, 'each')
    assert bulk_or_each(refused(api_error(403, 'Forbidden', 'User is not allowed to do this')),
                        each=lambda: 'each') == (EACH, 'each')
    # A refusal for every object: nothing more is sent.
    missing = api_error(403, 'Forbidden', 'Missing application roles. API required roles: Alert.ReadWrite.All.')
    assert bulk_or_each(refused(missing), each=lambda: 'each') == (STOPPED, missing)
    assert bulk_or_each(refused(api_error(401, 'Unauthorized')), each=lambda: 'each')[0] == STOPPED
    # No answer to the write: only with a way to find out what was applied.
    unknown = AtpWriteOutcomeUnknown('no answer')
    assert bulk_or_each(refused(unknown), each=lambda: 'each', unknown=lambda: 'reread') == (UNKNOWN, 'reread')
    with pytest.raises(AtpWriteOutcomeUnknown):
        bulk_or_each(refused(unknown), each=lambda: 'each')
    # Errors outside fall_back_on are the caller's.
    with pytest.raises(AtpTransportError):
        bulk_or_each(refused(AtpTransportError('down')), each=lambda: 'each', fall_back_on=AtpApiError)
    assert not_sent('update', 'HTTP 401') == 'not sent: an earlier update was refused (HTTP 401)'


def test_summary_counts_each_object_once_its_error_first():
    import types
    from ansible_collections.defender.atp.plugins.module_utils._errors import summary_counts
    results = [types.SimpleNamespace(error='x', changed=True), types.SimpleNamespace(error=None, changed=True),
               types.SimpleNamespace(error=None, changed=False), types.SimpleNamespace(error='', changed=False)]
    assert summary_counts(results, pending=1) == dict(total=4, changed=1, unchanged=2, failed=1, pending=1)
    assert list(summary_counts([], batch_requests=0)) == ['total', 'changed', 'unchanged', 'failed', 'batch_requests']
