#!/usr/bin/env python
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start-up cost of one collection task next to the same request(s) made with ansible.builtin.uri.

    .venv/bin/python benchmarks/startup.py               # 5 runs of each playbook, interleaved
    .venv/bin/python benchmarks/startup.py --repeat 20   # on a busy machine: more runs, look at the spread

Two cases, each a one-task ``ansible-playbook`` run against the emulator (tests/emulator/harness.py):

* ``alert_info``: ``defender.atp.atp_alert_info`` reading one alert by ``alert_id``, next to one
  ``ansible.builtin.uri`` task sending the same ``GET /api/alerts/{id}``;
* ``isolate_check``: ``defender.atp.atp_machine_isolate`` in check mode on one machine id, next to two
  ``ansible.builtin.uri`` tasks sending the two reads the module makes (the machine, then its
  Isolate/Unisolate actions). Check mode writes nothing, so every run sees the same state.

The collection's task runs as a user has it: ``token_cache`` left at its default (on), so after the untimed
warm-up run it reads its token from the cache and sends no token request. The uri tasks get a token fetched
once beforehand from the emulator's token endpoint, passed as an ``Authorization`` header. The emulator's request
log is checked after every run: both sides must send the same API requests, and no token request.

Measured:

* **playbook**: wall time of the whole ``ansible-playbook`` run, ``--repeat`` times per side, interleaved
  (collection, uri, then uri, collection, ...) so drift of the machine's load cancels; medians, spread and the
  ratio collection/uri (the goal of issue 21: <= 1.0x). Next to it the CPU time (user + system of the run and of
  every process it waited for, from ``os.wait4``), which a busy machine inflates much less than the wall time;
* **module process**: the same module run alone, the AnsiballZ file Ansible wrote (kept from the warm-up run
  with ANSIBLE_KEEP_REMOTE_FILES) executed by the same interpreter, interleaved the same way: what the host
  pays, without the controller;
* **import**: the Python import of the module in a fresh interpreter, ``--import-repeat`` times, from the
  AnsiballZ payload zip (as Ansible runs it: the module and every module_utils compiled from source on each
  run) and from the checkout with its ``__pycache__`` (``.pyc`` cached); ``python -X importtime`` split by who
  pays (collection module_utils, ansible, requests, jwt, cryptography); and the collection module_utils it
  imports, in import order, with those of which no function ran during the task (traced with
  ``sys.setprofile`` from ``main()`` on);
* **phases**: one module run under cProfile (``--profile-runs``, median): import, ``AnsibleModule()``,
  token cache, HTTP, ``exit_json``. cProfile slows Python code down, so read these as shares.

Results go to stdout (Markdown) and to benchmarks/results/startup-<time>.{json,md} (gitignored);
benchmarks/startup.md keeps the method and the figures measured.
"""

from __future__ import annotations

import argparse
import ast
import base64
import datetime
import functools
import glob
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests'))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

from emulator.harness import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position
from bench_common import collection_path  # noqa: E402  pylint: disable=wrong-import-position

RESULTS = os.path.join(ROOT, 'benchmarks', 'results')
MODULE_UTILS = 'ansible_collections.defender.atp.plugins.module_utils.'
SIDES = ('collection', 'uri')
LOAD_SAMPLES = []  # the 1-minute load average before each timed run

CONNECTION = """\
        tenant_id: "{{ emu.tenant_id }}"
        client_id: "{{ emu.client_id }}"
        client_secret: "{{ emu.client_secret }}"
        login_url: "{{ emu.url }}"
        api_url: "{{ emu.url }}"
        graph_url: "{{ emu.url }}"
        ca_path: "{{ emu.ca_path }}"
        # token_cache is left at its default (true), as a user has it
"""

PLAY_HEAD = """\
- name: Start-up benchmark
  hosts: localhost
  gather_facts: false
  tasks:
"""

COLLECTION_ALERT = PLAY_HEAD + """\
    - name: Read one alert by id
      defender.atp.atp_alert_info:
""" + CONNECTION + """\
        alert_id: "{{ alert_id }}"
"""

COLLECTION_ISOLATE = PLAY_HEAD + """\
    - name: Isolate one machine, check mode
      defender.atp.atp_machine_isolate:
""" + CONNECTION + """\
        machines: ["{{ machine_id }}"]
        comment: Start-up benchmark
      check_mode: true
"""

URI_TASK = """\
    - name: {name}
      ansible.builtin.uri:
        url: "{{{{ emu.url }}}}{url}"
        ca_path: "{{{{ emu.ca_path }}}}"
        headers:
          Authorization: "Bearer {{{{ token }}}}"
      no_log: true
