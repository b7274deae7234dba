# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: machines
short_description: Inventory of Microsoft Defender for Endpoint machines
version_added: 0.1.0
description:
  - Builds an inventory from the machines (devices) of Microsoft Defender for Endpoint, read from the Defender API
    (C(GET /api/machines)).
  - Uses the same connection options, environment variables and shared code as the modules of the collection, so
    one set of credentials (for example one AWX credential) serves the inventory and the playbooks.
  - Filters are applied by the API (OData C($filter)), before anything is transferred. A filter over the API's node
    limit (100 nodes by default, about 20 values in all) is read in batches of its longest list, merged by id.
  - Every machine field becomes a host variable, snake_cased and prefixed with O(hostvars_prefix), for example
    C(defender_id), C(defender_computer_dns_name), C(defender_risk_score), C(defender_health_status),
    C(defender_os_platform), C(defender_rbac_group_name), C(defender_last_seen), C(defender_tags) (the
    machine's C(machineTags)) and C(defender_av_status) (its C(defenderAvStatus)). Keys of nested values are
    snake_cased too (C(defender_ip_addresses[0].ip_address)). Secrets are never host variables.
  - Pages through any number of machines (10,000 per request, the API's maximum). When a page still cannot be read
    after the retries, the whole source fails; a partial inventory is never returned.
  - The file must end in C(.defender.yml) or C(.defender.yaml) (or be named C(defender.yml) or C(defender.yaml)).
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "API permission (WindowsDefenderATP): C(Machine.Read.All) as an application permission (C(Machine.ReadWrite.All) also
    works), or C(Machine.Read) / C(Machine.ReadWrite) as a delegated permission. A user (delegated) only sees the
    machines of the device groups their Defender RBAC role covers."
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.connection.plugins
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks this file as a source for this plugin.
    required: true
    type: str
    choices: [defender.atp.machines]
  filter:
    description:
      - An OData C($filter) expression the API applies to the machines, for example V(healthStatus eq 'Active') or
        V(startswith(computerDnsName,'srv-')).
      - Filterable fields are C(computerDnsName), C(id), C(version), C(deviceValue), C(aadDeviceId), C(machineTags),
        C(lastSeen), C(exposureLevel), C(onboardingStatus), C(lastIpAddress), C(healthStatus), C(osPlatform),
        C(riskScore) and C(rbacGroupId).
      - Combined with the other filter options with C(and); the expression is parenthesised first, so its own C(or)
        cannot widen the match. An expression with an unclosed quote or unbalanced parentheses (which could close that
        parenthesis) is refused before any request, as the modules' O(defender.atp.atp_machine_info#module:filter) is.
    type: str
  health_status:
    description:
      - Only machines with one of these health states.
    type: list
    elements: str
    choices: [Active, Inactive, ImpairedCommunication, NoSensorData, NoSensorDataImpairedCommunication, Unknown]
  os_platform:
    description:
      - Only machines with one of these operating system platforms, as Defender writes them, for example
        V(Windows11), V(Windows10), V(WindowsServer2022), V(Linux), V(macOS).
    type: list
    elements: str
  risk_score:
    description:
      - Only machines with one of these risk scores.
    type: list
    elements: str
    choices: [None, Informational, Low, Medium, High]
  exposure_level:
    description:
      - Only machines with one of these exposure levels.
    type: list
    elements: str
    choices: [None, Low, Medium, High]
  onboarding_status:
    description:
      - Only machines with one of these onboarding states. Devices discovered on the network but not onboarded
        show as V(CanBeOnboarded), V(Unsupported) or V(InsufficientInfo); they cannot be isolated.
    type: list
    elements: str
    choices: [Onboarded, CanBeOnboarded, Unsupported, InsufficientInfo]
  tags:
    description:
      - Only machines carrying at least one of these tags (C(machineTags)). Tags compare case-sensitively.
    type: list
    elements: str
  last_seen_since:
    description:
      - Only machines seen since this time, to leave out stale records. A span back from now such as V(7d), V(24h),
        V(2w) or V(P30D), or an ISO 8601 time such as V(2026-01-31T00:00:00Z).
    type: str
  hostnames:
    description:
      - Machine fields to name hosts by, in order of preference. The first one a machine has a value for, and that
        no other machine already uses, names it.
      - Duplicate records of one device (after a re-image, for example) are common. Machines are named newest
        C(lastSeen) first, so the newest record gets the DNS name and older ones fall through to the next field.
        The machine C(id) is the last resort, so every machine becomes one host and no two are merged.
      - A value holding a brace (V({) or V(})) never names a host, because it could be part of a template; such a
        machine is named by its next preference. The value is still a host variable, as literal text.
    type: list
    elements: str
    choices: [computerDnsName, id, lastIpAddress, lastExternalIpAddress, aadDeviceId]
    default: [computerDnsName, id]
  hostvars_prefix:
    description:
      - Prefix of the host variables made from the machine fields.
      - With an empty prefix, fields such as C(version) would clash with Ansible's own variable names; keep one.
    type: str
    default: defender_
  page_size:
    description:
      - Machines per request (C($top)), at most 10,000. The default is best for large fleets; a smaller value
        only costs more requests.
    type: int
    default: 10000
notes:
  - The plugin never sets C(ansible_host) or any connection variable, because the collection's modules run on the
    controller (a play on C(localhost)) and take machine ids or names. To connect to the machines themselves, set it
    with O(compose), for example C(ansible_host) from C(defender_last_ip_address) (see the examples).
  - O(compose), O(groups) and O(keyed_groups) see the host variables (C(defender_tags), C(defender_os_platform), ...)
    and the machine's own field names as the API spells them (C(machineTags), C(osPlatform), C(riskScore),
    C(healthStatus), C(rbacGroupName), ...). No group is created unless configured.
  - The cache (O(cache)) holds the machines read from the API. Its key depends on this file, the filters and the
    identity of the caller (tenant, client, user, login authority, API base), never on a secret. A cached inventory
    is only served after the credential has produced a valid token (from the token cache or the login endpoint),
    so a wrong or revoked secret fails instead of returning the cached machines. Use a persistent cache plugin such
    as C(ansible.builtin.jsonfile); C(ansible-inventory --flush-cache) refreshes it.
  - Everything the API returns (and the cache holds) is data, never a template. Host variables and the values
    O(compose), O(groups) and O(keyed_groups) see are marked unsafe, so a tag, DNS name or any other field that
    looks like a template (C({{ ... }}), C({% ... %})) comes through as that literal text and is never evaluated.
  - Ansible only warns when an inventory source fails, and goes on without its hosts. So that a failed read stops a
    run instead, set C(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=true) (C([inventory] any_unparsed_is_failed) in
    C(ansible.cfg)). AWX fails the inventory update and keeps the previous hosts.
