# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""defender.atp.machines against the emulator: names, variables, groups, filters, paging, failures and caching."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os

import pytest

from ansible.errors import AnsibleError, AnsibleParserError

from ansible_collections.defender.atp.plugins.inventory import machines as machines_module
from ansible_collections.defender.atp.plugins.module_utils._connection import resolve_connection_options
from ansible_collections.defender.atp.plugins.module_utils._connection import CONNECTION_ARGSPEC
from ansible_collections.defender.atp.plugins.plugin_utils._connection import PluginConnection


# From the emulator's default Contoso tenant (tests/emulator/data.py).
COMPROMISED = ['mac-design-01.contoso.com', 'srv-web-02.contoso.com', 'ws-eng-05.contoso.com', 'ws-finance-03.contoso.com']
MYMACHINE_ID = '1e5bc9d7e413ddd7902c2932e418702b84d0cc07'


def host_vars(inventory, name):
    return dict(inventory.get_host(name).vars)


def group_hosts(inventory, name):
    group = inventory.groups.get(name)
    return sorted(h.name for h in group.get_hosts()) if group else []


def machine_requests(emulator):
    return [entry for entry in emulator.requests_log() if entry.get('family') == 'machines']


def token_requests(emulator):
    return [entry for entry in emulator.requests_log() if entry.get('family') == 'token']


def all_machines(emulator):
    status, body, _headers = emulator.call('GET', '/api/machines?$top=10000', headers={
        'Authorization': 'Bearer ' + emulator.token()})
    assert status == 200
    return body['value']


# -- verify_file --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name, accepted', [
    ('fleet.defender.yml', True), ('fleet.defender.yaml', True), ('defender.yml', True), ('defender.yaml', True),
    ('FLEET.DEFENDER.YML', True), ('fleet.yml', False), ('defender.json', False), ('fleet.defender.yml.bak', False),
    ('hosts', False),
])
def test_verify_file(inv, tmp_path, name, accepted):
    path = tmp_path / name
    path.write_text('plugin: defender.atp.machines\n')
    assert bool(inv.plugin().verify_file(str(path))) is accepted


def test_verify_file_needs_an_existing_file(inv, tmp_path):
    assert not inv.plugin().verify_file(str(tmp_path / 'missing.defender.yml'))


# -- hosts and host variables -------------------------------------------------------------------------------------------

def test_every_machine_is_one_host_with_prefixed_snake_case_variables(inv, fresh_emulator):
    inventory = inv.parse()
    machines = all_machines(fresh_emulator)
    assert len(inventory.hosts) == len(machines) > 30
    variables = host_vars(inventory, 'mymachine1.contoso.com')
    assert variables['defender_id'] == MYMACHINE_ID
    assert variables['defender_computer_dns_name'] == 'mymachine1.contoso.com'
    assert variables['defender_risk_score'] == 'Low'
    assert variables['defender_health_status'] == 'Active'
    assert variables['defender_os_platform'] == 'Windows10'
    assert variables['defender_tags'] == ['test tag 1', 'test tag 2']
    assert variables['defender_rbac_group_name'] == 'The-A-Team'
    assert variables['defender_rbac_group_id'] == 140
    assert variables['defender_last_ip_address'] == '172.17.230.209'
    assert variables['defender_aad_device_id'] == '80fe8ff8-2624-418e-9591-41f0491218f9'
    assert variables['defender_is_aad_joined'] is True
    assert variables['defender_os_build'] == 18209
    assert variables['defender_last_seen'].endswith('Z')
    assert 'defender_machine_tags' not in variables
    assert not any(name.startswith('defender_defender') for name in variables)
    assert variables['defender_ip_addresses'][0]['ip_address']
    assert set(variables['defender_ip_addresses'][0]) >= {'ip_address', 'mac_address', 'type', 'operational_status'}
    # No connection variable: modules run on the controller and take ids or names.
    assert not any(name.startswith('ansible_') for name in variables)
    # Every field of the API's entity is there, under its snake_cased name.
    entity = [m for m in machines if m['id'] == MYMACHINE_ID][0]
    for field in entity:
        expected = machines_module.RENAMED_FIELDS.get(field) or machines_module.snake_case(field)
        assert 'defender_' + expected in variables, field


def test_hostvars_prefix(inv):
    inventory = inv.parse(hostvars_prefix='mde_')
    variables = host_vars(inventory, 'mymachine1.contoso.com')
    assert variables['mde_id'] == MYMACHINE_ID and variables['mde_tags'] == ['test tag 1', 'test tag 2']
    assert not any(name.startswith('defender_') for name in variables)


@pytest.mark.parametrize('field, expected', [
    ('computerDnsName', 'computer_dns_name'), ('lastIpAddress', 'last_ip_address'), ('isAadJoined', 'is_aad_joined'),
    ('aadDeviceId', 'aad_device_id'), ('osBuild', 'os_build'), ('rbacGroupId', 'rbac_group_id'), ('id', 'id'),
    ('lastExternalIPAddress', 'last_external_ip_address'), ('vmMetadata', 'vm_metadata'),
])
def test_snake_case(field, expected):
    assert machines_module.snake_case(field) == expected


def test_secrets_never_reach_host_variables(inv, emu):
    inventory = inv.parse()
    dump = json.dumps(dict((h, inventory.get_host(h).vars) for h in inventory.hosts), default=str)
    for secret in (emu['client_secret'], emu['password'], emu['certificate_password']):
        assert secret not in dump


# -- hostnames ----------------------------------------------------------------------------------------------------------

def test_hostnames_default_is_dns_name_then_id(inv, fresh_emulator):
    inventory = inv.parse()
    machines = all_machines(fresh_emulator)
    names = [m['computerDnsName'].lower() for m in machines]
    unique = set(m['computerDnsName'] for m in machines if names.count(m['computerDnsName'].lower()) == 1)
    assert len(unique) == len(machines) - 2  # the re-imaged device's two records share one name
    assert unique <= set(inventory.hosts)
    assert 'WS-Sales-01.Contoso.com' in inventory.hosts  # names are kept as Defender writes them


def test_hostnames_by_id(inv, fresh_emulator):
    inventory = inv.parse(hostnames=['id'])
    assert set(inventory.hosts) == set(m['id'] for m in all_machines(fresh_emulator))


