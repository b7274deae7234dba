# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import requests

from ansible_collections.defender.atp.plugins.module_utils._http.messages import describe_http_error, required_roles


def response(status, body, reason=''):
    resp = requests.models.Response()
    resp.status_code = status
    resp.reason = reason
    resp._content = (json.dumps(body) if not isinstance(body, str) else body).encode('utf-8')
    return resp


def test_aadsts_error_is_named_with_a_hint():
    body = {'error': 'invalid_client',
            'error_description': "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent ...\r\n"
                                 "Trace ID: 1\r\nCorrelation ID: 2\r\nTimestamp: 2026-01-01 00:00:00Z",
            'error_codes': [7000215], 'trace_id': 't-1', 'correlation_id': 'c-1'}
    message, details = describe_http_error('Token request', response(401, body))
    assert message.startswith('Token request: HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided')
    assert 'Trace ID' not in message
    assert 'not its Secret ID' in message
    assert details['aadsts'] == 7000215 and details['status'] == 401 and details['trace_id'] == 't-1'


def test_a_throttled_or_failing_token_endpoint_gets_the_retry_hints():
    throttled = {'error': 'temporarily_unavailable', 'error_codes': [90055],
                 'error_description': 'AADSTS90055: The request has been throttled.\r\nTrace ID: 1'}
    message, _details = describe_http_error('Token request', response(429, throttled), attempts=3, retry_after=5, waited=10)
    assert 'AADSTS90055' in message and 'Still throttled after 3 attempt(s)' in message and 'max_retries' in message
    failing = {'error': 'temporarily_unavailable', 'error_codes': [90033],
               'error_description': 'AADSTS90033: A transient error has occurred. Please try again.'}
    message, _details = describe_http_error('Token request', response(503, failing), attempts=6)
    assert 'AADSTS90033' in message and 'kept failing after 6 attempt(s)' in message and 'raise max_retries' in message


def test_defender_403_lists_required_and_granted_permissions():
    body = {'error': {'code': 'Forbidden', 'target': 'x',
                      'message': 'Missing application roles. API required roles: Machine.Isolate, application roles: Machine.Read.All'}}
    message, details = describe_http_error('POST /api/machines/1/isolate', response(403, body), granted_permissions=['Machine.Read.All'])
    assert 'HTTP 403 Forbidden: Missing application roles' in message
    assert 'The token grants Machine.Read.All; grant Machine.Isolate' in message
    assert details['missing_permissions'] == ['Machine.Isolate']


def test_required_roles_parsing_variants():
    assert required_roles('Missing application roles. API required roles: AdvancedQuery.Read.All, application roles') == ['AdvancedQuery.Read.All']
    assert required_roles('Missing application roles. API required roles: Machine.Read.All') == ['Machine.Read.All']
    assert required_roles('Missing application roles. API required roles: Machine.Read.All,Machine.ReadWrite.All, application roles: Machine.Isolate') == [
        'Machine.Read.All', 'Machine.ReadWrite.All']
    assert required_roles('nothing here') == []


def test_throttling_message_says_how_long_it_waited():
    body = {'error': {'code': 'TooManyRequests', 'message': 'API calls quota exceeded! maximum allowed 45 per 00:01:00.'}}
    message, details = describe_http_error('POST /api/advancedqueries/run', response(429, body), attempts=6, retry_after=30, waited=120)
    assert 'maximum allowed 45 per 00:01:00' in message
    assert 'Still throttled after 6 attempt(s) and 120 s of waiting' in message
    assert details['status'] == 429


def test_result_size_hint():
    text = 'Query execution has exceeded the allowed result size. Optimize your query by limiting the number of results and try again'
    body = {'error': {'code': 'BadRequest', 'message': text}}
    message, _details = describe_http_error('POST /api/advancedqueries/run', response(400, body))
    assert 'project fewer columns' in message


def test_graph_error_shape_and_html_bodies():
    body = {'error': {'code': 'InvalidAuthenticationToken', 'message': 'Access token has expired.', 'innerError': {'request-id': 'r-1'}}}
    message, details = describe_http_error('POST /v1.0/security/runHuntingQuery', response(401, body))
    assert 'HTTP 401 InvalidAuthenticationToken: Access token has expired.' in message and details['trace_id'] == 'r-1'
    message, _details = describe_http_error('GET /api/alerts', response(502, '<html><body><h1>Bad Gateway</h1></body></html>', 'Bad Gateway'), attempts=3)
    assert message.startswith('GET /api/alerts: HTTP 502 Bad Gateway: Bad Gateway.') and 'after 3 attempt(s)' in message


def test_a_node_count_refusal_says_the_filter_is_too_big_not_wrong():
    text = ("The query specified in the URI is not valid. The node count limit of '100' has been exceeded. To increase the "
            "limit, set the 'MaxNodeCount' property on EnableQueryAttribute or ODataValidationSettings.")
    body = {'error': {'code': 'ODataError', 'message': text, 'target': 'x'}}
    message, details = describe_http_error('GET https://x/api/machines', response(400, body))
    assert 'more clauses than the API accepts' in message and 'check field names' not in message
    assert details['code'] == 'ODataError' and details['status'] == 400
