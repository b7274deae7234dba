# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The short version of benchmarks/load.py: 8 forks running every module against one emulator for 12 s.

No failed module run, no 5xx from the emulator, and the emulator's request log holds exactly the requests the
module runs report (http_stats.requests, token requests included). The minute-long run is ``make bench``
(benchmarks/load.py; figures in benchmarks/load.md). RELIABILITY_LOAD_SECONDS changes the duration.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys

from support import ROOT

sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import load  # noqa: E402  pylint: disable=wrong-import-position


def test_eight_forks_of_every_module_fail_nothing_and_every_request_is_accounted_for(collections_path, tmp_path):
    duration = float(os.environ.get('RELIABILITY_LOAD_SECONDS', '12'))
    figures = load.run_load(duration=duration, forks=8, collections=collections_path, work=str(tmp_path))
    report = load.render(figures)
    print(report)
    report_dir = os.environ.get('RELIABILITY_REPORT_DIR') or str(tmp_path)  # the reliability nox session shows it
    with open(os.path.join(report_dir, 'load.md'), 'w') as handle:
        handle.write(report)
    with open(os.path.join(report_dir, 'load.json'), 'w') as handle:
        json.dump(figures, handle, indent=1, sort_keys=True)
    assert figures['checks'] == {
        'no failed module run': True,
        'no 5xx from the emulator': True,
        'the request log accounts for every request': True,
        'every host ran the whole mix at least once': True,
    }, report
    assert figures['requests_logged'] == figures['requests_reported'] > 0
    assert set(figures['seconds_per_run']) == {'token', 'alerts', 'machines', 'query', 'isolate', 'unisolate'}