def test_hostnames_precedence_falls_through_missing_values(inv, fresh_emulator):
    machines = all_machines(fresh_emulator)
    inventory = inv.parse(hostnames=['aadDeviceId', 'computerDnsName'])
    for machine in machines:
        if machine.get('aadDeviceId'):
            assert machine['aadDeviceId'] in inventory.hosts
    server = [m for m in machines if m['computerDnsName'] == 'srv-dc-01.contoso.com'][0]
    assert not server.get('aadDeviceId') and 'srv-dc-01.contoso.com' in inventory.hosts


def test_hostnames_by_ip(inv, fresh_emulator):
    inventory = inv.parse(hostnames=['lastIpAddress', 'id'])
    assert host_vars(inventory, '172.17.230.209')['defender_id'] == MYMACHINE_ID


def test_assign_hostnames_keeps_api_order_and_never_hands_out_a_shared_name():
    """0.1.0 to 0.3.0 gave a shared name to the newest lastSeen; now a name two records hold names neither."""
    machines = [
        dict(id='a', computerDnsName='x', lastSeen='2026-01-01T00:00:00Z'),
        dict(id='b', computerDnsName='X.', lastSeen='2026-02-01T00:00:00Z'),
        dict(id='c', computerDnsName=None, lastSeen=None),
        dict(id='d', computerDnsName='y', lastSeen='2026-01-05T00:00:00Z'),
    ]
    named, report = machines_module.assign_hostnames(machines, ['computerDnsName', 'id'])
    assert named == [('a', machines[0]), ('b', machines[1]), ('c', machines[2]), ('y', machines[3])]
    assert report.shared == {'x': ['a', 'b']} and not report.refused and not report.unnamed


def test_a_name_with_a_brace_never_names_a_host():
    """Host names are plain text (not marked unsafe), so a value that could be part of a template is never one."""
    machines = [
        dict(id='a' * 40, computerDnsName="{{ lookup('pipe', 'id') }}", lastIpAddress='10.0.0.1'),
        dict(id='b' * 40, computerDnsName='half-{', lastIpAddress='10.0.0.2'),
        dict(id='c' * 40, computerDnsName='clean', lastIpAddress='10.0.0.3'),
        dict(id='{{ 1 }}', computerDnsName='}}'),
    ]
    named, report = machines_module.assign_hostnames(machines, ['computerDnsName', 'lastIpAddress'])
    assert [name for name, _machine in named] == ['10.0.0.1', '10.0.0.2', 'clean']
    assert len(report.refused) == 3 and report.unnamed == 1  # the last one's id is no host name either
    assert all(name.__class__ is str for name, _machine in named)
    from ansible.utils.unsafe_proxy import wrap_var
    named, _report = machines_module.assign_hostnames(wrap_var(machines[2:3]), ['computerDnsName'])
    assert named[0][0] == 'clean' and named[0][0].__class__ is str  # plain text even from unsafe data


# -- constructed: compose, groups, keyed_groups --------------------------------------------------------------------------

KEYED = [
    dict(key='defender_tags', prefix='defender_tag'),
    dict(key='osPlatform', prefix='defender_os'),
    dict(key='defender_risk_score', prefix='defender_risk'),
    dict(key='healthStatus', prefix='defender_health'),
    dict(key="rbacGroupName | lower", prefix='defender_rbac'),
]


def test_keyed_groups_by_tag_os_risk_health_and_rbac_group(inv, fresh_emulator):
    inventory = inv.parse(keyed_groups=KEYED)
    machines = all_machines(fresh_emulator)
    assert group_hosts(inventory, 'defender_tag_compromised') == COMPROMISED
    assert group_hosts(inventory, 'defender_tag_test_tag_1') == ['mymachine1.contoso.com']
    assert group_hosts(inventory, 'defender_tag_Bob_s_PC') == ['ws-support-01.contoso.com']
    linux = sorted(m['computerDnsName'] for m in machines if m['osPlatform'] == 'Linux')
    assert group_hosts(inventory, 'defender_os_Linux') == linux
    high = set(m['computerDnsName'] for m in machines if m['riskScore'] == 'High')
    assert set(group_hosts(inventory, 'defender_risk_High')) == high
    assert 'srv-ca-01.contoso.com' in group_hosts(inventory, 'defender_health_ImpairedCommunication')
    assert 'ws-finance-01.contoso.com' in group_hosts(inventory, 'defender_rbac_finance')


def test_no_group_unless_configured(inv):
    inventory = inv.parse()
    assert set(inventory.groups) == {'all', 'ungrouped'}


def test_groups_and_compose(inv, fresh_emulator):
    machines = all_machines(fresh_emulator)
    inventory = inv.parse(
        compose=dict(ansible_host='defender_last_ip_address', short_name='inventory_hostname_short',
                     risky="defender_risk_score in ['High', 'Medium']"),
        groups=dict(risky_windows="osPlatform.startswith('Windows') and risky",
                    finance_vip="'vip' in defender_tags and defender_rbac_group_name == 'Finance'"))
    variables = host_vars(inventory, 'mymachine1.contoso.com')
    assert variables['ansible_host'] == '172.17.230.209'
    assert variables['short_name'] == 'mymachine1'
    assert variables['risky'] is False
    expected = sorted(m['computerDnsName'] for m in machines
                      if m['osPlatform'].startswith('Windows') and m['riskScore'] in ('High', 'Medium')
                      and m['computerDnsName'] != 'ws-reimaged.contoso.com')
    assert [h for h in group_hosts(inventory, 'risky_windows') if h != 'ws-reimaged.contoso.com'] == expected
    assert group_hosts(inventory, 'finance_vip') == ['ws-finance-02.contoso.com']


def test_remembered_expression_results_match_templating_each_host(inv):
    """Results remembered per combination of the variables an expression reads equal a fresh evaluation."""
    options = dict(keyed_groups=[dict(key="defender_os_platform ~ '_' ~ defender_risk_score", prefix='combo')],
                   groups=dict(stale="defender_health_status != 'Active'"))
    fast = inv.parse(**options)
    slow = inv.parse(use_extra_vars=True, **options)  # extra vars switch remembering off
    for group in set(fast.groups) | set(slow.groups):
        assert group_hosts(fast, group) == group_hosts(slow, group), group
    assert group_hosts(fast, 'stale')


