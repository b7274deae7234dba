# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: ansible-rulebook runs defender.atp.isolate_on_high_alert against the emulator (make eda).

The collection is built and installed as a user would (ansible-galaxy collection build / install), ansible-rulebook
(with its Java rule engine) loads the rulebook and the defender.atp.alerts source from the installed collection, a
High alert with a machine appears in the emulator, and the machine ends up isolated by the playbook the rule runs,
through the defender.atp.response role. Runs in the venv of tests/eda/requirements.txt.

Every alert's title is a template that would create a marker file on the controller if Ansible ever evaluated it:
ansible-rulebook hands the event to the playbook as extra vars, which Ansible templates (issue 19).
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import hashlib
import datetime

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tests'))

from emulator.harness import EmulatorProcess  # noqa: E402  pylint: disable=wrong-import-position

BIN = os.path.dirname(sys.executable)
UTC = datetime.timezone.utc


def iso7(when):
    return when.strftime('%Y-%m-%dT%H:%M:%S') + '.%07dZ' % (when.microsecond * 10)


def machine(name):
    return {'id': hashlib.sha1(name.encode()).hexdigest(), 'computerDnsName': name, 'healthStatus': 'Active',
            'osPlatform': 'Windows11'}


TARGET, MEDIUM, RESOLVED, BYSTANDER = (machine('ws-eda-%s.contoso.com' % n) for n in ('target', 'medium', 'resolved', 'idle'))
MACHINES = [TARGET, MEDIUM, RESOLVED, BYSTANDER]


# Set per test: the file that an evaluated title would create (it must never exist).
MARKER = {'path': None}


def hostile_title():
    return "{{ lookup('pipe', 'touch %s') }} Suspicious behaviour (an attacker-chosen title)" % MARKER['path']


def alert(alert_id, severity, host, status='New', minutes_ago=0.0):
    when = iso7(datetime.datetime.now(UTC) - datetime.timedelta(minutes=minutes_ago))
    return {'id': alert_id, 'severity': severity, 'status': status, 'title': hostile_title(),
            'description': "{{ lookup('pipe', 'touch %s') }}" % MARKER['path'],
            'machineId': host['id'], 'computerDnsName': host['computerDnsName'], 'alertCreationTime': when,
            'lastUpdateTime': when}


def run(cmd, **kwargs):
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, **kwargs)
    assert result.returncode == 0, '%s failed:\n%s\n%s' % (' '.join(cmd), result.stdout, result.stderr)
    return result


@pytest.fixture(scope='module')
def collections_dir(tmp_path_factory):
    """The collection as a user installs it: a built tarball, installed into a collections path."""
    work = tmp_path_factory.mktemp('collection')
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(work), ROOT])
    tarball = glob.glob(str(work / 'defender-atp-*.tar.gz'))[0]
    collections = work / 'collections'
    run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '--offline', '-p', str(collections), tarball])
    installed = collections / 'ansible_collections' / 'defender' / 'atp'
    for path in ('meta/extensions.yml', 'extensions/eda/plugins/event_source/alerts.py',
                 'extensions/eda/rulebooks/isolate_on_high_alert.yml', 'playbooks/isolate_alert_machine.yml'):
        assert (installed / path).is_file(), path
    return str(collections)


@pytest.fixture
def emulator(tmp_path):
    MARKER['path'] = str(tmp_path / 'MARKER-the-title-was-evaluated')
    process = EmulatorProcess(args=['--state-dir', str(tmp_path / 'emulator'), '--no-rate-limits'])
    process.start()
    process.set_config(pending_seconds=0.5, inprogress_seconds=0.5)
    process.set_data(machines=MACHINES, alerts=[alert('da_old_high', 'High', BYSTANDER, minutes_ago=90)])
    yield process
    process.stop()