"""


def uri_play(requests):
    """One uri task per (path, params) of ``requests``; the URL is built from the same values the module sends."""
    tasks = []
    for number, (path, params) in enumerate(requests, 1):
        url = path + ('?' + urllib.parse.urlencode(params, quote_via=urllib.parse.quote) if params else '')
        # The URL goes into a YAML double-quoted string: it holds no quote or backslash (percent-encoded).
        tasks.append(URI_TASK.format(name='GET %d of %d' % (number, len(requests)), url=url))
    return PLAY_HEAD + ''.join(tasks)


REQUEST_LABELS = {
    'alert_info': 'one task each side, `GET /api/alerts/{id}`',
    'isolate_check': 'one collection task next to two uri tasks: `GET /api/machines?$filter=id eq ...`, then '
                     '`GET /api/machineactions?$filter=(type eq Isolate or ...) and machineId eq ...`',
}


def cases(alert_id, machine_id):
    """(name, module, collection playbook, the requests both sides send as [(path, params)])."""
    isolate_reads = [
        ('/api/machines', {'$filter': "id eq '%s'" % machine_id, '$top': '10000'}),
        ('/api/machineactions', {'$filter': "(type eq 'Isolate' or type eq 'Unisolate') and machineId eq '%s'" % machine_id,
                                 '$top': '10000'}),
    ]
    return [
        ('alert_info', 'atp_alert_info', COLLECTION_ALERT, [('/api/alerts/' + alert_id, {})]),
        ('isolate_check', 'atp_machine_isolate', COLLECTION_ISOLATE, isolate_reads),
    ]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--repeat', type=int, default=5, help='timed runs of each playbook and module process (default 5)')
    parser.add_argument('--import-repeat', type=int, default=5, help='fresh interpreters per import measurement (default 5)')
    parser.add_argument('--profile-runs', type=int, default=3, help='cProfile runs per module (default 3; 0 skips)')
    parser.add_argument('--keep', action='store_true', help='keep the work directory (it holds the secrets of the emulator)')
    return parser.parse_args(argv)


# -- running things -------------------------------------------------------------------------------------------------

def base_env(work):
    env = dict((k, v) for k, v in os.environ.items()
               if not k.startswith('AZURE_') and not k.startswith('DEFENDER_ATP_') and not k.startswith('ANSIBLE_'))
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': collection_path(work),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_LOCAL_TEMP': os.path.join(work, 'local-tmp'),
        'ANSIBLE_REMOTE_TMP': os.path.join(work, 'remote-tmp'),
        'DEFENDER_ATP_TOKEN_CACHE_DIR': os.path.join(work, 'token-cache'),
    })
    return env


def run_timed(command, env, cwd, out):
    """Run ``command``; return (wall seconds, CPU seconds of it and the children it waited for, exit code).

    CPU time (user + system, from ``os.wait4``) counts ansible-playbook's workers and module processes too. On a busy
    machine the wall time grows with the others' load; the CPU time much less, so it shows the same ratio with less
    noise."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_utime + usage.ru_stime, process.returncode


def run_playbook(work, env, name, vars_file, keep_remote=None):
    """One ansible-playbook run; returns its wall time. ``keep_remote``: a directory to keep the AnsiballZ files in."""
    command = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
               '-e', 'ansible_python_interpreter=%s' % sys.executable, '-e', '@' + vars_file,
               os.path.join(work, name + '.yml')]
    if keep_remote:
        env = dict(env, ANSIBLE_KEEP_REMOTE_FILES='1', ANSIBLE_REMOTE_TMP=keep_remote)
    log = os.path.join(work, name + '.log')
    with open(log, 'wb') as out:
        elapsed, cpu, code = run_timed(command, env, work, out)
    if code != 0:
        with open(log, encoding='utf-8', errors='replace') as handle:
            raise SystemExit('ansible-playbook %s failed (rc %d):\n%s' % (name, code, handle.read()[-3000:]))
    return elapsed, cpu


def run_module_files(work, env, scripts, name):
    """Run AnsiballZ files one after the other, as the host does; returns the total (wall, CPU) seconds."""
    total_wall = total_cpu = 0.0
    for number, script in enumerate(scripts):
        out_path = os.path.join(work, '%s.module%d.out' % (name, number))
        with open(out_path, 'wb') as out:
            elapsed, cpu, code = run_timed([sys.executable, script], env, work, out)
        total_wall += elapsed
        total_cpu += cpu
        check_module_output(out_path, code, name)
    return total_wall, total_cpu


def check_module_output(path, code, name):
    with open(path, encoding='utf-8', errors='replace') as handle:
        text = handle.read()
    try:
        result = json.loads(text[text.index('{'):])
    except ValueError:
        result = None
    if code != 0 or not isinstance(result, dict) or result.get('failed'):
        message = result.get('msg') if isinstance(result, dict) else text[-2000:]
        raise SystemExit('module run %s failed (rc %d): %s' % (name, code, message))


def api_requests(emu):
    """(token requests, [(method, path, params)] of the API) since the last reset; then reset the log."""
    log = emu.requests_log()
    emu.reset()
    tokens = sum(1 for e in log if e['path'].endswith('/token'))
    api = [(e['method'], e['path'], dict(e.get('query') or {})) for e in log if e['path'].startswith('/api/')]
    return tokens, api


