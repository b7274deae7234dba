# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The incident-response playbook through ansible-runner (the engine AWX uses), against the emulator.

The job is set up the way AWX sets one up: a private data dir with a project (a playbook that imports the
collection's ``defender.atp.incident_response``), an inventory, extra vars, and the environment the collection's
credential type injects (rendered from extensions/awx/credential_type.yml as AWX renders it), so this also tests the
credential's injectors end to end. Then no secret the emulator knows may appear in the job's artifacts.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import sys

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
PLAYBOOK = os.path.join(COLLECTION_ROOT, 'playbooks', 'incident_response.yml')
# Windows machines of the emulator's default tenant, not isolated yet (ws-eng-05 is tagged compromised). The runbook
# scans them too, and an antivirus scan is Windows only (run-av-scan.md): a macOS machine would be an error.
TARGETS = ['ws-eng-05.contoso.com', 'ws-finance-02.contoso.com']

ansible_runner = pytest.importorskip('ansible_runner')


def collections_path(tmp_path):
    """The directory holding ``ansible_collections/defender/atp`` for this checkout (a symlink when needed)."""
    path = COLLECTION_ROOT
    parent = os.path.dirname(os.path.dirname(path))
    if os.path.basename(parent) == 'ansible_collections' and os.path.basename(os.path.dirname(path)) == 'defender':
        return os.path.dirname(parent)
    root = tmp_path / 'collections'
    (root / 'ansible_collections' / 'defender').mkdir(parents=True)
    os.symlink(COLLECTION_ROOT, str(root / 'ansible_collections' / 'defender' / 'atp'))
    return str(root)


def ansible_bin(name):
    candidates = [os.path.join(os.path.dirname(sys.executable), name), os.path.join(sys.prefix, 'bin', name)]
    import ansible
    candidates.append(os.path.join(os.path.dirname(ansible.__file__), '..', '..', '..', '..', 'bin', name))
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    found = shutil.which(name)
    if not found:
        pytest.skip('%s is not installed' % name)
    return found


def write(path, content):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


@pytest.fixture
def private_data_dir(tmp_path, emu, credential_type, awx_injector):
    """An AWX-style private data dir: project, inventory, extra vars, and the credential's environment."""
    if not os.path.isfile(PLAYBOOK):
        pytest.skip('playbooks/incident_response.yml is not written yet')
    pdd = tmp_path / 'job'
    write(pdd / 'project' / 'site.yml', '---\n- name: Incident response\n'
          '  ansible.builtin.import_playbook: defender.atp.incident_response\n')
    write(pdd / 'inventory' / 'hosts', 'localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    with open(emu['ca_path']) as handle:
        ca_bundle = handle.read()
    env = awx_injector(credential_type, dict(
        tenant_id=emu['tenant_id'], client_id=emu['client_id'], client_secret=emu['client_secret'],
        login_url=emu['url'], api_url=emu['url'], graph_url=emu['url'], ca_bundle=ca_bundle), pdd)
    env.update(ANSIBLE_COLLECTIONS_PATH=collections_path(tmp_path), ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               DEFENDER_ATP_TOKEN_CACHE_DIR=str(tmp_path / 'token-cache'), ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-tmp'),
               ANSIBLE_HOME=str(tmp_path / 'ansible-home'),
               PATH=os.path.dirname(ansible_bin('ansible-playbook')) + os.pathsep + os.environ.get('PATH', ''))
    write(pdd / 'env' / 'envvars', yaml.safe_dump(env))
    write(pdd / 'env' / 'extravars', yaml.safe_dump(dict(
        ir_machines=TARGETS, ir_comment='IR-2026-0042: contain (ansible-runner test)', ir_alerts_since='30d')))
    return pdd


def test_incident_response_playbook_through_ansible_runner(private_data_dir, fresh_emulator, emu):
    machine_ids = sorted(m['id'] for m in _machines(fresh_emulator) if m['computerDnsName'] in TARGETS)
    fresh_emulator.reset()  # the request log now holds the job's requests only
    result = ansible_runner.run(private_data_dir=str(private_data_dir), playbook='site.yml', quiet=True,
                                suppress_env_files=True, verbosity=2, timeout=600)
    artifacts = result.config.artifact_dir
    stdout = _read(os.path.join(artifacts, 'stdout'))
    assert result.status == 'successful', stdout[-6000:]
    assert result.rc == 0

    # Events as AWX stores them: the play ran on localhost, every task ended ok or changed, nothing failed.
    events = list(result.events)
    kinds = [event['event'] for event in events]
    assert 'playbook_on_start' in kinds and kinds[-1] == 'playbook_on_stats'
    assert not [event for event in events if event['event'] in ('runner_on_failed', 'runner_on_unreachable')
                and not event.get('event_data', {}).get('ignore_errors')]
    stats = result.stats
    assert stats['failures'] == {} and stats['dark'] == {} and stats['ok'].get('localhost', 0) > 3
    assert stats['changed'].get('localhost', 0) >= 1  # the isolation
    modules = set(event['event_data'].get('resolved_action') or event['event_data'].get('task_action')
                  for event in events if event['event'] == 'runner_on_ok')
    assert {'defender.atp.atp_token', 'defender.atp.atp_machine_isolate'} <= modules, modules
    assert os.path.isdir(os.path.join(artifacts, 'job_events')) and os.listdir(os.path.join(artifacts, 'job_events'))

    # The emulator saw the isolation of the named machine, and one token request per audience at most.
    log = fresh_emulator.requests_log()
    isolations = [entry for entry in log if entry['method'] == 'POST' and entry['path'].endswith('/isolate')]
    assert sorted(entry['path'] for entry in isolations) == ['/api/machines/%s/isolate' % i for i in machine_ids]
    assert len([entry for entry in log if entry.get('family') == 'token']) == 2  # Defender and Graph, once each

    # No secret the emulator knows appears in the job's output: stdout, the events AWX stores, status files.
    # (artifacts/<id>/command is ansible-runner's record of the command and the environment it was given, like
    # env/envvars: an input, not output.)
    secrets = [value for value in fresh_emulator.secrets() if isinstance(value, str) and len(value) >= 8]
    assert secrets
    leaks = []
    for directory, _dirs, files in os.walk(artifacts):
        for name in files:
            if name == 'command' and directory == artifacts:
                continue
            text = _read(os.path.join(directory, name))
            for secret in secrets:
                for needle in _needles(secret):
                    if needle in text:
                        leaks.append(os.path.relpath(os.path.join(directory, name), artifacts))
    assert not leaks, 'secrets found in %s' % sorted(set(leaks))


def _machines(emulator):
    status, body, _headers = emulator.call('GET', '/api/machines?$top=10000',
                                           headers={'Authorization': 'Bearer ' + emulator.token()})
    assert status == 200
    return body['value']


def _needles(secret):
    needles = {secret, json.dumps(secret)[1:-1]}
    for line in secret.splitlines():
        if len(line.strip()) >= 40 and not line.startswith('-----'):
            needles.add(line.strip())
    return [needle for needle in needles if len(needle) >= 8]


def _read(path):
    with open(path, 'rb') as handle:
        return handle.read().decode('utf-8', 'replace')
