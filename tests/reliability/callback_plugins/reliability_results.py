# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write every task result as one JSON line to $RELIABILITY_RESULTS_FILE (tests/reliability, benchmarks/load.py).

The reliability suites read back what each task returned, failed or not, without an extra task per result, and
how long it took. A task with no_log gets Ansible's censored result here, as every other callback does; the
``access_token`` atp_token returns is replaced by ``<redacted>``, so the file never holds a token.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = '''
name: reliability_results
type: aggregate
short_description: Task results as JSON lines, for the reliability tests
description:
  - Appends one JSON object per task result to the file named by the environment variable E(RELIABILITY_RESULTS_FILE),
    with the seconds the task took on that host.
requirements:
  - The environment variable E(RELIABILITY_RESULTS_FILE).
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'reliability_results'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.path = os.environ.get('RELIABILITY_RESULTS_FILE')
        self.started = {}

    def v2_runner_on_start(self, host, task):
        self.started[(host.get_name(), task._uuid)] = time.time()

    def _write(self, status, result):
        if not self.path:
            return
        body = dict(result._result)
        if body.get('access_token'):
            body['access_token'] = '<redacted>'
        now = time.time()
        started = self.started.pop((result._host.get_name(), result._task._uuid), None)
        entry = dict(task=result.task_name or result._task.get_name(), host=result._host.get_name(), status=status,
                     result=body, seconds=round(now - started, 3) if started else None, finished=now)
        with open(self.path, 'a') as handle:
            handle.write(json.dumps(entry, default=str, sort_keys=True) + '\n')

    def v2_runner_on_ok(self, result):
        self._write('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write('failed', result)

    def v2_runner_on_skipped(self, result):
        self._write('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._write('unreachable', result)
