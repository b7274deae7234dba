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
      - Only machines carrying at least one of these tags (C(machineTags)), as M(defender.atp.atp_machine_info)'s
        O(defender.atp.atp_machine_info#module:tags) selects them. Like the other list options, a machine needs one of
        the values; the options combine with C(and).
      - Tags compare case-insensitively, as the Defender portal and M(defender.atp.atp_machine_tag) compare them, so
        V(Compromised) selects machines tagged V(compromised) or V(COMPROMISED). Whether the API's own C($filter)
        compares tags case-sensitively is not documented, so the plugin compares them; the machines matching the other
        filters are read (10,000 a request) and those with a matching tag kept. In 0.1.0 the API compared them.
      - B(Tags are not a security boundary.) An endpoint's local administrator can set the machine's own tag (on
        Windows the registry value C(HKLM\SOFTWARE\Policies\Microsoft\Windows Advanced Threat
        Protection\DeviceTagging\Group); on macOS and Linux the local configuration profile). A compromised machine
        can give itself a tag that puts it in a group a playbook acts on, or one a runbook uses to exempt machines.
        Select by machine id, or check the group against a list you keep, before an action that matters.
    type: list
    elements: str
  last_seen_since:
    description:
      - Only machines seen since this time, to leave out stale records. A span back from now such as V(7d), V(24h),
        V(2w) or V(P30D), or an ISO 8601 time such as V(2026-01-31T00:00:00Z).
    type: str
  hostnames:
    description:
      - Machine fields to name hosts by, in order of preference. The first one a machine has a value for that is a
        safe host name, and that no other machine holds, names it. The machine C(id) is the last resort, so every
        machine becomes one host and no two are merged.
      - The endpoint chooses its own computer name (and so C(computerDnsName)) and reports its own addresses, so a
        value names a host only if it is plainly a host name. It must consist of ASCII letters, digits, V(-), V(_) and
        V(.), not start with V(-) or V(.), and not be a name of the controller or of an Ansible group. None of these
        names a host (compared case-insensitively, a trailing dot ignored), namely V(localhost), V(127.0.0.1),
        V(::1) (ansible-core's own names of the controller, which would make the machine the host of every play on
        C(localhost) and every task delegated to it), V(localhost.localdomain) and the other loopback names of
        C(/etc/hosts), any V(*.localhost), numeric forms of the loopback or V(0.0.0.0)
        (V(127.1), V(2130706433)) and any numeric name but four dotted decimals, V(all), V(ungrouped), and any value
        with a host pattern character (V(,) V(:) V(*) V(!) V(&) V([) V(]) V(~) V(?), a leading V(@)), whitespace, a
        control character, a quote, a brace (a template such as V({{) or V({%)) or non-ASCII text. IPv6 addresses
        hold V(:) and never name a host either. Such a machine is named by its next preference, with a warning that
        shows the value quoted and cut short; the value is still a host variable, as literal text.
      - A value that two or more machines hold (compared case-insensitively, a trailing dot ignored), or that is
        another machine's C(id), names none of them, so no record takes another's name (a compromised machine named
        after a real one, or an always-online duplicate). Each of them is named by its next preference, with the
        default by its C(id), and a warning names the ids. Duplicate records of one device after a re-image are
        common; both are named by id and keep the name in C(defender_computer_dns_name); C(defender_last_seen) tells
        the current one.
    type: list
    elements: str
    choices: [computerDnsName, id, lastIpAddress, lastExternalIpAddress, aadDeviceId]
    default: [computerDnsName, id]
  hostvars_prefix:
    description:
      - Prefix of the host variables made from the machine fields.
      - With an empty prefix, fields such as C(version) would clash with Ansible's own variable names; keep one.
      - A prefix starting with V(ansible_) is refused, and no field ever becomes a variable whose name starts with
        V(ansible_) (the API's data never chooses how Ansible connects).
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
  - A composed C(ansible_host) (or C(ansible_ssh_host)) is checked, because the device reports its own
    C(lastIpAddress). It is left unset, with a warning, unless it is an IP address other than the controller's own
    (not loopback, not V(0.0.0.0) or V(::)) or a host name that could name a host (see O(hostnames)). So a device that
    reports V(127.0.0.1), or text ssh would read as an option (V(-oProxyCommand=...)), is not connected to.
  - A group that O(keyed_groups) or O(groups) would name V(localhost) (a tag V(localhost) with an empty prefix) is named
    V(_localhost) instead, with a warning, because a group V(localhost) would take the place of the controller in every
    play on C(localhost).
  - O(compose), O(groups) and O(keyed_groups) see the host variables (C(defender_tags), C(defender_os_platform), ...)
    and the machine's own field names as the API spells them (C(machineTags), C(osPlatform), C(riskScore),
    C(healthStatus), C(rbacGroupName), ...). No group is created unless configured.
  - The cache (O(cache)) holds the machines read from the API. Its key depends on this file, the filters and the
    identity of the caller (tenant, client, user, login authority, API base), never on a secret. A cached inventory
    is only served after the credential has produced a valid token (from the token cache or the login endpoint),
    so a wrong or revoked secret fails instead of returning the cached machines. A given O(access_token) is first
    sent to the API once (C(GET /api/machines?$top=1)), because decoding a token proves nothing (anyone can sign a
    token with the same claims). A token the API rejects gets no cached machine. Use a persistent cache plugin such
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
  # tags lower-cased, so that Compromised and compromised are one group (tags compare case-insensitively)
  - key: defender_tags | map('lower') | list
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
  # only needed to connect to the machines themselves (a loopback or malformed address is left unset, see the notes)
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
# Only machines tagged "compromised" (in any case), named by machine id (for response playbooks)
# plugin: defender.atp.machines
# tags: [compromised]
# hostnames: [id]
# keyed_groups:
#   - key: defender_tags | map('lower') | list
#     prefix: defender_tag
#
# A playbook that isolates every machine tagged "compromised", in one task (fleet isolation). A machine's local
# admin can tag it (a registry value): the tag only says which machines to contain, never which ones to spare.
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
import ipaddress
import json
import re
import socket
import time

import jinja2
from jinja2 import meta as jinja2_meta

from ansible import constants as C
from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.utils.vars import combine_vars
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.defender.atp.plugins.module_utils import _odata as odata
from ansible_collections.defender.atp.plugins.module_utils._machines.directory import carries_any_tag
from ansible_collections.defender.atp.plugins.module_utils._http.ids import shown  # repr of untrusted text, cut short
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._http.client import MAX_PAGE_SIZE
from ansible_collections.defender.atp.plugins.module_utils._time import TimeSpanError, format_time, resolve_since
from ansible_collections.defender.atp.plugins.plugin_utils._connection import (
    PluginConnection, ansible_errors, stable_digest)

MACHINES_PATH = '/api/machines'
FILE_SUFFIXES = ('.defender.yml', '.defender.yaml')
FILE_NAMES = ('defender.yml', 'defender.yaml')
# Fields whose host variable is not just the snake_cased name.
RENAMED_FIELDS = {'machineTags': 'tags', 'defenderAvStatus': 'av_status'}
# Options that change which machines the API returns (and therefore the cache key).
SOURCE_OPTIONS = ('filter', 'health_status', 'os_platform', 'risk_score', 'exposure_level', 'onboarding_status', 'tags',
                  'last_seen_since', 'page_size')
# 2: tags are selected on the controller, case-insensitively (entries of format 1 were selected by the API).
CACHE_FORMAT = 2
# Host variables that tell Ansible where to connect: a composed value must be a sane address (see address_problem).
ADDRESS_VARIABLES = ('ansible_host', 'ansible_ssh_host')
# How many examples a warning about names shows (each one cut short).
WARNING_EXAMPLES = 5
# Put before a group name that would be a name of the controller (see InventoryModule._sanitize_group_name).
RENAMED_GROUP_PREFIX = '_'

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
    """The host variables of one machine entity: every field, snake_cased and prefixed; nested keys snake_cased.

    A name that would start with ``ansible_`` (a field such as ``ansibleHost`` with an empty prefix) is never set: the
    API's data must not choose how Ansible connects.
    """
    result = {}
    for field, value in machine.items():
        if field.startswith('@odata'):
            continue
        name = prefix + (RENAMED_FIELDS.get(field) or snake_case(field))
        if name.startswith('ansible_'):
            continue
        result[name] = _snake_value(value)
    return result


# -- host names ------------------------------------------------------------------------------------------------------
#
# Every value that could name a host comes from the API, and the endpoint's local admin chooses its computer name
# (and so computerDnsName), its tags and much of what it reports (lastIpAddress). A host name is where that text
# meets Ansible's host patterns and connection code, so a value names a host only when it is plainly a host name:
#
# * ASCII letters, digits, '-', '_' and '.', not starting with '-' or '.', at most 255 characters. That leaves out
#   every host pattern character (, : * ! & [ ] ~ ? and a leading @), whitespace, control characters, template
#   delimiters ({{ {% {#), quotes, and non-ASCII text (full-width letters that IDNA folds into "localhost", a
#   right-to-left override that hides part of the name). IPv6 addresses hold ':' and are left out too.
# * not a name Ansible or the resolver gives the controller itself: ansible-core's C.LOCALHOST ('localhost',
#   '127.0.0.1', '::1', which make the host the inventory's localhost, used by every "hosts: localhost" play and every
#   "delegate_to: localhost"), the loopback names of /etc/hosts, any *.localhost (RFC 6761), and numeric addresses a
#   resolver reads as the loopback or 0.0.0.0 ('127.1', '2130706433', '0x7f000001'); a numeric name in any other form
#   than four dotted decimals is ambiguous and left out as well;
# * not 'all' or 'ungrouped' (Ansible's own groups);
# all compared case-insensitively, a trailing dot ignored. Host names are plain text (not marked unsafe): before
# ansible-core 2.19 an unsafe one would be written as {"__ansible_unsafe": ...} in ansible-inventory --list (AWX).
# A refused value stays a host variable (marked unsafe); the machine is named by its next preference, at worst its id.

_NAME_RE = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')
MAX_HOST_NAME = 255
# ansible-core's C.LOCALHOST, lower-cased, and the names Linux distributions give the loopback in /etc/hosts.
LOCALHOST_NAMES = frozenset(name.lower() for name in C.LOCALHOST) | frozenset((
    'localhost', 'localhost.localdomain', 'localhost4', 'localhost4.localdomain4', 'localhost6', 'localhost6.localdomain6',
    'ip6-localhost', 'ip6-loopback'))
RESERVED_NAMES = LOCALHOST_NAMES | frozenset(('all', 'ungrouped'))
_DOTTED_QUAD = re.compile(r'^(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$')


def name_key(value):
    """How host names compare: case-insensitively, a trailing dot ignored (as DNS does)."""
    return value.rstrip('.').lower()


def _numeric_address(text):
    """The IPv4 address a resolver would read ``text`` as (inet_aton accepts '127.1', '2130706433', '0x7f.1'), or None."""
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except (OSError, ValueError, UnicodeError):
        return None


def _controller_address(address):
    """True for an address that reaches the controller itself: loopback, or unspecified (0.0.0.0 and :: connect locally)."""
    mapped = getattr(address, 'ipv4_mapped', None)
    if mapped is not None:
        address = mapped
    return address.is_loopback or address.is_unspecified


def host_name_problem(value):
    """Why ``value`` (text from the API) must not name a host, or None when it may (see the comment above)."""
    if not isinstance(value, str):
        return 'not text'
    if len(value) > MAX_HOST_NAME:
        return 'longer than %d characters' % MAX_HOST_NAME
    if not _NAME_RE.match(value):
        return 'a character other than A-Z, a-z, 0-9, "-", "_" and "." (or a leading "-" or ".")'
    key = name_key(value)
    if key in RESERVED_NAMES or key.endswith('.localhost'):
        return 'a name of the controller (localhost) or of an Ansible group'
    numeric = _numeric_address(key)
    if numeric is not None:
        if _controller_address(numeric):
            return 'an address of the controller itself (loopback or 0.0.0.0)'
        if not _DOTTED_QUAD.match(key):
            return 'a numeric address in another form than four dotted decimals'
    return None


def address_problem(value):
    """Why ``value`` must not be a connection address (``ansible_host``), or None: an IP address other than the
    controller's own (IPv6 included), or a host name that passes ``host_name_problem``."""
    if not isinstance(value, str):
        return 'not text'
    text = _plain_text(value)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return host_name_problem(text)
    return 'an address of the controller itself (loopback or unspecified)' if _controller_address(address) else None


def _plain_text(value):
    strip = getattr(value, '_strip_unsafe', None)  # AnsibleUnsafeText before ansible-core 2.19
    return to_text(strip() if strip is not None else value)


class NamingReport(object):
    """What assign_hostnames decided besides the names: ``shared`` {name: [machine ids]} (a value held by more than
    one machine, or equal to another machine's id, names none of them), ``refused`` [{id, field, value, reason}]
    (values that are no safe host name), ``duplicate_ids`` and ``unnamed`` (records with no usable name or id)."""

    def __init__(self):
        self.shared = {}
        self.refused = []
        self.duplicate_ids = []
        self.unnamed = 0


def _usable(value):
    return value not in (None, '') and not isinstance(value, (list, dict, bool))


def assign_hostnames(machines, preferences):
    """Name each machine by its first preferred field whose value is a safe host name and no other machine's.

    A value is compared case-insensitively, a trailing dot ignored. One held by two or more machines (in any of the
    preferred fields) names none of them, so a record never takes another's name (an always-online machine cannot
    squat a real one's DNS name, and two records of a re-imaged device are two hosts named by id). Machine ids are
    the last resort and belong to their machine: another machine's value equal to an id never takes it.

    Returns ``(named, report)``: ``[(hostname, machine)]`` in the API's order (host names are plain text), and a
    ``NamingReport``.
    """
    report = NamingReport()
    fields = []
    for field in list(preferences) + ['id']:
        if field not in fields:
            fields.append(field)
    id_owner = {}
    holders = {}
    candidates = []
    for index, machine in enumerate(machines):
        mine = []
        for field in fields:
            value = machine.get(field)
            if not _usable(value):
                continue
            text = _plain_text(value) if isinstance(value, str) else value
            problem = host_name_problem(text)
            if problem is not None:
                if field != 'id':
                    report.refused.append(dict(id=machine.get('id'), field=field, value=text, reason=problem))
                continue
            key = name_key(text)
            if field == 'id':
                if key in id_owner:
                    report.duplicate_ids.append(text)
                    continue
                id_owner[key] = index
            else:
                holders.setdefault(key, set()).add(index)
            mine.append((field, text, key))
        candidates.append(mine)
    named = []
    for index, machine in enumerate(machines):
        for field, text, key in candidates[index]:
            if field == 'id':
                if id_owner.get(key) == index:
                    named.append((text, machine))
                    break
                continue
            others = holders.get(key, set()) - set([index])
            if key in id_owner and id_owner[key] != index:
                others.add(id_owner[key])
            if others:
                report.shared.setdefault(key, set()).update(others | set([index]))
                continue
            named.append((text, machine))
            break
        else:
            report.unnamed += 1
    report.shared = dict((key, sorted(_plain_text(machines[i].get('id')) for i in indexes))
                         for key, indexes in report.shared.items())
    return named, report


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
        return odata.and_(*(fixed[:1] + [odata.join(group) for group in alternatives] + fixed[1:]))

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
        with ansible_errors(self.NAME, connection.redact):
            if parts is None or not odata_filter or odata.node_count(odata_filter) <= odata.MAX_FILTER_NODES:
                params = {'$filter': odata_filter} if odata_filter else None
                machines = []
                for page in connection.client.iter_pages(MACHINES_PATH, params=params, page_size=page_size):
                    pages += 1
                    machines.extend(page)
            else:
                fixed, alternatives = parts
                longest = max(alternatives, key=len)
                others = [odata.join(group) for group in alternatives if group is not longest]
                prefix = odata.and_(*(fixed[:1] + others + fixed[1:])) or None
                batcher = odata.FilterBatcher(connection.client)
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

    def select(self, machines):
        """The machines the options select on the controller: O(tags) (at least one, case-insensitively)."""
        tags = self.get_option('tags')
        if not tags:
            return machines
        tags = [to_text(tag) for tag in tags]
        selected = [machine for machine in machines if carries_any_tag(machine, tags)]
        self.display.vv('%s: %d of %d machines carry one of the tags' % (self.NAME, len(selected), len(machines)))
        return selected

    def _prove_credential(self, connection):
        """Prove the caller's credential before the cache is served.

        A token from the login endpoint (or the encrypted token cache, bound to the secret) proves it. A given
        access_token is only decoded by the shared code, and anyone who has seen one can make another with the same
        claims, signed with any key; so a given token is sent to the API once (``GET /api/machines?$top=1``, the
        cheapest read this source is allowed) and the cache is served only if the API accepts it. With credentials
        also given, a rejected token is replaced by a fresh one from them, which proves the credential instead.
        """
        connection.authenticate()
        with ansible_errors(self.NAME, connection.redact):
            if connection.authenticator.token_info('defender').get('source') == 'given':
                connection.client.get(MACHINES_PATH, params={'$top': 1}, what='Checking the access_token before serving '
                                      'the inventory cache (GET %s)' % MACHINES_PATH)

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
        named, report = assign_hostnames(machines, preferences)
        self._warn_about_names(report)
        inventory = self.inventory
        self._expressions = ExpressionReads()
        self._expression_results = {}
        self._renamed_groups = set()
        refused_addresses = []
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
                for name in ADDRESS_VARIABLES:
                    # compose: {ansible_host: defender_last_ip_address} hands the address the device reported to
                    # ssh: one that reaches the controller itself, or that ssh would read as an option, is dropped.
                    if name in host_vars:
                        problem = address_problem(host_vars[name])
                        if problem is not None:
                            refused_addresses.append((hostname, machine.get('id'), name, host_vars.pop(name), problem))
                for name in compose:
                    if name in host_vars:
                        context[name] = host_vars[name]
                    else:
                        context.pop(name, None)
            self._add_host_to_composed_groups(groups, context, hostname, strict=strict, fetch_hostvars=False)
            self._add_host_to_keyed_groups(keyed_groups, context, hostname, strict=strict, fetch_hostvars=False)
        if refused_addresses:
            self.display.warning(
                '%s: %d composed connection address(es) are left unset, because they reach the controller itself or are '
                'no plain address or host name (the device reports its own lastIpAddress): %s'
                % (self.NAME, len(refused_addresses), _examples(
                    '%s of host %s (machine %s) is %s: %s' % (name, host, shown(_plain_text(machine_id)), shown(_plain_text(value)), problem)
                    for host, machine_id, name, value, problem in refused_addresses)))
        if self._renamed_groups:
            self.display.warning('%s: group(s) %s are named %s instead: a group named like the controller would take the '
                                 'place of the implicit localhost in every "hosts: localhost" play, with the machines in '
                                 'it. Give keyed_groups a prefix.'
                                 % (self.NAME, ', '.join(shown(name) for name in sorted(self._renamed_groups)),
                                    ', '.join(shown(RENAMED_GROUP_PREFIX + name) for name in sorted(self._renamed_groups))))

    def _sanitize_group_name(self, name):
        """Ansible's group name rules, and never a name of the controller (``localhost``, ``127.0.0.1``, ``::1``).

        keyed_groups make group names of API data (a tag ``localhost`` with an empty prefix), and a group named
        ``localhost`` is what ``hosts: localhost`` then selects instead of the implicit localhost. Such a name gets
        RENAMED_GROUP_PREFIX in front (as Ansible puts ``_`` before a leading digit), and a warning.
        """
        sanitized = super(InventoryModule, self)._sanitize_group_name(name)
        if isinstance(sanitized, str) and name_key(_plain_text(sanitized)) in LOCALHOST_NAMES:
            self._renamed_groups.add(_plain_text(sanitized))
            return RENAMED_GROUP_PREFIX + _plain_text(sanitized)
        return sanitized

    def _warn_about_names(self, report):
        if report.shared:
            self.display.warning(
                '%s: %d name(s) are held by more than one machine record (compared case-insensitively), or by one record '
                'and another\'s id, so they name none of them; each record is named by its next hostnames preference, at '
                'worst its id: %s' % (self.NAME, len(report.shared), _examples(
                    '%s (machine ids %s)' % (shown(name), ', '.join(shown(i) for i in ids))
                    for name, ids in sorted(report.shared.items()))))
        if report.refused:
            self.display.warning(
                '%s: %d machine field value(s) are no safe host name and name no host; each machine is named by its next '
                'hostnames preference, at worst its id (the values stay host variables): %s' % (self.NAME, len(report.refused), _examples(
                    '%s %s of machine %s: %s' % (entry['field'], shown(entry['value']), shown(entry['id']), entry['reason'])
                    for entry in report.refused)))
        if report.duplicate_ids:
            self.display.warning('%s: the API returned %d duplicate machine record(s), left out: %s'
                                 % (self.NAME, len(report.duplicate_ids), _examples(shown(i) for i in report.duplicate_ids)))
        if report.unnamed:
            self.display.warning('%s: %d machine record(s) have no usable name or id and were left out.'
                                 % (self.NAME, report.unnamed))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        written = set(self._read_config_data(path))

        page_size = self._page_size()
        if to_text(self.get_option('hostvars_prefix') or '').startswith('ansible_'):
            raise AnsibleParserError('%s: hostvars_prefix must not start with ansible_: the machines\' fields would become '
                                     'Ansible\'s own connection variables.' % self.NAME)
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
                    self._prove_credential(connection)
                    machines = cached['machines']
                    self.display.vv('%s: %d machines from the inventory cache' % (self.NAME, len(machines)))
                if machines is None:
                    update_cache = True
            if machines is None:
                machines = self.select(self.fetch_machines(connection, odata_filter, page_size, parts=parts))
        finally:
            connection.close()

        # Everything was read: only now does the inventory change, so a failure above leaves no host behind.
        self.populate(machines)

        if update_cache:
            self._cache[cache_key] = dict(format=CACHE_FORMAT, machines=machines,
                                          fetched_at=format_time(datetime.datetime.now(datetime.timezone.utc), fraction=False))


def _examples(items, limit=WARNING_EXAMPLES):
    """The first ``limit`` of ``items`` joined with '; ', and how many more there are."""
    items = list(items)
    text = '; '.join(items[:limit])
    return text + ('; and %d more' % (len(items) - limit) if len(items) > limit else '')


def _copy(value):
    """A copy of a remembered result for one more host: containers are copied, immutable values shared."""
    if isinstance(value, (list, dict, set)):
        return copy.deepcopy(value)
    return value


def _describe_stats(stats):
    return '%d request(s), %d token request(s), %d retries, %.1f s waited' % (
        stats['requests'], stats['token_requests'], stats['retries'], stats['waited_seconds'])
