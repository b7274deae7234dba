# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A handful of the bad-input cases through a real ansible-playbook run.

The full table (every option of every module) runs in-process in tests/unit/plugins/test_bad_input.py; these show
that the same refusals reach a playbook user intact through module_defaults, argument templating and the module's
own process: a failed task, a message naming the option, no traceback, and not one request to the emulator.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from support import assert_clean_failure, module_task

CASES = [
    # (task name, module, args, fragments of the message)
    ('wrong type', 'atp_machine_isolate', {'machines': ['ws-1'], 'comment': 'IR-7', 'max_machines': 'few'},
     ['max_machines']),
    ('unknown choice', 'atp_alert_info', {'severity': ['Critical']}, ['severity', 'Critical']),
    ('two auth methods', 'atp_query', {'query': 'DeviceInfo', 'certificate_path': '{{ emulator.certificate_path }}'},
     ['Ambiguous credentials', 'auth_method']),
    ('alert_id with filters', 'atp_alert_info', {'alert_id': 'da637472900382838869_1364969609', 'since': '7d'},
     ['mutually exclusive', 'alert_id']),
    ('odata in a machine name', 'atp_machine_isolate', {'machines': ["x' or id ne '"], 'comment': 'IR-7'},
     ['machines', 'not a machine id or computer DNS name']),
    ('malformed machine id', 'atp_alert_info', {'machine_id': 'ws-finance-01'}, ['machine_id', '40 hexadecimal']),
    ('empty comment', 'atp_machine_isolate', {'machines': ['ws-1'], 'comment': ' '}, ['comment']),
    ('a huge list with a bad entry', 'atp_machine_info', {'machines': "{{ range(5000) | map('string') | list + [''] }}"},
     ['machines', 'item 5001']),
    ('ca_path missing', 'atp_token', {'ca_path': '/nonexistent/ca.pem'}, ['ca_path', 'does not exist']),
    ('api_url not a URL', 'atp_machine_info', {'api_url': 'api.security.microsoft.com'}, ['api_url', 'absolute https URL']),
    ('certificate not PEM', 'atp_token', {'certificate_path': '{{ playbook_dir }}/not-a-cert.pem',
                                          'client_secret': '{{ omit }}'}, ['certificate_path']),
    ('certificate password wrong', 'atp_token', {'certificate_path': '{{ emulator.encrypted_certificate_path }}',
                                                 'certificate_password': 'not-the-password', 'client_secret': '{{ omit }}'},
     ['certificate_password does not decrypt']),
    ('unusable token', 'atp_machine_isolate', {'access_token': 'Bearer not.a-token', 'machines': ['ws-1'], 'comment': 'x'},
     ['access_token']),
]


def test_bad_input_fails_in_a_playbook_before_any_request(runner, emu):
    with open(os.path.join(runner.workdir, 'not-a-cert.pem'), 'w') as handle:
        handle.write('MIIB not a certificate\n')
    play = runner.play([module_task(name, module, args) for name, module, args, _fragments in CASES])
    for name, _module, _args, fragments in CASES:
        assert_clean_failure(play.task(name), *fragments)
    assert emu.requests_log() == [], 'requests were sent: %s' % [(e['method'], e['path']) for e in emu.requests_log()]