def check_requests(emu, case, side, expected, tokens_allowed=0):
    tokens, api = api_requests(emu)
    wanted = [('GET', path, dict(params)) for path, params in expected]
    if api != wanted or tokens > tokens_allowed:
        raise SystemExit('%s/%s sent %d token request(s) and %r; expected %r' % (case, side, tokens, api, wanted))
    return tokens


def ansiballz_files(directory):
    """The AnsiballZ files a kept run left, in task order (each task has its own ansible-tmp-<time>-... directory)."""
    files = glob.glob(os.path.join(directory, '*', 'AnsiballZ_*.py'))
    return sorted(files, key=lambda path: float(os.path.basename(os.path.dirname(path)).split('-')[2]))


def ansiballz_payload(script, dest):
    """Write the module payload zip embedded in an AnsiballZ file to ``dest``; return the module's import name."""
    values = {}
    with open(script, encoding='utf-8') as handle:
        for line in handle:
            for key in ('zip_data', 'module_fqn'):
                if line.startswith(key + '='):
                    values[key] = ast.literal_eval(line[len(key) + 1:].rstrip().rstrip(','))
    if set(values) != {'zip_data', 'module_fqn'}:
        raise SystemExit('%s: no zip_data/module_fqn found (AnsiballZ layout changed?)' % script)
    with open(dest, 'wb') as handle:
        handle.write(base64.b64decode(values['zip_data']))
    return values['module_fqn']


# -- import measurements --------------------------------------------------------------------------------------------

# Imports one module in a fresh interpreter, the way AnsiballZ does (its zip first on sys.path) or from the checkout,
# with markers around the import so the -X importtime lines of that import alone can be picked out of stderr.
IMPORT_PROBE = r"""
import os, sys, time
path, fqn, prefix, out = sys.argv[1:5]
sys.path.insert(0, path)
os.write(2, b'@@start\n')
started, cpu_started = time.perf_counter(), time.process_time()
__import__(fqn)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
os.write(2, b'@@end\n')
import json
third = ('requests', 'urllib3', 'jwt', 'cryptography', 'cryptography.fernet', 'cryptography.x509', 'cffi')
with open(out, 'w') as handle:
    json.dump({'seconds': elapsed, 'cpu_seconds': cpu, 'loaded': [n for n in sys.modules if n.startswith(prefix)],
               'third_party': [n for n in third if n in sys.modules], 'all_loaded': list(sys.modules)}, handle)
"""

# Runs an AnsiballZ file and notes the file of every function that runs from the module's main() on: a module_utils
# file of which no function ran was imported for nothing (or for a constant or a class that was never instantiated).
TRACE_RUN = r"""
import json, runpy, sys, threading
script, out, module_file = sys.argv[1:4]
ran, started = set(), [False]
def hook(frame, event, arg):
    if event != 'call':
        return
    code = frame.f_code
    if not started[0]:
        if code.co_name != 'main' or not code.co_filename.endswith(module_file):
            return
        started[0] = True
    if code.co_flags & 1:  # CO_OPTIMIZED: a function body, not the body of a module or class being imported
        ran.add(code.co_filename)
threading.setprofile(hook)
sys.setprofile(hook)
sys.argv = [script]
try:
    runpy.run_path(script, run_name='__main__')
finally:
    sys.setprofile(None)
    with open(out, 'w') as handle:
        json.dump(sorted(ran), handle)
"""

PROFILE_RUN = r"""
import cProfile, runpy, sys
script, out = sys.argv[1:3]
profiler = cProfile.Profile()
sys.argv = [script]
profiler.enable()
try:
    runpy.run_path(script, run_name='__main__')
finally:
    profiler.disable()
    profiler.dump_stats(out)
"""

IMPORT_LINE = re.compile(r'^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)\s*$')
THIRD_PARTY = {
    'requests': 'requests', 'urllib3': 'requests', 'idna': 'requests', 'charset_normalizer': 'requests',
    'chardet': 'requests', 'certifi': 'requests',
    'jwt': 'jwt',
    'cryptography': 'cryptography', 'cffi': 'cryptography', '_cffi_backend': 'cryptography',
}
STDLIB = frozenset(getattr(sys, 'stdlib_module_names', ()))
BUCKETS = ('collection module_utils', 'module file', 'ansible', 'requests', 'jwt', 'cryptography', 'other')


def bucket_of(name, fqn):
    if name == fqn:
        return 'module file'
    if name.startswith(MODULE_UTILS) or name.startswith('ansible_collections.'):
        return 'collection module_utils'
    top = name.split('.')[0]
    if top == 'ansible':
        return 'ansible'
    return THIRD_PARTY.get(top)