CONSTRUCTED_EVERYTHING = dict(
    compose=dict(ansible_host='defender_last_ip_address', risky="defender_risk_score in ['High', 'Medium']",
                 label="defender_os_platform ~ '-' ~ (defender_tags | length)", short='inventory_hostname_short'),
    groups=dict(risky_windows="osPlatform.startswith('Windows') and risky", stale="defender_health_status != 'Active'",
                vip="'vip' in defender_tags"),
    keyed_groups=[dict(key='defender_tags', prefix='tag'), dict(key="defender_os_platform ~ '_' ~ defender_risk_score",
                                                                prefix='combo'),
                  dict(key="{'risk': defender_risk_score}", separator='-'),
                  dict(key='defender_rbac_group_name', prefix='rbac', default_value='none', parent_group='rbac_groups'),
                  dict(key='defender_exposure_level | lower', prefix='exposure', trailing_separator=False)],
)


def test_overrides_build_what_plain_constructable_builds(inv, monkeypatch):
    """The remembered-results overrides of _compose and _add_host_to_composed_groups change no result.

    Compared with ansible-core's own Constructable methods, on whichever ansible-core runs the tests.
    """
    from ansible.plugins.inventory import Constructable
    fast = inv.parse(**CONSTRUCTED_EVERYTHING)
    cls = type(inv.plugin())
    monkeypatch.setattr(cls, '_compose', Constructable._compose)
    monkeypatch.setattr(cls, '_add_host_to_composed_groups', Constructable._add_host_to_composed_groups)
    plain = inv.parse(**CONSTRUCTED_EVERYTHING)
    assert set(fast.groups) == set(plain.groups)
    assert len(fast.groups) > 20
    for group in plain.groups:
        assert group_hosts(fast, group) == group_hosts(plain, group), group
        assert sorted(g.name for g in fast.groups[group].child_groups) == sorted(g.name for g in plain.groups[group].child_groups)
    for host in plain.hosts:
        assert host_vars(fast, host) == host_vars(plain, host), host


def test_constructable_overrides_keep_the_signatures():
    """Every argument Constructable's helpers may pass is accepted by the overrides, on this ansible-core."""
    import inspect
    from ansible.plugins.inventory import Constructable
    for name in ('_compose', '_add_host_to_composed_groups'):
        ours = inspect.signature(getattr(machines_module.InventoryModule, name)).parameters
        takes_any = any(p.kind == p.VAR_KEYWORD for p in ours.values())
        for parameter in inspect.signature(getattr(Constructable, name)).parameters:
            assert parameter in ours or takes_any, (name, parameter)


def test_strict_reports_a_broken_expression(inv):
    with pytest.raises(AnsibleError, match='no_such_variable'):
        inv.parse(strict=True, compose=dict(x='no_such_variable + 1'))
    inventory = inv.parse(strict=False, compose=dict(x='no_such_variable + 1'))
    assert 'x' not in host_vars(inventory, 'mymachine1.contoso.com')


def test_expression_reads():
    reads = machines_module.ExpressionReads()
    assert reads.names("osPlatform.startswith('Windows') and 'vip' in defender_tags") == {'osPlatform', 'defender_tags'}
    assert reads.names("lookup('env', 'HOME')") is None
    assert reads.names('defender_id | random') is None
    assert reads.key('groups', 'a == 1', dict(b=1)) is None
    assert reads.key('groups', 'a == 1', dict(a=1)) == reads.key('groups', 'a == 1', dict(a=1, b=2))


# -- filters ------------------------------------------------------------------------------------------------------------

def plugin_with(inv, **options):
    from ansible.parsing.dataloader import DataLoader
    plugin = inv.plugin()
    plugin.loader = DataLoader()
    plugin._read_config_data(inv.write(**options))
    return plugin


def test_filter_building_quotes_every_value(inv):
    plugin = plugin_with(inv, filter="healthStatus eq 'Active' or healthStatus eq 'Inactive'",
                         tags=["Bob's PC", 'vip'], risk_score=['High'], os_platform=['Linux', 'macOS'])
    # Tags are no part of it: they are compared on the controller, case-insensitively (see test_inventory_tags_*).
    assert plugin.build_filter() == (
        "(healthStatus eq 'Active' or healthStatus eq 'Inactive') and (osPlatform eq 'Linux' or osPlatform eq 'macOS') "
        "and riskScore eq 'High'")


def test_filter_building_last_seen_since(inv):
    plugin = plugin_with(inv, last_seen_since='7d')
    now = datetime.datetime(2026, 3, 10, 12, 0, 0, tzinfo=datetime.timezone.utc)
    assert plugin.build_filter(now=now) == 'lastSeen gt 2026-03-03T12:00:00Z'
    assert plugin_with(inv).build_filter() is None


def test_bad_last_seen_since_is_an_option_error(inv):
    with pytest.raises(AnsibleParserError, match='last_seen_since'):
        inv.parse(last_seen_since='yesterday-ish')


@pytest.mark.parametrize('options, expected', [
    (dict(filter="startswith(computerDnsName,'srv-web')"), ['srv-web-01.contoso.com', 'srv-web-02.contoso.com']),
    (dict(tags=['prod'], risk_score=['High']), ['srv-exch-01.contoso.com', 'srv-web-02.contoso.com']),
    (dict(onboarding_status=['CanBeOnboarded', 'Unsupported']), ['byod-01.contoso.com', 'iot-cam-01.contoso.com']),
    (dict(health_status=['NoSensorData', 'NoSensorDataImpairedCommunication']),
     ['lnx-build-02.contoso.com', 'ws-eng-04.contoso.com']),
])
def test_filters_are_applied_by_the_api(inv, fresh_emulator, options, expected):
    inventory = inv.parse(**options)
    assert sorted(inventory.hosts) == expected
    requests = machine_requests(fresh_emulator)
    assert len(requests) == 1 and requests[0]['query'].get('$filter')


def test_a_filter_over_the_node_limit_is_read_in_batches(inv, fresh_emulator):
    """25 platforms are 124 nodes: ASP.NET OData (and the emulator) refuse more than 100 in one $filter. 0.1.0 sent them
    in one request and the inventory failed with a 400; now the longest list is batched, the rest ANDed to each batch."""
    platforms = ['Linux'] + ['NoSuchPlatform%02d' % n for n in range(24)]
    inventory = inv.parse(os_platform=platforms, risk_score=['High', 'Medium', 'Low', 'None', 'Informational'],
                          tags=['compromised'])
    requests = machine_requests(fresh_emulator)
    assert sorted(inventory.hosts) == sorted(
        m['computerDnsName'] for m in all_machines(fresh_emulator)
        if 'compromised' in [t.lower() for t in m.get('machineTags') or []] and m.get('osPlatform') == 'Linux'
        and m.get('riskScore') in ('High', 'Medium', 'Low', 'None', 'Informational')) == ['srv-web-02.contoso.com']
    assert len(requests) >= 2 and all(r['status'] == 200 for r in requests)
    assert all("riskScore eq 'High'" in r['query']['$filter'] for r in requests)  # the shorter list goes with each batch