seealso:
  - module: defender.atp.atp_machine_isolate
  - module: defender.atp.atp_machine_info
  - name: List machines API
    description: The API this inventory reads, its fields and filters.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/get-machines
'''

EXAMPLES = r'''
# Active Windows servers, grouped by tag, OS, risk, health and device group, cached for an hour
plugin: defender.atp.machines
tenant_id: contoso.onmicrosoft.com
client_id: 11111111-2222-3333-4444-555555555555
# client_secret from AZURE_CLIENT_SECRET (or an AWX credential); never write it here in clear
health_status: [Active]
os_platform: [WindowsServer2019, WindowsServer2022]
filter: "startswith(computerDnsName,'srv-')"
last_seen_since: 30d
keyed_groups:
  - key: defender_tags
    prefix: defender_tag
  - key: defender_os_platform
    prefix: defender_os
  - key: defender_risk_score
    prefix: defender_risk
  - key: defender_health_status
    prefix: defender_health
  - key: defender_rbac_group_name
    prefix: defender_rbac
groups:
  defender_high_risk: defender_risk_score in ['High', 'Medium']
compose:
  # only needed to connect to the machines themselves
  ansible_host: defender_last_ip_address
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/ansible-inventory
cache_timeout: 3600

# One inventory file holds one source. Other files, for example:
#
# Every machine of the tenant, credentials from the AZURE_* environment variables
# (file name: fleet.defender.yml; check it with: ansible-inventory -i fleet.defender.yml --graph)
# plugin: defender.atp.machines
#
# Only machines tagged "compromised", named by machine id (for response playbooks)
# plugin: defender.atp.machines
# tags: [compromised]
# hostnames: [id]
# keyed_groups:
#   - key: defender_tags
#     prefix: defender_tag
#
# A playbook that isolates every machine tagged "compromised", in one task (fleet isolation)
# ansible-playbook -i fleet.defender.yml isolate.yml
#
# - name: Isolate compromised machines
#   hosts: localhost
#   gather_facts: false
#   tasks:
#     - name: Isolate every machine tagged compromised
#       defender.atp.atp_machine_isolate:
#         machines: "{{ groups['defender_tag_compromised'] | default([]) | map('extract', hostvars, 'defender_id') | list }}"
#         comment: "IR-1234: contain machines tagged compromised"
#         max_machines: 50
'''

import copy
import datetime
import json
import re
import time

import jinja2
from jinja2 import meta as jinja2_meta

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.utils.vars import combine_vars
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.defender.atp.plugins.module_utils import batched_reads, odata
from ansible_collections.defender.atp.plugins.module_utils.errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils.http_client import MAX_PAGE_SIZE
from ansible_collections.defender.atp.plugins.module_utils.time_spans import TimeSpanError, resolve_since
from ansible_collections.defender.atp.plugins.plugin_utils.connection import (
    PluginConnection, ansible_errors, stable_digest)

MACHINES_PATH = '/api/machines'
FILE_SUFFIXES = ('.defender.yml', '.defender.yaml')
FILE_NAMES = ('defender.yml', 'defender.yaml')
# Fields whose host variable is not just the snake_cased name.
RENAMED_FIELDS = {'machineTags': 'tags', 'defenderAvStatus': 'av_status'}
# Options that change which machines the API returns (and therefore the cache key).
SOURCE_OPTIONS = ('filter', 'health_status', 'os_platform', 'risk_score', 'exposure_level', 'onboarding_status', 'tags',
                  'last_seen_since', 'page_size')
CACHE_FORMAT = 1

_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_CAMEL_1 = re.compile(r'(.)([A-Z][a-z]+)')
_CAMEL_2 = re.compile(r'([a-z0-9])([A-Z])')


def snake_case(name, _memo={}):  # pylint: disable=dangerous-default-value
    """``computerDnsName`` -> ``computer_dns_name``; ``lastIPAddress`` -> ``last_ip_address`` (memoised)."""
    try:
        return _memo[name]
    except KeyError:
        pass
    text = _CAMEL_2.sub(r'\1_\2', _CAMEL_1.sub(r'\1_\2', name)).replace('-', '_').lower()
    text = re.sub(r'_+', '_', text)
    _memo[name] = text
    return text


def _snake_value(value):
    if isinstance(value, dict):
        return dict((snake_case(k), _snake_value(v)) for k, v in value.items() if not k.startswith('@odata'))
    if isinstance(value, list):
        return [_snake_value(v) for v in value]
    return value


def host_variables(machine, prefix):
    """The host variables of one machine entity: every field, snake_cased and prefixed; nested keys snake_cased."""
    result = {}
    for field, value in machine.items():
        if field.startswith('@odata'):
            continue
        name = RENAMED_FIELDS.get(field) or snake_case(field)
        result[prefix + name] = _snake_value(value)
    return result


def _last_seen_key(machine):
    # ISO 8601 UTC strings sort chronologically; machines never seen sort last.
    value = machine.get('lastSeen')
    return value if isinstance(value, str) else ''


# A host name is plain text, not marked unsafe: ansible-core before 2.19 would write an unsafe one as
# {"__ansible_unsafe": ...} in every group's host list of ansible-inventory --list, which breaks its consumers (AWX).
# So a value that could take part in a template (a brace starts every Jinja2 delimiter) never names a host; the
# machine is named by its next preference instead (at worst its id), and the value stays an (unsafe) host variable.
_TEMPLATE_CHARACTERS = re.compile(r'[{}]')


def _plain_text(value):
    strip = getattr(value, '_strip_unsafe', None)  # AnsibleUnsafeText before ansible-core 2.19
    return to_text(strip() if strip is not None else value)


def assign_hostnames(machines, preferences):
    """Name each machine by its first preferred field whose value no other machine uses, newest ``lastSeen`` first.

    Returns ``(named, fallbacks)``: ``[(hostname, machine)]`` in the API's order, and how many machines were
    named past their first usable preference because a newer record already had that name or the value holds
    a brace (see ``_TEMPLATE_CHARACTERS``). Host names are plain text.
    """
    names = {}
    taken = set()
    fallbacks = 0
    for index, machine in sorted(enumerate(machines), key=lambda item: _last_seen_key(item[1]), reverse=True):
        clashed = False
        for field in list(preferences) + ['id']:
            value = machine.get(field)
            if value in (None, '') or isinstance(value, (list, dict, bool)):
                continue
            value = _plain_text(value)
            if value in taken or _TEMPLATE_CHARACTERS.search(value):
                clashed = True
                continue
            names[index] = value
            taken.add(value)
            fallbacks += 1 if clashed else 0
            break
    named = [(names[index], machine) for index, machine in enumerate(machines) if index in names]
    return named, fallbacks


class ExpressionReads(object):
    """Which variables a Jinja2 expression reads, so its result can be remembered per combination of their values."""

    # Expressions whose result may change between two evaluations with the same variables are never remembered.
    VOLATILE = re.compile(r'\b(random|shuffle|now|lookup|query|q|uuid|undef|omit)\b|\{[{%#]')

    def __init__(self):
        self._names = {}

    def names(self, expression):
        """The variable names ``expression`` reads, or None when its result must not be remembered."""
        try:
            return self._names[expression]
        except KeyError:
            pass
        names = None
        if isinstance(expression, str) and not self.VOLATILE.search(expression):
            try:
                parsed = jinja2.Environment().parse('{{ (%s) }}' % expression)
                names = frozenset(jinja2_meta.find_undeclared_variables(parsed))
            except Exception:  # pylint: disable=broad-except
                names = None
        self._names[expression] = names
        return names

    def key(self, kind, expression, variables):
        """A key for the result of ``expression`` with these ``variables``, or None when it must be evaluated."""
        names = self.names(expression)
        if names is None or any(name not in variables for name in names):
            return None
        try:
            values = json.dumps([variables[name] for name in sorted(names)], sort_keys=True)
        except (TypeError, ValueError):
            return None
        return (kind, expression, values)


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'defender.atp.machines'

    def verify_file(self, path):
        """Accept ``*.defender.yml``/``*.defender.yaml`` (and ``defender.yml``/``defender.yaml``)."""
        if not super(InventoryModule, self).verify_file(path):
            return False
        lowered = to_text(path).lower()
        base = lowered.replace('\\', '/').rsplit('/', 1)[-1]
        if lowered.endswith(FILE_SUFFIXES) or base in FILE_NAMES:
            return True
        self.display.vvv('Skipping %s: a defender.atp.machines source must be named *.defender.yml or *.defender.yaml' % path)
        return False

    # -- options -----------------------------------------------------------------------------

    def filter_parts(self, now=None):
        """The filter options as ``(fixed, alternatives)``: clauses that always apply (the raw filter, last seen), and
        one list of alternatives (joined with ``or``) per list option, every value quoted by the shared OData helper."""
        raw_filter = self.get_option('filter')
        if raw_filter is not None:
            # Checked as the modules check theirs: an unbalanced expression could close the parenthesis it is put in
            # and widen the match to every machine (and a fleet action built on this inventory to the whole tenant).
            try:
                raw_filter = odata.check_raw_filter(to_text(raw_filter))
            except AtpOptionError as exc:
                raise AnsibleParserError('%s: %s' % (self.NAME, exc.message))
        fixed = [raw_filter]
        alternatives = []
        for option, field in (('health_status', 'healthStatus'), ('os_platform', 'osPlatform'), ('risk_score', 'riskScore'),
                              ('exposure_level', 'exposureLevel'), ('onboarding_status', 'onboardingStatus')):
            values = self.get_option(option)
            if values:
                alternatives.append([odata.eq(field, value) for value in values])
        tags = self.get_option('tags')
        if tags:
            alternatives.append([odata.any_tag('machineTags', tag) for tag in tags])
        since = self.get_option('last_seen_since')
        if since:
            try:
                moment = resolve_since(to_text(since), now=now)
            except TimeSpanError as exc:
                raise AnsibleParserError('%s: last_seen_since: %s' % (self.NAME, exc))
            fixed.append(odata.compare('lastSeen', 'gt', moment))
        return fixed, alternatives

    def build_filter(self, now=None):
        """The OData ``$filter`` for the filter options."""
        fixed, alternatives = self.filter_parts(now=now)
        return odata.and_(*(fixed[:1] + [batched_reads.join(group) for group in alternatives] + fixed[1:]))

    def _page_size(self):
        size = self.get_option('page_size')
        if size is None:
            return MAX_PAGE_SIZE
        if not 1 <= int(size) <= MAX_PAGE_SIZE:
            raise AnsibleParserError('%s: page_size must be between 1 and %d, got %s.' % (self.NAME, MAX_PAGE_SIZE, size))
        return int(size)

    def _source_config(self, path):
        config = dict((name, self.get_option(name)) for name in SOURCE_OPTIONS)
        config['path'] = to_text(path)
        config['format'] = CACHE_FORMAT
        return config

    def _cache_key(self, path, connection):
        """Cache key from the source's options and the caller's identity; no secret goes into it."""
        digest = stable_digest(dict(source=self._source_config(path), identity=connection.identity()))
        return 'defender_atp_machines_%s' % digest[:32]

    # -- reading -------------------------------------------------------------------------------

    def fetch_machines(self, connection, odata_filter, page_size, parts=None):
        """Every machine matching the filter; raises (never returns part of them) when a page cannot be read.

        The Defender API is ASP.NET OData, whose validator refuses a ``$filter`` of more than ``MaxNodeCount`` nodes (100
        by default; whether Defender raised it is not documented: mde-api.md, "Facts added on review"). A filter over
        the collection's budget is read in batches of its longest list of alternatives (the rest ANDed to each batch),
        split further if the API still refuses one, and the machines are merged by id.
        """
        started = time.time()
        pages = 0
        with ansible_errors(self.NAME):
            if parts is None or not odata_filter or odata.node_count(odata_filter) <= batched_reads.MAX_FILTER_NODES:
                params = {'$filter': odata_filter} if odata_filter else None
                machines = []
                for page in connection.client.iter_pages(MACHINES_PATH, params=params, page_size=page_size):
                    pages += 1
                    machines.extend(page)
            else:
                fixed, alternatives = parts
                longest = max(alternatives, key=len)
                others = [batched_reads.join(group) for group in alternatives if group is not longest]
                prefix = odata.and_(*(fixed[:1] + others + fixed[1:])) or None
                batcher = batched_reads.FilterBatcher(connection.client)
                machines = []
                seen = set()
                for machine in batcher.read(MACHINES_PATH, longest, prefix=prefix):
                    key = machine.get('id')
                    if key in seen:
                        continue
                    seen.add(key)
                    machines.append(machine)
                pages = batcher.requests
        self.display.vv('%s: read %d machines in %d request(s) in %.1f s (%s)'
                        % (self.NAME, len(machines), pages, time.time() - started, _describe_stats(connection.stats())))
        return machines

    # -- building --------------------------------------------------------------------------------
    #
    # populate() builds hosts with Constructable's own helpers, as ansible.builtin.constructed does:
    # _set_composite_vars (compose), _add_host_to_composed_groups (groups) and _add_host_to_keyed_groups
    # (keyed_groups). Two methods are overridden, because Constructable templates every expression once per host and
    # that is most of the time a large tenant takes (measured in-process with 20,042 machines, 5 keyed groups, a group
    # and a compose entry: 116 s of CPU without the overrides, 32 s with them, on ansible-core 2.16):
    #   - _compose, the hook the compose and keyed_groups helpers call for each expression: a bare variable name is
    #     looked up, and other results are remembered per combination of the values the expression reads;
    #   - _add_host_to_composed_groups, which has no such hook: the same, for groups conditions.
    # Both keep Constructable's signatures and semantics on every supported ansible-core (2.16-2.19 differ in how a
    # conditional is evaluated; _evaluate_conditional uses each version's way), fall back to Constructable whenever
    # an expression cannot be remembered (lookups, filters with side effects, use_extra_vars), and are tested against
    # plain Constructable on each version (test_overrides_build_what_plain_constructable_builds,
    # test_constructable_overrides_keep_the_signatures).

    def _use_extra_vars(self):
        try:
            return bool(self.get_option('use_extra_vars'))
        except KeyError:
            return False

    def _compose(self, template, variables, *args, **kwargs):
        """Template an expression for one host, cheaply (for O(compose) and O(keyed_groups) keys).

        A bare variable name (``defender_tags``, ``osPlatform``) is looked up directly, and the result of any
        other expression is remembered for the values of the variables it reads: compiling the same Jinja2
        expression for each of tens of thousands of hosts is otherwise most of the time a large inventory takes.
        The results are the same as templating each time.
        """
        if not isinstance(template, str) or self._use_extra_vars():
            return super(InventoryModule, self)._compose(template, variables, *args, **kwargs)
        name = template.strip()
        if _IDENTIFIER.match(name) and name in variables:
            return variables[name]
        key = self._expressions.key('compose', template, variables)
        if key is not None and key in self._expression_results:
            return _copy(self._expression_results[key])
        result = super(InventoryModule, self)._compose(template, variables, *args, **kwargs)
        if key is not None:
            self._expression_results[key] = _copy(result)
        return result

    def _evaluate_conditional(self, conditional, variables):
        key = None if self._use_extra_vars() else self._expressions.key('groups', conditional, variables)
        if key is not None and key in self._expression_results:
            return self._expression_results[key]
        self.templar.available_variables = variables
        if hasattr(self.templar, 'evaluate_conditional'):
            result = bool(self.templar.evaluate_conditional(conditional))
        else:  # ansible-core < 2.19
            result = boolean(self.templar.template('{%% if %s %%} True {%% else %%} False {%% endif %%}' % conditional))
        if key is not None:
            self._expression_results[key] = result
        return result

    def _add_host_to_composed_groups(self, groups, variables, host, strict=False, fetch_hostvars=True):
        """Add ``host`` to each group of O(groups) whose condition holds (as Constructable does, with remembered results)."""
        if not groups or not isinstance(groups, dict):
            return
        if fetch_hostvars:
            variables = combine_vars(variables, self.inventory.get_host(host).get_vars())
        for group_name, conditional in groups.items():
            group_name = self._sanitize_group_name(group_name)
            try:
                result = self._evaluate_conditional(conditional, variables)
            except Exception as exc:  # pylint: disable=broad-except
                if strict:
                    raise AnsibleParserError('Could not add host %s to group %s: %s' % (host, group_name, to_native(exc)))
                continue
            if result:
                self.inventory.add_child(self.inventory.add_group(group_name), host)

    def populate(self, machines):
        prefix = self.get_option('hostvars_prefix') or ''
        preferences = self.get_option('hostnames') or ['computerDnsName', 'id']
        strict = self.get_option('strict')
        compose = self.get_option('compose')
        groups = self.get_option('groups')
        keyed_groups = self.get_option('keyed_groups')
        constructed = bool(compose or groups or keyed_groups)
        named, fallbacks = assign_hostnames(machines, preferences)
        if len(named) != len(machines):
            self.display.warning('%s: %d machine record(s) have no usable name or id and were left out.'
                                 % (self.NAME, len(machines) - len(named)))
        if fallbacks:
            self.display.vv('%s: %d machine(s) share a name with a newer record, or have a name with a brace, and are '
                            'named by their next hostnames preference (or id)' % (self.NAME, fallbacks))
        inventory = self.inventory
        self._expressions = ExpressionReads()
        self._expression_results = {}
        for hostname, machine in named:
            # Everything from the API or the cache is data: marked unsafe before it reaches a host variable or the
            # context of compose/groups/keyed_groups, so a tag such as "{{ lookup('pipe', ...) }}" is never evaluated.
            # ansible-core 2.19 already treats such strings as untrusted; before 2.19 only this marking stops them.
            machine = wrap_var(machine)
            variables = host_variables(machine, prefix)
            inventory.add_host(hostname)
            for name, value in variables.items():
                inventory.set_variable(hostname, name, value)
            if not constructed:
                continue
            # The machine's own field names are visible to the templates too, but are not host variables.
            context = dict((k, v) for k, v in machine.items() if not k.startswith('@odata'))
            context.update(variables)
            context['inventory_hostname'] = hostname
            context['inventory_hostname_short'] = hostname.split('.', 1)[0]
            if compose:
                self._set_composite_vars(compose, context, hostname, strict=strict)
                host_vars = inventory.get_host(hostname).vars
                for name in compose:
                    if name in host_vars:
                        context[name] = host_vars[name]
            self._add_host_to_composed_groups(groups, context, hostname, strict=strict, fetch_hostvars=False)
            self._add_host_to_keyed_groups(keyed_groups, context, hostname, strict=strict, fetch_hostvars=False)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        written = set(self._read_config_data(path))

        page_size = self._page_size()
        try:
            parts = self.filter_parts()
            odata_filter = self.build_filter()
        except ValueError as exc:
            raise AnsibleParserError('%s: %s' % (self.NAME, exc))
        connection = PluginConnection.from_plugin(self, written, warn=self.display.warning)
        try:
            cache_key = self._cache_key(path, connection)
            use_cache = self.get_option('cache')
            read_cache = use_cache and cache
            update_cache = use_cache and not cache
            machines = None
            if read_cache:
                try:
                    cached = self._cache[cache_key]
                except KeyError:
                    cached = None
                if isinstance(cached, dict) and cached.get('format') == CACHE_FORMAT and isinstance(cached.get('machines'), list):
                    # Served only to a caller whose credential still gets a token (a wrong or revoked secret fails
                    # here): the key holds no secret, so finding the entry proves nothing about the credential.
                    connection.authenticate()
                    machines = cached['machines']
                    self.display.vv('%s: %d machines from the inventory cache' % (self.NAME, len(machines)))
                if machines is None:
                    update_cache = True
            if machines is None:
                machines = self.fetch_machines(connection, odata_filter, page_size, parts=parts)
        finally:
            connection.close()

        # Everything was read: only now does the inventory change, so a failure above leaves no host behind.
        self.populate(machines)

        if update_cache:
            self._cache[cache_key] = dict(format=CACHE_FORMAT, machines=machines,
                                          fetched_at=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))


def _copy(value):
    """A copy of a remembered result for one more host: containers are copied, immutable values shared."""
    if isinstance(value, (list, dict, set)):
        return copy.deepcopy(value)
    return value


def _describe_stats(stats):
    return '%d request(s), %d token request(s), %d retries, %.1f s waited' % (
        stats['requests'], stats['token_requests'], stats['retries'], stats['waited_seconds'])