def import_buckets(stderr, fqn):
    """Split the marked import of ``fqn`` from ``-X importtime`` output. Returns:

    * self time (ms) by who pays: a standard-library module counts for the nearest importer in a named bucket (what
      ``import requests`` costs includes the standard library it pulls in first);
    * self time (ms) of every module;
    * the third-party modules collection code imports itself, with the collection file that did and the cumulative
      time (ms) of that first import (``{'importer': 'http_client', 'module': 'requests', 'ms': 180.0}``).
    """
    text = stderr.split('@@start\n', 1)[-1].split('@@end\n', 1)[0]
    lines = [IMPORT_LINE.match(line) for line in text.splitlines()]
    lines = [(int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2, m.group(4)) for m in lines if m]
    totals = dict((name, 0.0) for name in BUCKETS)
    own_ms, edges = {}, []
    stack = []  # (bucket, name) of the ancestors of the current line
    # -X importtime prints a module after its imports; read backwards, a parent comes before its children.
    for self_us, cumulative_us, depth, name in reversed(lines):
        del stack[depth:]
        own = bucket_of(name, fqn)
        bucket = own or (stack[-1][0] if stack else 'other')
        if own in ('requests', 'jwt', 'cryptography') and stack and stack[-1][0] in ('collection module_utils', 'module file'):
            edges.append({'importer': short_name(stack[-1][1]), 'module': name, 'ms': cumulative_us / 1000.0})
        stack.append((bucket, name))
        totals[bucket] += self_us / 1000.0
        own_ms[name] = self_us / 1000.0
    return totals, own_ms, edges


def beyond(own_ms, loaded_by_other):
    """Self time (ms) of the modules that ``loaded_by_other`` does not hold, by top-level package."""
    groups = {}
    for name, ms in own_ms.items():
        if name not in loaded_by_other:
            top = name.split('.')[0]
            top = 'stdlib' if top in STDLIB or top.startswith('_') and top not in THIRD_PARTY else top
            groups[top] = groups.get(top, 0.0) + ms
    return groups


def third_party_imports(runs):
    """The direct imports of requests/jwt/cryptography by collection code, with the median cumulative ms."""
    keyed = {}
    for run in runs:
        for edge in run['edges']:
            keyed.setdefault((edge['importer'], edge['module']), []).append(edge['ms'])
    # An edge missing from a run (another file imported that package first there) counts as 0 ms in it.
    return [{'importer': importer, 'module': module, 'ms': statistics.median(values + [0.0] * (len(runs) - len(values)))}
            for (importer, module), values in sorted(keyed.items(), key=lambda kv: -statistics.median(kv[1]))]