def test_a_batch_the_api_still_refuses_is_split(inv, fresh_emulator):
    fresh_emulator.set_config(max_node_count=40)
    platforms = ['macOS'] + ['NoSuchPlatform%02d' % n for n in range(15)]  # 79 nodes: one batch of 60 is refused at 40
    inventory = inv.parse(os_platform=platforms)
    assert sorted(inventory.hosts) == ['mac-design-01.contoso.com', 'mac-design-02.contoso.com', 'mac-exec-01.contoso.com']
    statuses = [r['status'] for r in machine_requests(fresh_emulator)]
    assert 400 in statuses and statuses[-1] == 200


def test_last_seen_since_leaves_out_stale_records(inv, fresh_emulator):
    inventory = inv.parse(last_seen_since='2d')
    assert 'ws-offline-01.contoso.com' not in inventory.hosts  # last seen 9 days ago
    assert 'mymachine1.contoso.com' in inventory.hosts
    assert host_vars(inventory, 'ws-reimaged.contoso.com')['defender_health_status'] == 'Active'


def test_invalid_filter_fails_with_the_api_message(inv):
    with pytest.raises(AnsibleError, match=r'(?s)HTTP 400.*\$filter'):
        inv.parse(filter="noSuchField eq 'x'")


# -- paging and failures ------------------------------------------------------------------------------------------------

def test_pages_with_top_and_skip(inv, fresh_emulator):
    total = len(all_machines(fresh_emulator))
    fresh_emulator.reset()
    inventory = inv.parse(page_size=10)
    assert len(inventory.hosts) == total
    requests = machine_requests(fresh_emulator)
    assert [r['query'].get('$skip') for r in requests] == [None] + [str(n) for n in range(10, total + 1, 10)]
    assert all(r['query']['$top'] == '10' for r in requests)
    assert len(token_requests(fresh_emulator)) == 1


def test_a_page_that_fails_after_retries_fails_the_source_without_partial_hosts(inv, fresh_emulator):
    fresh_emulator.add_fault(path='^/api/machines$', method='GET', status=503, retry_after=0, skip=1)
    path = inv.write(page_size=10, max_retries=2)
    with pytest.raises(AnsibleError, match='HTTP 503'):
        inv.parse(path)
    requests = machine_requests(fresh_emulator)
    assert len(requests) == 1 + 3  # the first page, then the second page three times (two retries)
    # Through InventoryManager (ansible-playbook, ansible-inventory): the source yields no host at all.
    manager = inv.manager(path)
    assert not manager.hosts
    assert not manager.groups['ungrouped'].get_hosts()


def test_a_page_that_fails_stops_ansible_when_unparsed_sources_are_fatal(inv, fresh_emulator, monkeypatch):
    from ansible import constants as C
    fresh_emulator.add_fault(path='^/api/machines$', method='GET', status=500, retry_after=0, skip=1)
    monkeypatch.setattr(C, 'INVENTORY_ANY_UNPARSED_IS_FAILED', True, raising=False)
    with pytest.raises(AnsibleError):
        inv.manager(page_size=10, max_retries=0)


def test_a_transient_page_failure_is_retried(inv, fresh_emulator):
    total = len(all_machines(fresh_emulator))
    fresh_emulator.add_fault(path='^/api/machines$', method='GET', status=429, retry_after=0, skip=1, times=2)
    inventory = inv.parse(page_size=10)
    assert len(inventory.hosts) == total


def test_missing_permission_names_it(inv, fresh_emulator):
    token = fresh_emulator.mint_token(roles=['Alert.Read.All'])
    conn = dict((k, v) for k, v in inv.conn.items() if k not in ('client_id', 'client_secret'))
    path = inv.write(connection=False, access_token=token, **conn)
    with pytest.raises(AnsibleError, match='Machine.Read.All'):
        inv.parse(path)


def test_option_errors_are_parser_errors(inv):
    with pytest.raises(AnsibleParserError, match='page_size'):
        inv.parse(page_size=0)
    path = inv.write(connection=False, api_url=inv.conn['api_url'], login_url=inv.conn['login_url'])
    with pytest.raises(AnsibleParserError, match='No credentials given'):
        inv.parse(path)


# -- connection from the environment --------------------------------------------------------------------------------------

def test_connection_from_the_modules_environment_variables(inv, emu, monkeypatch):
    monkeypatch.setenv('AZURE_TENANT_ID', emu['tenant_id'])
    monkeypatch.setenv('AZURE_CLIENT_ID', emu['client_id'])
    monkeypatch.setenv('AZURE_CLIENT_SECRET', emu['client_secret'])
    monkeypatch.setenv('DEFENDER_ATP_API_URL', emu['url'])
    monkeypatch.setenv('DEFENDER_ATP_LOGIN_URL', emu['url'])
    monkeypatch.setenv('DEFENDER_ATP_CA_PATH', emu['ca_path'])
    monkeypatch.setenv('DEFENDER_ATP_TOKEN_CACHE', 'false')
    # An AWX credential injects blank inputs as empty variables: they count as unset.
    for name in ('AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_CLIENT_CERTIFICATE_PASSWORD', 'AZURE_USERNAME', 'AZURE_PASSWORD',
                 'DEFENDER_ATP_REGION', 'DEFENDER_ATP_GRAPH_URL'):
        monkeypatch.setenv(name, '')
    inventory = inv.parse(inv.write(connection=False))
    assert 'mymachine1.contoso.com' in inventory.hosts


def test_connection_options_may_be_templates(inv, emu, monkeypatch):
    monkeypatch.setenv('MY_DEFENDER_SECRET', emu['client_secret'])
    conn = dict(inv.conn, client_secret="{{ lookup('ansible.builtin.env', 'MY_DEFENDER_SECRET') }}")
    path = inv.write(connection=False, **conn)
    assert 'mymachine1.contoso.com' in inv.parse(path).hosts


def test_one_token_per_run_and_the_shared_token_cache(inv, fresh_emulator):
    path = inv.write(token_cache=True)
    inv.parse(path)
    assert len(token_requests(fresh_emulator)) == 1
    fresh_emulator.reset()
    inv.parse(path)
    assert token_requests(fresh_emulator) == []
    assert len(machine_requests(fresh_emulator)) == 1