def rulebook_env(collections_dir, emulator, tmp_path):
    """The environment of an ansible-rulebook run: the connection in AZURE_* / DEFENDER_ATP_*, as a credential gives."""
    info = emulator.info
    (tmp_path / 'inventory.yml').write_text(json.dumps(
        {'all': {'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}))
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(('AZURE_', 'DEFENDER_ATP_', 'ANSIBLE_')):
            del env[name]
    env.update({
        'PATH': BIN + os.pathsep + env.get('PATH', ''), 'ANSIBLE_COLLECTIONS_PATH': collections_dir,
        'ANSIBLE_LOCAL_TEMP': str(tmp_path / 'ansible-tmp'), 'HOME': str(tmp_path / 'home'),
        'AZURE_TENANT_ID': info['tenant_id'], 'AZURE_CLIENT_ID': info['client_id'],
        'AZURE_CLIENT_SECRET': info['client_secret'], 'DEFENDER_ATP_API_URL': info['url'],
        'DEFENDER_ATP_LOGIN_URL': info['url'], 'DEFENDER_ATP_GRAPH_URL': info['url'],
        'DEFENDER_ATP_CA_PATH': info['ca_path'], 'ANSIBLE_NOCOLOR': '1',
    })
    os.makedirs(env['HOME'])
    return env


def start_rulebook(rulebook, env, tmp_path):
    """ansible-rulebook with ``rulebook`` (a collection's rulebook name or a path), from an empty directory."""
    log_path = tmp_path / 'ansible-rulebook.log'
    with open(str(log_path), 'w') as log:
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            [os.path.join(BIN, 'ansible-rulebook'), '--rulebook', rulebook,
             '-i', str(tmp_path / 'inventory.yml'), '--vars', str(tmp_path / 'vars.yml'), '-v'],
            cwd=str(tmp_path / 'home'), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return process, log_path


def stop_rulebook(rulebook):
    os.killpg(rulebook.pid, signal.SIGINT)
    try:
        rulebook.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(rulebook.pid, signal.SIGKILL)
        rulebook.wait()


def test_a_high_alert_with_a_machine_gets_the_machine_isolated(collections_dir, emulator, tmp_path):
    env = rulebook_env(collections_dir, emulator, tmp_path)
    (tmp_path / 'vars.yml').write_text(json.dumps(
        {'defender_alerts_interval': 1, 'defender_alerts_state_file': str(tmp_path / 'alerts-state.json')}))
    # From an empty directory: the rulebook, source and playbook can only come from the installed collection.
    rulebook, log_path = start_rulebook('defender.atp.isolate_on_high_alert', env, tmp_path)
    try:
        def polled():
            assert rulebook.poll() is None, 'ansible-rulebook exited:\n' + log_path.read_text()
            return [e for e in emulator.requests_log() if e['path'] == '/api/alerts' and e['status'] == 200]

        emulator.wait_for(polled, timeout=120, interval=0.5)
        appeared = time.monotonic()
        emulator.set_data(machines=MACHINES, alerts=[
            alert('da_old_high', 'High', BYSTANDER, minutes_ago=90), alert('da_eda_high_1', 'High', TARGET),
            alert('da_eda_medium_1', 'Medium', MEDIUM), alert('da_eda_resolved_1', 'High', RESOLVED, status='Resolved')])

        def isolated():
            assert rulebook.poll() is None, 'ansible-rulebook exited:\n' + log_path.read_text()
            return emulator.machine_state(TARGET['id'])['isolated']

        emulator.wait_for(isolated, timeout=180, interval=0.5)
        seconds = time.monotonic() - appeared
        time.sleep(3)  # a few more polls: nothing else may happen
    finally:
        stop_rulebook(rulebook)
    output = log_path.read_text()
    print('\nisolated %.1f s after the alert appeared (rulebook interval 1 s)' % seconds)

    state = emulator.machine_state(TARGET['id'])
    isolations = [a for a in state['actions'] if a['type'] == 'Isolate']
    assert len(isolations) == 1, isolations
    assert isolations[0]['requestor'] == emulator.info['client_id']
    assert 'da_eda_high_1' in isolations[0]['requestorComment']
    assert isolations[0]['scope'] == 'Full'
    for other in (MEDIUM, RESOLVED, BYSTANDER):
        assert emulator.machine_state(other['id'])['actions'] == [], other['computerDnsName']
    log = emulator.requests_log()
    writes = [e for e in log if e['method'] == 'POST' and e['path'].startswith('/api/')]
    assert [e['path'] for e in writes] == ['/api/machines/%s/isolate' % TARGET['id']]
    # The playbook ran the role, which checked the token's permissions before isolating.
    checked = output.find('TASK [defender.atp.response : Fail naming every missing permission, before any action]')
    acted = output.find('TASK [defender.atp.response : Isolate machines]')
    assert 0 < checked < acted, output
    assert 'PLAY [Isolate the machine of a Defender alert]' in output
    # The playbook read the alert through atp_alert_info and printed its title: as data, never evaluated.
    assert 'Suspicious behaviour (an attacker-chosen title)' in output, output
    assert not os.path.exists(MARKER['path']), 'an alert title was evaluated as a template:\n' + output
    for secret in emulator.secrets():
        assert secret not in output
    state_file = tmp_path / 'alerts-state.json'
    assert oct(os.stat(str(state_file)).st_mode & 0o777) == '0o600'
    assert 'da_eda_high_1' in state_file.read_text()
    shutil.rmtree(str(tmp_path / 'home'), ignore_errors=True)


CARELESS_PLAYBOOK = """
- name: Print what the rule was given
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Print the alert of the event, as a careless runbook does
      ansible.builtin.debug:
        msg: "Alert {{ ansible_eda.event.alert.id }}: {{ ansible_eda.event.alert.title | default('(no title in the event)') }}"
    - name: Print the whole event
      ansible.builtin.debug:
        var: ansible_eda.event
"""


def test_an_event_never_carries_alert_text_that_ansible_would_evaluate(collections_dir, emulator, tmp_path):
    """A playbook that prints the event's alert must not run what an attacker wrote into the alert's title.

    Failed before: the event held the whole alert, and the title's lookup('pipe', 'touch ...') created the marker file.
    """
    env = rulebook_env(collections_dir, emulator, tmp_path)
    (tmp_path / 'vars.yml').write_text(json.dumps({}))
    playbook = tmp_path / 'print_event.yml'
    playbook.write_text(CARELESS_PLAYBOOK)
    rules = tmp_path / 'print_alerts.yml'
    rules.write_text(json.dumps([{
        'name': 'Print Defender alerts', 'hosts': 'all',
        'sources': [{'name': 'defender_alerts', 'defender.atp.alerts': {'interval': 1, 'since': '10m'}}],
        'rules': [{'name': 'Print each alert', 'condition': 'event.alert.severity == "High"',
                   'action': {'run_playbook': {'name': str(playbook)}}}]}]))
    emulator.set_data(machines=MACHINES, alerts=[alert('da_eda_marker_1', 'High', TARGET)])
    rulebook, log_path = start_rulebook(str(rules), env, tmp_path)
    try:
        def printed():
            assert rulebook.poll() is None, 'ansible-rulebook exited:\n' + log_path.read_text()
            return 'TASK [Print the whole event]' in log_path.read_text() and 'PLAY RECAP' in log_path.read_text()

        emulator.wait_for(printed, timeout=120, interval=0.5)
    finally:
        stop_rulebook(rulebook)
    output = log_path.read_text()
    assert 'Alert da_eda_marker_1: (no title in the event)' in output, output
    assert not os.path.exists(MARKER['path']), 'an alert title was evaluated as a template:\n' + output