def probe_import(work, env, path, fqn, name, importtime=False):
    """Import ``fqn`` in a fresh interpreter with ``path`` first on sys.path; with ``importtime`` also split it."""
    out = os.path.join(work, name + '.import.json')
    command = [sys.executable] + (['-X', 'importtime'] if importtime else []) + ['-c', IMPORT_PROBE, path, fqn,
                                                                                 MODULE_UTILS, out]
    completed = subprocess.run(command, env=env, cwd=work, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit('import of %s failed:\n%s' % (fqn, completed.stderr[-3000:]))
    with open(out, encoding='utf-8') as handle:
        result = json.load(handle)
    if importtime:
        result['buckets'], result['own_ms'], result['edges'] = import_buckets(completed.stderr, fqn)
    return result


def interpreter_start(work, env):
    """Wall time of a bare ``python -c pass``: what every module process pays before any import of its own."""
    started = time.perf_counter()
    subprocess.run([sys.executable, '-c', 'pass'], env=env, cwd=work, check=True)
    return time.perf_counter() - started


def payload_sources(zip_path):
    """(files, KiB) of Python source in the payload, all of it and the collection's part: compiled on every run."""
    with zipfile.ZipFile(zip_path) as payload:
        infos = [i for i in payload.infolist() if i.filename.endswith('.py')]
    ours = [i for i in infos if i.filename.startswith('ansible_collections/')]
    return {'files': len(infos), 'kib': sum(i.file_size for i in infos) / 1024.0,
            'collection_files': len(ours), 'collection_kib': sum(i.file_size for i in ours) / 1024.0}


def short_name(name):
    return name[len(MODULE_UTILS):] if name.startswith(MODULE_UTILS) else name


def module_utils_of_file(path):
    """'.../plugins/module_utils/_http/client.py' -> '_http.client' (None outside module_utils)."""
    marker = '/defender/atp/plugins/module_utils/'
    if marker not in path:
        return None
    name = path.split(marker, 1)[1][:-len('.py')].replace('/', '.')
    return name[:-len('.__init__')] if name.endswith('.__init__') else name


def traced_run(work, env, script, fqn, name):
    out = os.path.join(work, name + '.trace.json')
    module_file = fqn.replace('.', '/') + '.py'
    completed = subprocess.run([sys.executable, '-c', TRACE_RUN, script, out, module_file], env=env, cwd=work,
                               capture_output=True, text=True, check=False)
    stdout_path = os.path.join(work, name + '.trace.out')
    with open(stdout_path, 'w', encoding='utf-8') as handle:
        handle.write(completed.stdout + completed.stderr)
    check_module_output(stdout_path, completed.returncode, name + ' (traced)')
    with open(out, encoding='utf-8') as handle:
        files = json.load(handle)
    return sorted(set(filter(None, (module_utils_of_file(path) for path in files))))


# (label, how several matches combine, [(regular expression on the file name, function name)])
PHASES = [
    ('imports', max, [(r'^<frozen importlib\._bootstrap>$', '_find_and_load')]),
    ('AnsibleModule()', max, [(r'ansible/module_utils/basic\.py$', '__init__')]),
    ('token cache', sum, [(r'defender/atp/plugins/module_utils/.*cache[^/]*\.py$', 'get'),
                          (r'defender/atp/plugins/module_utils/.*cache[^/]*\.py$', 'put')]),
    ('HTTP', sum, [(r'requests/sessions\.py$', 'request'), (r'ansible/module_utils/urls\.py$', 'fetch_url')]),
    ('exit_json', max, [(r'ansible/module_utils/basic\.py$', 'exit_json')]),
]


def profile_phases(work, env, script, name):
    """Milliseconds per phase of one run under cProfile (cumulative times), and the profiled total."""
    out = os.path.join(work, name + '.prof')
    completed = subprocess.run([sys.executable, '-c', PROFILE_RUN, script, out], env=env, cwd=work,
                               capture_output=True, text=True, check=False)
    stdout_path = os.path.join(work, name + '.prof.out')
    with open(stdout_path, 'w', encoding='utf-8') as handle:
        handle.write(completed.stdout + completed.stderr)
    check_module_output(stdout_path, completed.returncode, name + ' (profiled)')
    stats = pstats.Stats(out).stats  # {(file, line, function): (primitive calls, calls, tottime, cumtime, callers)}
    phases = {'total': sum(entry[2] for entry in stats.values()) * 1000.0}
    for label, combine, patterns in PHASES:
        values = [entry[3] * 1000.0 for (path, _line, function), entry in stats.items()
                  for pattern, wanted in patterns if function == wanted and re.search(pattern, path)]
        phases[label] = combine(values) if values else None
    return phases


# -- statistics and output ------------------------------------------------------------------------------------------

def spread(values):
    values = sorted(values)
    return {'median': statistics.median(values), 'min': values[0], 'max': values[-1],
            'stdev': statistics.stdev(values) if len(values) > 1 else 0.0, 'runs': [round(v, 4) for v in values]}


def interleaved(repeat, run_side):
    """Run both sides ``repeat`` times, collection first on even rounds and uri first on odd ones (A B B A A B ...)."""
    walls, cpus = dict((side, []) for side in SIDES), dict((side, []) for side in SIDES)
    for round_number in range(repeat):
        for side in (SIDES if round_number % 2 == 0 else tuple(reversed(SIDES))):
            LOAD_SAMPLES.append(os.getloadavg()[0])
            wall, cpu = run_side(side)
            walls[side].append(wall)
            cpus[side].append(cpu)
    result = compare(walls)
    result['cpu'] = compare(cpus)
    return result


def compare(times):
    ratios = [c / u for c, u in zip(times['collection'], times['uri'])]
    return {'collection': spread(times['collection']), 'uri': spread(times['uri']),
            'ratio': statistics.median(times['collection']) / statistics.median(times['uri']),
            'ratio_of_minima': min(times['collection']) / min(times['uri']),
            'pair_ratios': spread(ratios)}


def fmt_spread(value, unit=' s', scale=1.0, digits=2):
    return '%.*f%s (%.*f-%.*f)' % (digits, value['median'] * scale, unit, digits, value['min'] * scale, digits,
                                   value['max'] * scale)


def markdown(report):
    meta = report['meta']
    head = ('| case | measure | collection | uri | collection / uri (medians) | per-pair ratio | ratio of minima |',
            '|---|---|---:|---:|---:|---:|---:|')
    lines = ['### One `ansible-playbook` run (seconds; median, min-max of %d runs each)' % meta['repeat'], ''] + list(head)
    for key in ('playbook', 'module_process'):
        if key == 'module_process':
            lines += ['', '### The module process alone (the AnsiballZ file the host runs; uri: the files of its tasks, '
                      'one after the other)', ''] + list(head)
        for case in report['cases']:
            for measure, figures in (('wall', case[key]), ('CPU (user+sys)', case[key]['cpu'])):
                lines.append('| %s | %s | %s | %s | **%.2fx** | %s | %.2fx |' % (
                    case['case'], measure, fmt_spread(figures['collection']), fmt_spread(figures['uri']), figures['ratio'],
                    fmt_spread(figures['pair_ratios'], unit='x'), figures['ratio_of_minima']))
        if key == 'playbook':
            lines.append('')
            lines += ['%s: %s.' % (case['case'], case['requests_text']) for case in report['cases']]
    lines.append('')
    lines.append('The rest of the playbook run (controller: Ansible start, the play, building the AnsiballZ file), '
                 'median wall time of the playbook minus that of the module: %s.' % '; '.join(
                     '%s %.2f s collection, %.2f s uri' % (
                         case['case'], case['playbook']['collection']['median'] - case['module_process']['collection']['median'],
                         case['playbook']['uri']['median'] - case['module_process']['uri']['median'])
                     for case in report['cases']))
    bare = fmt_spread(meta['interpreter_start'], unit=' ms', scale=1000, digits=0)
    lines += ['', '### Import of the module in a fresh interpreter (ms, median, min-max of %d)' % meta['import_repeat'], '',
              'From the AnsiballZ zip, as Ansible runs it (sources compiled every run), and from the checkout with '
              '`.pyc` cached. The split (from separate `-X importtime` runs of the zip import, self times, the '
              'standard library counted for the nearest importer in a named group) says who pays. A bare `python -c '
              'pass` takes %s on top of any of these.' % bare, '',
              '| module | zip import | zip import, CPU | cached import | cached import, CPU | ' + ' | '.join(BUCKETS) +
              ' | payload source: all / collection | module_utils imported | of which no code ran |',
              '|---|---:|---:|---:|---:|' + '---:|' * len(BUCKETS) + '---:|---:|---:|']
    for item in report['imports']:
        ran = item.get('module_utils_unused')
        payload = item['payload']
        lines.append('| %s | %s | %s | %s | %s | %s | %d files %.0f KiB / %d files %.0f KiB | %d | %s |' % (
            item['module'], fmt_spread(item['zip'], unit='', scale=1000, digits=0),
            fmt_spread(item['zip_cpu'], unit='', scale=1000, digits=0),
            fmt_spread(item['cached'], unit='', scale=1000, digits=0),
            fmt_spread(item['cached_cpu'], unit='', scale=1000, digits=0),
            ' | '.join('%.0f' % item['buckets'][b] for b in BUCKETS), payload['files'], payload['kib'],
            payload['collection_files'], payload['collection_kib'], len(item['module_utils']),
            '-' if ran is None else str(len(ran))))
    for item in report['imports']:
        if not item['module_utils']:
            continue
        lines += ['', '**%s** imports %d collection module_utils (in import order): %s.' % (
            item['module'], len(item['module_utils']), ', '.join('`%s`' % n for n in item['module_utils']))]
        if item.get('module_utils_unused') is not None:
            lines.append('No function of these ran in the task: %s.' % (
                ', '.join('`%s`' % n for n in item['module_utils_unused']) or 'none'))
        if item['beyond_uri_modules']:
            top = sorted(item['beyond_uri_by_package_ms'].items(), key=lambda kv: -kv[1])
            lines.append('Beyond what the uri module loads: %d more modules, %.0f ms of import (self times, median): %s.' % (
                item['beyond_uri_modules'], item['beyond_uri_ms'],
                ', '.join('%s %.0f' % (name, ms) for name, ms in top if ms >= 0.5)))
        heavy = sorted(item.get('module_utils_self_ms', {}).items(), key=lambda kv: -kv[1])
        if heavy:
            lines.append('Self time per module_utils file (ms, from the zip, median): %s.' % (
                ', '.join('`%s` %.0f' % kv for kv in heavy)))
        if item.get('third_party_imports'):
            lines.append('Third-party imports made by collection code (cumulative ms of that first import, median): %s.' % (
                ', '.join('`%s` imports `%s` %.0f' % (e['importer'], e['module'], e['ms']) for e in item['third_party_imports'])))
        if item['third_party']:
            lines.append('Third-party packages loaded by the import: %s.' % ', '.join('`%s`' % n for n in item['third_party']))
    if report['phases']:
        labels = ['total'] + [label for label, _combine, _patterns in PHASES]
        lines += ['', '### One module run under cProfile (ms, median of %d; cProfile inflates Python code: read as shares)' % (
            meta['profile_runs']), '', '| module | ' + ' | '.join(labels) + ' |', '|---|' + '---:|' * len(labels)]
        for item in report['phases']:
            cells = []
            for label in labels:
                value = item['phases'].get(label)
                cells.append('-' if value is None else '%.0f' % value if label == 'total' else
                             '%.0f (%.0f%%)' % (value, 100.0 * value / item['phases']['total']))
            lines.append('| %s | %s |' % (item['module'], ' | '.join(cells)))
    meta = dict(meta, load_during=fmt_spread(meta['load_1min_during_timed_runs'], unit=''))
    lines += ['', '%(when)s; %(python)s, ansible-core %(ansible)s; %(machine)s, %(cpus)s CPUs; load average %(load_before)s '
              'before, %(load_after)s after, 1-minute load %(load_during)s during the timed runs; token_cache on for '
              'the collection (cache hit in every timed run), a token fetched once beforehand for uri.' % meta]
    return '\n'.join(lines)


def loadavg():
    return '%.2f %.2f %.2f' % os.getloadavg()


def ansible_version():
    completed = subprocess.run([sys.executable, '-c', 'import ansible.release; print(ansible.release.__version__)'],
                               capture_output=True, text=True, check=False)
    return completed.stdout.strip() or 'unknown'


# -- the run --------------------------------------------------------------------------------------------------------

def timed_playbook(run, side):
    times = run_playbook(run['work'], run['env'], run['names'][side], run['vars_file'])
    check_requests(run['emu'], run['case'], side, run['expected'])
    return times


def timed_module_process(run, side):
    name = run['names'][side]
    times = run_module_files(run['work'], run['env'], run['scripts'][name], name)
    check_requests(run['emu'], run['case'], side + ' (module process)', run['expected'])
    return times


def first_id(emu, token, path):
    status, payload, _headers = emu.call('GET', path + '?$top=1', headers={'Authorization': 'Bearer ' + token})
    if status != 200 or not payload.get('value'):
        raise SystemExit('GET %s -> %s %s' % (path, status, payload))
    return payload['value'][0]['id']


def measure(emu, work, env, args):
    info = emu.info
    token = emu.token()  # for uri: fetched once from the emulator's token endpoint, as a user's playbook would
    alert_id, machine_id = first_id(emu, token, '/api/alerts'), first_id(emu, token, '/api/machines')
    vars_file = os.path.join(work, 'vars.json')
    descriptor = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, 'w') as handle:
        json.dump({'emu': dict((k, info[k]) for k in ('url', 'ca_path', 'tenant_id', 'client_id', 'client_secret')),
                   'token': token, 'alert_id': alert_id, 'machine_id': machine_id}, handle)
    emu.reset()

    report_cases, modules, scripts = [], [], {}
    for case, module, collection_text, expected in cases(alert_id, machine_id):
        names = {'collection': case + '-collection', 'uri': case + '-uri'}
        for side, text in (('collection', collection_text), ('uri', uri_play(expected))):
            with open(os.path.join(work, names[side] + '.yml'), 'w', encoding='utf-8') as handle:
                handle.write(text)
            keep = os.path.join(work, 'kept', names[side])
            run_playbook(work, env, names[side], vars_file, keep_remote=keep)  # warm-up, untimed; fills the token cache
            check_requests(emu, case, side + ' (warm-up)', expected, tokens_allowed=1 if side == 'collection' else 0)
            scripts[names[side]] = ansiballz_files(keep)
            if len(scripts[names[side]]) != (1 if side == 'collection' else len(expected)):
                raise SystemExit('%s: AnsiballZ files kept: %r' % (names[side], scripts[names[side]]))
        print('%s: warm-up done (%s)' % (case, alert_id if case == 'alert_info' else machine_id), flush=True)

        run = dict(work=work, env=env, emu=emu, case=case, expected=expected, names=names, vars_file=vars_file,
                   scripts=scripts)
        play = interleaved(args.repeat, functools.partial(timed_playbook, run))
        print('  playbook: collection %.2f s, uri %.2f s, ratio %.2fx (CPU %.2fx)' % (
            play['collection']['median'], play['uri']['median'], play['ratio'], play['cpu']['ratio']), flush=True)
        mod = interleaved(args.repeat, functools.partial(timed_module_process, run))
        print('  module process: collection %.2f s, uri %.2f s, ratio %.2fx (CPU %.2fx)' % (
            mod['collection']['median'], mod['uri']['median'], mod['ratio'], mod['cpu']['ratio']), flush=True)
        report_cases.append({'case': case, 'module': module, 'playbook': play, 'module_process': mod,
                             'requests': [{'method': 'GET', 'path': p, 'params': q} for p, q in expected],
                             'requests_text': REQUEST_LABELS[case],
                             'token_requests_per_timed_run': 0})
        modules.append((module, names['collection'], expected))
    modules.append(('ansible.builtin.uri', 'alert_info-uri', None))

    payload_dir = os.path.join(work, 'payloads')
    os.makedirs(payload_dir)
    imports, phases = [], []
    bare = spread([interpreter_start(work, env) for _number in range(args.import_repeat)])
    for module, name, expected in modules:
        script = scripts[name][0]
        zip_path = os.path.join(payload_dir, name + '.zip')
        fqn = ansiballz_payload(script, zip_path)
        probe_import(work, env, env['ANSIBLE_COLLECTIONS_PATH'], fqn, name + '-warm')  # writes the __pycache__ once
        zip_runs, cached_runs, split_runs = [], [], []
        for number in range(args.import_repeat):
            order = (('zip', zip_path), ('cached', env['ANSIBLE_COLLECTIONS_PATH']))
            for kind, path in (order if number % 2 == 0 else tuple(reversed(order))):
                (zip_runs if kind == 'zip' else cached_runs).append(probe_import(work, env, path, fqn, name))
            # The split comes from runs of its own, so -X importtime's own cost stays out of the times above.
            split_runs.append(probe_import(work, env, zip_path, fqn, name, importtime=True))
        item = {'module': module, 'fqn': fqn, 'payload': payload_sources(zip_path),
                'zip': spread([r['seconds'] for r in zip_runs]), 'cached': spread([r['seconds'] for r in cached_runs]),
                'zip_cpu': spread([r['cpu_seconds'] for r in zip_runs]),
                'cached_cpu': spread([r['cpu_seconds'] for r in cached_runs]),
                'buckets': dict((b, statistics.median([r['buckets'][b] for r in split_runs])) for b in BUCKETS),
                'split_own_ms': [r['own_ms'] for r in split_runs], 'all_loaded': zip_runs[0]['all_loaded'],
                'third_party_imports': third_party_imports(split_runs),
                'module_utils': [short_name(n) for n in zip_runs[0]['loaded'] if n + '.' != MODULE_UTILS],
                'third_party': zip_runs[0]['third_party']}
        if expected is not None:
            ran = traced_run(work, env, script, fqn, name)
            check_requests(emu, name, 'traced run', expected)
            item['module_utils_ran'] = ran
            item['module_utils_unused'] = [n for n in item['module_utils'] if n not in ran]
        imports.append(item)
        print('%s: import from zip %.0f ms (CPU %.0f), cached %.0f ms; %d module_utils%s' % (
            module, item['zip']['median'] * 1000, item['zip_cpu']['median'] * 1000, item['cached']['median'] * 1000,
            len(item['module_utils']),
            '' if expected is None else ', %d with no code run' % len(item['module_utils_unused'])), flush=True)
        if args.profile_runs:
            runs = []
            for _number in range(args.profile_runs):
                runs.append(profile_phases(work, env, script, name))
                emu.reset()
            labels = set(label for run in runs for label in run)
            phases.append({'module': module, 'phases': dict(
                (label, statistics.median([r[label] for r in runs]) if all(r.get(label) is not None for r in runs) else None)
                for label in labels)})
    # What the collection's import costs beyond what the uri module (the last item) already loads.
    uri_loaded = set(imports[-1]['all_loaded'])
    for item in imports:
        own_runs = item.pop('split_own_ms')
        item['module_utils_self_ms'] = dict(
            (short_name(name), statistics.median([run.get(name, 0.0) for run in own_runs]))
            for name in sorted(set(n for run in own_runs for n in run if n.startswith(MODULE_UTILS))))
        runs = [beyond(own_ms, uri_loaded) for own_ms in own_runs]
        tops = sorted(set(top for run in runs for top in run))
        item['beyond_uri_ms'] = statistics.median([sum(run.values()) for run in runs])
        item['beyond_uri_by_package_ms'] = dict((top, statistics.median([run.get(top, 0.0) for run in runs])) for top in tops)
        item['beyond_uri_modules'] = len(set(item.pop('all_loaded')) - uri_loaded)
    return report_cases, imports, phases, bare