# -- inventory cache ----------------------------------------------------------------------------------------------------

def cache_options(tmp_path):
    return dict(cache=True, cache_plugin='ansible.builtin.jsonfile', cache_connection=str(tmp_path / 'inventory-cache'),
                cache_timeout=600)


def test_a_cache_hit_makes_no_api_request(inv, fresh_emulator, tmp_path, emu):
    path = inv.write(keyed_groups=KEYED, **cache_options(tmp_path))
    first = inv.parse(path, cache=True)
    assert len(machine_requests(fresh_emulator)) == 1
    fresh_emulator.reset()
    second = inv.parse(path, cache=True)
    # No machines request; one token request proves the credential before the cache is served (token_cache is off
    # in these tests; with the token cache on, a cached token does it without any request, see below).
    assert machine_requests(fresh_emulator) == []
    assert len(token_requests(fresh_emulator)) == 1
    assert sorted(second.hosts) == sorted(first.hosts)
    assert group_hosts(second, 'defender_tag_compromised') == COMPROMISED
    assert host_vars(second, 'mymachine1.contoso.com')['defender_id'] == MYMACHINE_ID
    # --flush-cache (cache=False) reads the API again and refreshes the cache.
    inv.parse(path, cache=False)
    assert len(machine_requests(fresh_emulator)) == 1
    # The cache holds machines, never a secret; its key names no secret.
    files = os.listdir(str(tmp_path / 'inventory-cache'))
    assert files
    for name in files:
        with open(str(tmp_path / 'inventory-cache' / name)) as handle:
            content = handle.read()
        for secret in (emu['client_secret'], emu['password']):
            assert secret not in content and secret not in name


def test_the_cache_key_follows_the_filters_and_the_caller(inv, fresh_emulator, tmp_path):
    options = cache_options(tmp_path)
    path = inv.write(**options)
    inv.parse(path)
    first_key = inv.last_plugin._cache_key(path, _identity_only(inv.last_plugin))
    fresh_emulator.reset()
    tagged = inv.write(tags=['compromised'], **options)
    assert sorted(inv.parse(tagged).hosts) == COMPROMISED  # another filter: not served from the first entry
    assert len(machine_requests(fresh_emulator)) == 1
    other = inv.last_plugin._cache_key(tagged, _identity_only(inv.last_plugin))
    assert other != first_key


class _identity_only(object):
    def __init__(self, plugin):
        self.plugin = plugin

    def identity(self):
        return dict(tenant='t', client='c')


def test_a_cache_hit_with_the_token_cache_makes_no_request_at_all(inv, fresh_emulator, tmp_path):
    path = inv.write(token_cache=True, **cache_options(tmp_path))
    inv.parse(path)
    fresh_emulator.reset()
    assert 'mymachine1.contoso.com' in inv.parse(path).hosts
    assert fresh_emulator.requests_log() == []


def test_a_wrong_secret_is_refused_even_with_a_warm_cache(inv, fresh_emulator, tmp_path):
    """The cache key names no secret, so the credential must be proved before the cached machines are served.

    Fails on 0.1.0, which returned every cached machine to a wrong or revoked secret until cache_timeout.
    """
    options = cache_options(tmp_path)
    assert 'mymachine1.contoso.com' in inv.parse(inv.write(**options)).hosts
    fresh_emulator.reset()
    # The same file (the same cache key) with the secret changed.
    path = inv.write(connection=False, **dict(inv.conn, client_secret='not-the-secret', **options))
    with pytest.raises(AnsibleError, match='AADSTS7000215'):
        inv.parse(path)
    assert machine_requests(fresh_emulator) == []
    # Through InventoryManager (ansible-playbook): the source yields no host at all.
    assert not inv.manager(path).hosts


def test_the_cache_key_depends_on_the_authority_and_the_api_base(inv, tmp_path):
    path = inv.write(**cache_options(tmp_path))
    inv.parse(path)
    plugin = inv.last_plugin

    def key(**values):
        params = dict(inv.conn, **values)
        params = dict((name, params.get(name)) for name in CONNECTION_ARGSPEC)
        connection = PluginConnection(resolve_connection_options(params), 'test')
        try:
            return plugin._cache_key(path, connection)
        finally:
            connection.close()

    base = key()
    assert key(login_url='https://login.example') != base
    assert key(api_url='https://api.example') != base
    assert key(client_secret='another secret') == base  # no secret in the key


# -- ansible-core versions: options, unsafe data, raw filters --------------------------------------------------------------

def test_options_written_in_the_file_win_over_the_environment(inv, emu, monkeypatch):
    """Every connection option in the file, other values in the environment: the file's are used.

    Fails on 0.1.0 with ansible-core 2.16 and 2.17 ("No credentials given"): the plugin asked get_option_and_origin,
    which there ignores the file and re-reads only the environment and the defaults.
    """
    monkeypatch.setenv('AZURE_TENANT_ID', emu['other_tenant_id'])
    monkeypatch.setenv('AZURE_CLIENT_ID', emu['other_client_id'])
    monkeypatch.setenv('AZURE_CLIENT_SECRET', emu['other_client_secret'])
    inventory = inv.parse()
    assert 'mymachine1.contoso.com' in inventory.hosts
    assert not any(name.endswith('fabrikam.com') for name in inventory.hosts)


PAYLOAD = "{{ lookup('pipe', 'touch %s') }}"


def payload_machines(marker):
    """Machines whose device-controlled fields are Jinja2 templates that would create ``marker``-* if evaluated."""
    def payload(kind):
        return PAYLOAD % ('%s-%s' % (marker, kind))
    return [
        dict(id='a' * 40, computerDnsName=payload('dns'), machineTags=[payload('tag'), '{{ 7 * 191 }}', 'plain'],
             osVersion=payload('os'), rbacGroupName=payload('rbac'), osPlatform='Windows10', healthStatus='Active',
             riskScore='High', lastSeen='2026-01-01T00:00:00Z'),
        dict(id='b' * 40, computerDnsName='clean.contoso.com', machineTags=['{% if true %}evaluated{% endif %}'],
             osVersion='10.0', rbacGroupName=payload('rbac2'), osPlatform='Linux', healthStatus='Active', riskScore='Low',
             lastSeen='2026-01-01T00:00:00Z'),
    ]