def main(argv=None):
    args = parse_args(argv)
    work = tempfile.mkdtemp(prefix='bench-startup-')
    load_before = loadavg()
    try:
        env = base_env(work)
        # A day-long token lifetime: neither side's token (cached, or fetched once for uri) expires during a long run.
        emulator_args = ['--state-dir', os.path.join(work, 'emulator'), '--no-rate-limits', '--token-lifetime', '86400']
        with EmulatorProcess(args=emulator_args) as emu:
            report_cases, imports, phases, bare = measure(emu, work, env, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    meta = {'when': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
            'python': 'Python ' + platform.python_version(), 'ansible': ansible_version(), 'machine': platform.machine(),
            'cpus': os.cpu_count(), 'load_before': load_before, 'load_after': loadavg(), 'repeat': args.repeat,
            'import_repeat': args.import_repeat, 'profile_runs': args.profile_runs, 'token_cache': True,
            'interpreter_start': bare, 'load_1min_during_timed_runs': spread(LOAD_SAMPLES)}
    report = {'meta': meta, 'cases': report_cases, 'imports': imports, 'phases': phases}
    text = markdown(report)
    print()
    print(text)
    os.makedirs(RESULTS, exist_ok=True)
    base = os.path.join(RESULTS, 'startup-%s' % time.strftime('%Y%m%d-%H%M%S'))
    with open(base + '.json', 'w', encoding='utf-8') as handle:
        json.dump(report, handle, indent=2)
    with open(base + '.md', 'w', encoding='utf-8') as handle:
        handle.write(text + '\n')
    print('\nwritten: %s.json, %s.md%s' % (base, base, '; work directory kept: ' + work if args.keep else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