PAYLOAD_CONSTRUCTED = dict(
    groups=dict(risky="defender_risk_score == 'High' and defender_tags | length > 0 and defender_os_version is string",
                named="defender_rbac_group_name ~ defender_computer_dns_name != ''"),
    compose=dict(my_tags='defender_tags', my_os="defender_os_version ~ ''", my_name='computerDnsName',
                 my_rbac="rbacGroupName | lower"),
    keyed_groups=[dict(key='defender_tags', prefix='tag'), dict(key='rbacGroupName', prefix='rbac'),
                  dict(key="defender_os_version ~ '-'", prefix='os')],
)


def template_like_a_play(inventory, host, expression):
    """Template ``expression`` with the host's variables, as a task printing them would."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    try:
        from ansible.template import trust_as_template  # ansible-core 2.19+: only trusted strings are templates
    except ImportError:
        def trust_as_template(value):
            return value
    templar = Templar(loader=DataLoader(), variables=dict(inventory.get_host(host).get_vars()))
    return templar.template(trust_as_template(expression))


@pytest.mark.parametrize('cached', [False, True], ids=['from-the-api', 'from-the-cache'])
def test_api_data_is_never_evaluated(inv, fresh_emulator, tmp_path, cached):
    """Payloads in a tag, the DNS name, osVersion and rbacGroupName stay literal text, from the API and the cache.

    Fails on 0.1.0 with ansible-core 2.16-2.18: the groups expressions ran the lookups while the inventory was built,
    and templating a host variable ran them again.
    """
    marker = str(tmp_path / 'pwned')
    machines = payload_machines(marker)
    fresh_emulator.set_data(machines=machines)
    options = dict(PAYLOAD_CONSTRUCTED, **cache_options(tmp_path))
    path = inv.write(**options)
    inventory = inv.parse(path)
    if cached:
        fresh_emulator.reset()
        inventory = inv.parse(path)
        assert machine_requests(fresh_emulator) == []
    dns = machines[0]['computerDnsName']
    host = machines[0]['id']  # a name with a brace never names a host: the machine is named by its id
    assert sorted(inventory.hosts) == sorted([host, 'clean.contoso.com'])
    variables = host_vars(inventory, host)
    assert variables['defender_tags'] == machines[0]['machineTags']
    assert variables['defender_os_version'] == machines[0]['osVersion']
    assert variables['my_tags'] == machines[0]['machineTags']
    assert variables['my_os'] == machines[0]['osVersion']
    assert variables['my_name'] == dns
    assert variables['my_rbac'] == machines[0]['rbacGroupName'].lower()
    assert host_vars(inventory, 'clean.contoso.com')['defender_tags'] == ['{% if true %}evaluated{% endif %}']
    assert group_hosts(inventory, 'risky') == [host]
    assert group_hosts(inventory, 'named') == sorted([host, 'clean.contoso.com'])
    assert group_hosts(inventory, 'tag_plain') == [host]
    for expression, expected in (('{{ defender_tags }}', machines[0]['machineTags']),
                                 ('{{ defender_computer_dns_name }}', dns),
                                 ('{{ defender_os_version }}', machines[0]['osVersion']),
                                 ('{{ defender_rbac_group_name }}', machines[0]['rbacGroupName']),
                                 ('{{ my_os }}', machines[0]['osVersion'])):
        assert template_like_a_play(inventory, host, expression) == expected
    assert template_like_a_play(inventory, 'clean.contoso.com', '{{ defender_tags[0] }}') == '{% if true %}evaluated{% endif %}'
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith('pwned')]


@pytest.mark.parametrize('raw', ["true) or (id ne 'x", "healthStatus eq 'Active') or (true", "osPlatform eq 'Linux",
                                 "((healthStatus eq 'Active')", '   '])
def test_an_unbalanced_raw_filter_is_refused_before_any_request(inv, fresh_emulator, raw):
    """Fails on 0.1.0, which sent it: ``true) or (id ne 'x`` closed the parenthesis and matched every machine."""
    with pytest.raises(AnsibleParserError, match=r'defender.atp.machines: filter .*(unclosed string literal|unbalanced '
                                                 r'parentheses|is empty)'):
        inv.parse(filter=raw, health_status=['Active'])
    assert fresh_emulator.requests_log() == []


def test_a_balanced_raw_filter_with_quotes_and_parentheses_is_accepted(inv):
    inventory = inv.parse(filter="(healthStatus eq 'Active' or healthStatus eq 'Inactive') and computerDnsName eq 'a('' b'")
    assert not inventory.hosts


# -- trust at the edges (issue 19): host names Ansible treats specially, squatted names, tags, a forged token ------------

def hex_id(number):
    return 'f%039x' % number  # never all digits: a resolver would read such a name as an address


def tenant_machine(number, name, **fields):
    machine = dict(id=hex_id(number), computerDnsName=name, osPlatform='Windows11', healthStatus='Active', riskScore='Low',
                   lastSeen='2026-01-01T00:00:%02dZ' % (number % 60), lastIpAddress='10.0.0.%d' % (number % 250),
                   machineTags=[])
    machine.update(fields)
    return machine


class Warnings(object):
    """The warnings Ansible's Display printed (every plugin shares the one Display)."""

    def __init__(self, monkeypatch):
        from ansible.utils.display import Display
        self.messages = []
        monkeypatch.setattr(Display, 'warning', lambda display, msg, *args, **kwargs: self.messages.append(msg))

    def text(self):
        return '\n'.join(self.messages)


@pytest.fixture
def warnings(monkeypatch):
    return Warnings(monkeypatch)


SPECIAL_NAMES = [
    # ansible-core's C.LOCALHOST, in any case and with a trailing dot, and the names /etc/hosts gives the loopback
    'localhost', 'LocalHost', 'localhost.', '127.0.0.1', '::1', 'localhost.localdomain', 'LOCALHOST.LOCALDOMAIN.',
    'localhost6', 'ip6-localhost', 'printer.localhost',
    # numeric forms a resolver reads as the loopback or "this host", and ambiguous numeric forms
    '127.0.0.2', '127.1', '0.0.0.0', '0', '2130706433', '0x7f000001',
    # Ansible's own group names
    'all', 'ungrouped', 'ALL',
    # host pattern characters, whitespace, control characters, templates, leading @ or ~ or -
    'web,db', 'srv:22', 'srv*', '!srv', 'a&b', 'srv[1]', 'srv[0:9]', '~srv.*', 'srv~1', 'has space', 'tab\there', 'new\nline',
    'esc\x1b[31mred', '@group', '-oProxyCommand=x', '{{ lookup("pipe", "id") }}', '{% raw %}', '{#', 'fe80::1',
    # non-ASCII: full-width letters normalise to "localhost" in IDNA, and a right-to-left override hides text
    '\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54', 'ws-01\u202etxt.exe',
]


@pytest.mark.parametrize('name', SPECIAL_NAMES, ids=[repr(n) for n in SPECIAL_NAMES])
def test_a_name_ansible_treats_specially_never_names_a_host(name):
    """Fails before the fix for every name without a brace: 'localhost' became the inventory host localhost, which a
    ``hosts: localhost`` play (and every ``delegate_to: localhost``) then ran with the attacker's variables."""
    machines = [tenant_machine(1, name), tenant_machine(2, 'clean.contoso.com')]
    named, report = machines_module.assign_hostnames(machines, ['computerDnsName', 'id'])
    assert [hostname for hostname, _machine in named] == [hex_id(1), 'clean.contoso.com']
    assert [entry['id'] for entry in report.refused] == [hex_id(1)]


@pytest.mark.parametrize('name', ['ws-01.contoso.com', 'WS-Sales-01.Contoso.com', 'desktop-39g9tgl', 'srv_app.contoso.com',
                                  '10.1.2.3', 'host.local', 'localhost-backup.contoso.com', 'mylocalhost', 'a' * 40,
                                  '80fe8ff8-2624-418e-9591-41f0491218f9'])
def test_ordinary_names_still_name_hosts(name):
    named, report = machines_module.assign_hostnames([tenant_machine(1, name)], ['computerDnsName', 'id'])
    assert named[0][0] == name and not report.refused and not report.shared


@pytest.mark.parametrize('field', ['lastIpAddress', 'lastExternalIpAddress', 'aadDeviceId'])
def test_every_hostnames_preference_goes_through_the_same_check(field):
    machines = [tenant_machine(1, 'one.contoso.com', **{field: '127.0.0.1'}),
                tenant_machine(2, 'two.contoso.com', **{field: 'localhost'}),
                tenant_machine(3, 'three.contoso.com', **{field: 'web,db'})]
    named, report = machines_module.assign_hostnames(machines, [field, 'computerDnsName'])
    assert [hostname for hostname, _machine in named] == ['one.contoso.com', 'two.contoso.com', 'three.contoso.com']
    assert len(report.refused) == 3


def test_an_id_that_is_no_safe_name_leaves_the_machine_out():
    machines = [dict(id='localhost', computerDnsName='localhost'), dict(id='{{ 1 }}', computerDnsName=None),
                tenant_machine(3, 'clean.contoso.com')]
    named, _report = machines_module.assign_hostnames(machines, ['computerDnsName', 'id'])
    assert [hostname for hostname, _machine in named] == ['clean.contoso.com']


def test_special_names_through_the_plugin_are_named_by_id_with_a_quoted_warning(inv, fresh_emulator, warnings):
    long_name = 'localhost' + '\x1b[2J' + 'x' * 500
    machines = [tenant_machine(1, 'localhost', machineTags=['compromised']), tenant_machine(2, '127.0.0.1'),
                tenant_machine(3, '::1'), tenant_machine(4, 'LOCALHOST.localdomain.'), tenant_machine(5, 'all'),
                tenant_machine(6, long_name), tenant_machine(7, 'clean.contoso.com')]
    fresh_emulator.set_data(machines=machines)
    inventory = inv.parse(keyed_groups=[dict(key='defender_tags', prefix='defender_tag')])
    assert sorted(inventory.hosts) == sorted([hex_id(n) for n in range(1, 7)] + ['clean.contoso.com'])
    assert inventory.localhost is None  # no host of the inventory stands in for the controller
    assert group_hosts(inventory, 'defender_tag_compromised') == [hex_id(1)]
    assert host_vars(inventory, hex_id(1))['defender_computer_dns_name'] == 'localhost'  # still a host variable
    text = warnings.text()
    assert hex_id(1) in text and "'localhost'" in text and "'127.0.0.1'" in text
    assert '\x1b' not in text and 'x' * 100 not in text  # quoted (repr) and cut short, never echoed raw
    assert len(text) < 2000


@pytest.mark.parametrize('address, kept', [
    ('10.1.2.3', True), ('fe80::1', True), ('2001:db8::5', True), ('ws-01.contoso.com', True),
    ('127.0.0.1', False), ('127.9.9.9', False), ('::1', False), ('0.0.0.0', False), ('::', False), ('::ffff:127.0.0.1', False),
    ('localhost', False), ('-oProxyCommand=touch /tmp/x', False), ('10.1.2.3 -p 2222', False), ('', False),
    ('{{ 1 }}', False), ('2130706433', False),
])
def test_a_composed_ansible_host_must_be_a_sane_address(inv, fresh_emulator, warnings, address, kept):
    """compose: {ansible_host: defender_last_ip_address}, as the EXAMPLES show: the device reports lastIpAddress."""
    fresh_emulator.set_data(machines=[tenant_machine(1, 'ws-01.contoso.com', lastIpAddress=address)])
    inventory = inv.parse(compose=dict(ansible_host='defender_last_ip_address', ansible_ssh_host='defender_last_ip_address',
                                       other='defender_last_ip_address'))
    variables = host_vars(inventory, 'ws-01.contoso.com')
    assert variables['other'] == address  # only connection addresses are checked
    if kept:
        assert variables['ansible_host'] == address and variables['ansible_ssh_host'] == address
        assert not warnings.messages
    else:
        assert 'ansible_host' not in variables and 'ansible_ssh_host' not in variables
        assert 'ansible_host' in warnings.text() and hex_id(1) in warnings.text()


def test_a_keyed_group_named_like_localhost_is_not_created(inv, fresh_emulator, warnings):
    """keyed_groups without a prefix turn a tag into a group name; a group 'localhost' would take the place of the
    implicit localhost in a ``hosts: localhost`` play, with the tagged (attacker's) machines in it."""
    fresh_emulator.set_data(machines=[tenant_machine(1, 'ws-01.contoso.com', machineTags=['localhost', '127.0.0.1', 'ok']),
                                      tenant_machine(2, 'ws-02.contoso.com', machineTags=['ok'])])
    inventory = inv.parse(keyed_groups=[dict(key='defender_tags', prefix='', separator='')], leading_separator=False)
    assert 'localhost' not in inventory.groups and '127.0.0.1' not in inventory.groups
    assert group_hosts(inventory, 'ok') == ['ws-01.contoso.com', 'ws-02.contoso.com']
    assert 'localhost' in warnings.text()


def test_no_api_field_becomes_a_connection_variable_even_without_a_prefix():
    """With hostvars_prefix '', a field the API (or a cache file) might hold, such as ansibleHost, is no ansible_ variable."""
    machine = tenant_machine(1, 'ws-01.contoso.com', ansibleHost='10.9.9.9', ansible_connection='local', ansiblePort=2222)
    variables = machines_module.host_variables(machine, '')
    assert variables['computer_dns_name'] == 'ws-01.contoso.com'
    assert not any(name.startswith('ansible_') for name in variables)
    assert 'ansible_host' not in machines_module.host_variables(machine, 'ansible_')  # nor with a prefix that makes one


def test_a_shared_dns_name_names_none_of_its_machines(inv, fresh_emulator, warnings):
    """Fails before the fix: the newest lastSeen took the name, so an always-online attacker's record named itself
    after a real machine and plays aimed at that name reached the attacker."""
    victim = tenant_machine(1, 'srv-db-01.contoso.com', lastSeen='2026-01-01T00:00:00Z')
    squatter = tenant_machine(2, 'SRV-DB-01.contoso.com.', lastSeen='2026-06-01T00:00:00Z')
    third = tenant_machine(3, 'srv-db-01.CONTOSO.com', lastSeen='2026-03-01T00:00:00Z')
    fresh_emulator.set_data(machines=[victim, squatter, third, tenant_machine(4, 'ws-01.contoso.com')])
    inventory = inv.parse()
    assert sorted(inventory.hosts) == sorted([hex_id(1), hex_id(2), hex_id(3), 'ws-01.contoso.com'])
    assert not any(h.lower().startswith('srv-db-01') for h in inventory.hosts)
    text = warnings.text()
    assert 'srv-db-01.contoso.com' in text.lower() and all(hex_id(n) in text for n in (1, 2, 3))


def test_the_reimaged_device_is_two_hosts_named_by_id(inv, fresh_emulator, warnings):
    machines = all_machines(fresh_emulator)
    records = [m for m in machines if m['computerDnsName'] == 'ws-reimaged.contoso.com']
    assert len(records) == 2
    inventory = inv.parse()
    assert len(inventory.hosts) == len(machines)
    assert 'ws-reimaged.contoso.com' not in inventory.hosts
    for record in records:
        assert host_vars(inventory, record['id'])['defender_computer_dns_name'] == 'ws-reimaged.contoso.com'
        assert record['id'] in warnings.text()


def test_a_name_equal_to_another_machines_id_never_takes_it():
    """An attacker naming its machine after a victim's id neither gets that name nor leaves the victim nameless."""
    victim_a = tenant_machine(1, 'dup.contoso.com')
    victim_b = tenant_machine(2, 'dup.contoso.com')
    attacker = tenant_machine(3, hex_id(1).upper())
    named, report = machines_module.assign_hostnames([victim_a, victim_b, attacker], ['computerDnsName', 'id'])
    assert [hostname for hostname, _machine in named] == [hex_id(1), hex_id(2), hex_id(3)]
    assert sorted(report.shared) == ['dup.contoso.com', hex_id(1)]


def test_a_shared_value_falls_through_to_the_next_preference():
    machines = [tenant_machine(1, 'a.contoso.com', lastIpAddress='10.0.0.9'), tenant_machine(2, 'b.contoso.com', lastIpAddress='10.0.0.9'),
                tenant_machine(3, 'c.contoso.com', lastIpAddress='10.0.0.3')]
    named, _report = machines_module.assign_hostnames(machines, ['lastIpAddress', 'computerDnsName'])
    assert [hostname for hostname, _machine in named] == ['a.contoso.com', 'b.contoso.com', '10.0.0.3']


TAGGED = [
    ('upper', ['COMPROMISED']), ('mixed', ['Compromised', 'other']), ('lower', ['compromised']), ('none', ['uncompromised']),
    ('empty', []), ('odd', [None, 7, {'x': 1}]),
]


def tagged_tenant():
    return [tenant_machine(n, '%s.contoso.com' % name, machineTags=tags) for n, (name, tags) in enumerate(TAGGED, 1)]


@pytest.mark.parametrize('tags', [['compromised'], ['COMPROMISED'], ['no-such-tag', 'Compromised']])
def test_inventory_tags_match_any_tag_case_insensitively(inv, fresh_emulator, tags):
    """Fails before the fix: the tag filter went to the API, which (as the emulator) compares case-sensitively."""
    fresh_emulator.set_data(machines=tagged_tenant())
    inventory = inv.parse(tags=tags)
    assert sorted(inventory.hosts) == ['lower.contoso.com', 'mixed.contoso.com', 'upper.contoso.com']


def test_inventory_tags_with_other_filters(inv, fresh_emulator):
    inventory = inv.parse(tags=['PROD'], risk_score=['High'])
    assert sorted(inventory.hosts) == ['srv-exch-01.contoso.com', 'srv-web-02.contoso.com']
    requests = machine_requests(fresh_emulator)
    assert [r['query']['$filter'] for r in requests] == ["riskScore eq 'High'"]  # tags are compared on the controller


def forged(token):
    """The same header and claims, signed with a key of our own (what anyone can make from a token they saw)."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options=dict(verify_signature=False))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm='RS256', headers=dict((k, v) for k, v in header.items() if k != 'alg'))


def test_a_forged_access_token_gets_no_cached_machines(inv, fresh_emulator, tmp_path):
    """Fails before the fix: with access_token, a cached inventory was served after the token was only decoded, so a
    token with the same claims re-signed with any key read every cached machine."""
    genuine = fresh_emulator.token()
    conn = dict((k, v) for k, v in inv.conn.items() if k not in ('client_id', 'client_secret'))
    options = dict(conn, **cache_options(tmp_path))
    assert 'mymachine1.contoso.com' in inv.parse(inv.write(connection=False, access_token=genuine, **options)).hosts
    fresh_emulator.reset()
    path = inv.write(connection=False, access_token=genuine, **options)
    assert 'mymachine1.contoso.com' in inv.parse(path).hosts  # the genuine token: served from the cache
    proofs = machine_requests(fresh_emulator)
    assert len(proofs) == 1 and proofs[0]['query'].get('$top') == '1' and proofs[0]['status'] == 200
    fresh_emulator.reset()
    path = inv.write(connection=False, access_token=forged(genuine), **options)
    with pytest.raises(AnsibleError, match='HTTP 401|rejected'):
        inv.parse(path)
    assert not inv.manager(path).hosts
