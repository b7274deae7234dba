#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_query
short_description: Run a Microsoft Defender advanced hunting (KQL) query
version_added: 0.1.0
description:
  - Runs an advanced hunting query in Kusto Query Language (KQL) through Microsoft Graph (C(security/runHuntingQuery),
    the default) or the Defender for Endpoint API (C(/api/advancedqueries/run), which Microsoft is retiring).
  - The answer has the same shape whatever the backend - RV(schema) as a list of C(name) and C(type), RV(rows),
    RV(row_count) and RV(stats) where the API gives them.
  - With O(dest), the rows are written to a file (JSON, JSON Lines or CSV) as they arrive instead of being returned,
    so even 100,000 rows use little memory.
  - A throttled query (HTTP 429, by number of calls or by CPU time) waits as the API's C(Retry-After) says, within
    O(max_retries) and O(max_retry_wait), then fails with the API's own message naming the quota.
  - The module never changes anything in Defender. C(changed) is V(true) only when O(dest) was created or its content
    or mode changed; writing the same rows again reports V(false) and leaves the file as it was.
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "With O(api=graph), the Microsoft Graph permission C(ThreatHunting.Read.All) (application or delegated)."
  - "With O(api=defender), the Defender for Endpoint API permission C(AdvancedQuery.Read.All) (application) or
    C(AdvancedQuery.Read) (delegated)."
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.attributes
  - defender.atp.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - The query runs in check mode (it only reads Defender). With O(dest) the file is not written, and C(changed)
        predicts whether it would be (the rows are hashed and compared with the existing file).
  diff_mode:
    support: none
options:
  query:
    description:
      - The KQL query, for example V(DeviceProcessEvents | where FileName =~ 'powershell.exe' | take 100).
      - It may span several lines (use a YAML block scalar, C(|)).
      - The APIs return at most 100,000 rows and 124 MB; use C(project), C(take) and C(summarize) to stay within them.
    type: str
    required: true
  api:
    description:
      - Which API runs the query.
      - V(graph) is Microsoft Graph C(security/runHuntingQuery) (advanced hunting of Microsoft Defender XDR, all its
        tables). The token is requested for Microsoft Graph.
      - V(defender) is the Defender for Endpoint C(/api/advancedqueries/run) API, retiring since January 2026. The token is
        requested for the Defender API.
      - With O(access_token), the token must be for the API chosen here.
    type: str
    default: graph
    choices: [graph, defender]
  timespan:
    description:
      - With O(api=graph), the time range the query looks at; Graph's default is the last 30 days.
      - An ISO 8601 duration back from now (V(P7D), V(PT12H)), a start time (V(2026-01-31T08:00:00Z)), or an interval
        C(start/end), C(start/duration) or C(duration/end). A short span such as V(12h) or V(7d) is sent as V(PT12H),
        V(P7D).
      - The Defender API has no such parameter; with O(api=defender) this is an error (filter on C(Timestamp) in the
        query instead).
    type: str
  timeout:
    description:
      - Seconds to wait for the answer. A query may run for up to 200 seconds on the Defender API and 3 minutes on
        Graph, so the default waits a little longer than either, to get the API's own message when a query is too slow.
      - If not set, the environment variable E(DEFENDER_ATP_TIMEOUT) is used.
    type: float
    default: 210
  dest:
    description:
      - Write the rows to this file instead of returning them; RV(rows) is then not returned.
      - The file is written on the host that runs the module (use C(delegate_to) to choose it). Its directory must exist.
      - It is replaced only once the whole result has been read, so a failed query leaves the previous file as it was.
      - The file is created with O(mode) (V(0600), readable by its owner only, unless set) before a row is written.
      - An existing file is replaced by a new file owned by the user that runs the module; its owner, group and mode are
        not carried over, so a file that another user owns (or prepared) cannot make the results readable to them, and a
        symbolic link at O(dest) is replaced, not followed.
      - The new content is compared with the existing file (by a SHA-256 hash computed while writing); when both are
        the same and so is the mode, the file is left untouched and C(changed) is V(false).
    type: path
  format:
    description:
      - The format of O(dest). By default it follows the extension of O(dest) (C(.csv), C(.jsonl) or C(.ndjson),
        C(.json)), and is V(json) for any other.
      - V(json) is one array of row objects. V(jsonl) is one row object per line (JSON Lines).
      - V(csv) has a header line with the column names in schema order, then one line per row; values with commas, quotes
        or line breaks are quoted, empty values are empty, objects and arrays are written as JSON. See
        O(csv_escape_formulas) for cells a spreadsheet would evaluate.
    type: str
    choices: [json, jsonl, csv]
  mode:
    description:
      - The permissions of O(dest), as in M(ansible.builtin.copy) - an octal string such as V('0640') (quote it, so YAML
        does not read it as a decimal number), or a symbolic mode such as V(u=rw,g=r,o=) or V(g+r).
      - A symbolic mode applies to the mode of the existing file when this user owns it, else to V(0600).
      - The mode is given to the temporary file when it is created, before any row is written, and the file is renamed
        into place, so the rows are never readable more widely than asked, not even for a moment.
      - Without it the file is V(0600), also when it replaces a file that had wider permissions.
    type: raw
    version_added: 0.2.0
  csv_escape_formulas:
    description:
      - With O(format=csv), a text cell that starts with V(=), V(+), V(-), V(@), a tab or a carriage return gets a
        leading single quote (V(')), so a spreadsheet shows it as text instead of running it as a formula
        (OWASP's advice against CSV injection). A cell that is only a number, such as V(-1.5), is left as it is.
      - Hunting results carry text an attacker chooses (command lines, file names, URLs), so keep this on for files
        anyone may open in Excel or LibreOffice. Set it to V(false) to get the values exactly as the API returned them,
        for example for a program that reads the CSV.
      - JSON and JSON Lines files always hold the values exactly.
    type: bool
    default: true
    version_added: 0.2.0
notes:
  - In check mode the query runs (it only reads) and RV(row_count) and RV(schema) are returned, but O(dest) is not written;
    C(changed) predicts whether it would be (the rows are hashed and compared with the existing file).
  - Advanced hunting quotas are per tenant - 45 calls a minute and 1,500 an hour, and a CPU budget (10 minutes an hour,
    3 hours a day on the Defender API). A 429 says which one was exceeded.
  - The APIs only keep the last 30 days of hunting data.
seealso:
  - module: defender.atp.atp_alert_info
  - module: defender.atp.atp_token
  - name: Microsoft Graph runHuntingQuery
    description: The Graph advanced hunting API, its request and answer.
    link: https://learn.microsoft.com/en-us/graph/api/security-security-runhuntingquery
  - name: Defender for Endpoint advanced hunting API
    description: The older Defender API, its limits and quotas.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/run-advanced-query-api
'''

EXAMPLES = r'''
- name: Hunt with the connection set once for the whole collection
  module_defaults:
    group/defender.atp.atp:
      tenant_id: "{{ tenant_id }}"
      client_id: "{{ client_id }}"
      client_secret: "{{ client_secret }}"
  block:
    - name: PowerShell processes that touched AppData in the last day (Microsoft Graph)
      defender.atp.atp_query:
        query: |
          DeviceProcessEvents
          | where InitiatingProcessFileName =~ 'powershell.exe'
          | where ProcessCommandLine contains 'appdata'
          | project Timestamp, DeviceName, FileName, ProcessCommandLine
          | take 500
        timespan: P1D
      register: hunt

    - name: Show the devices
      ansible.builtin.debug:
        msg: "{{ hunt.row_count }} rows on {{ hunt.rows | map(attribute='DeviceName') | unique | list }}"

- name: Export a week of network connections of one device to CSV on the controller
  defender.atp.atp_query:
    query: |
      DeviceNetworkEvents
      | where DeviceName == 'ws-042.contoso.com'
      | project Timestamp, RemoteIP, RemotePort, RemoteUrl, InitiatingProcessFileName
    timespan: 7d
    dest: "{{ playbook_dir }}/evidence/ws-042-network.csv"
    mode: "0640"
  delegate_to: localhost
  register: export

- name: Say where it went
  ansible.builtin.debug:
    msg: "{{ export.row_count }} rows in {{ export.dest }} (columns {{ export.schema | map(attribute='name') | join(', ') }})"

- name: The same query on the Defender for Endpoint API, as JSON Lines
  defender.atp.atp_query:
    api: defender
    query: "DeviceInfo | where Timestamp > ago(1d) | summarize arg_max(Timestamp, *) by DeviceId"
    dest: /var/tmp/device-info.jsonl

- name: A Graph token from atp_token, reused by several queries
  defender.atp.atp_token:
    api: graph
    required_permissions: [ThreatHunting.Read.All]
  register: graph_token
  no_log: true

- name: Count alerts by severity with that token
  defender.atp.atp_query:
    access_token: "{{ graph_token.access_token }}"
    query: "AlertInfo | summarize count() by Severity"
'''

RETURN = r'''
schema:
  description: The result's columns, in order, each with its C(name) and C(type) (the APIs' C(Name)/C(Type) or C(name)/C(type)).
  returned: success
  type: list
  elements: dict
  sample: [{"name": "Timestamp", "type": "DateTime"}, {"name": "FileName", "type": "String"}]
rows:
  description: The result rows, one dict per row with the column names as keys.
  returned: success, without O(dest)
  type: list
  elements: dict
  sample: [{"Timestamp": "2024-03-26T09:39:50.7688641Z", "FileName": "cmd.exe"}]
row_count:
  description: How many rows the query returned (and were written to O(dest)).
  returned: success
  type: int
  sample: 2
stats:
  description: Statistics of the query's execution, as the Defender API gives them (C(Stats)); Graph gives none.
  returned: when the API gives them
  type: dict
  sample: {"ExecutionTime": 0.171881, "resource_usage": {"cpu": {"total cpu": "00:00:00"}, "memory": {"peak_per_node": 3146640}}}
dest:
  description: The absolute path of the file the rows were written to.
  returned: success, with O(dest)
  type: str
  sample: /home/analyst/evidence/ws-042-network.csv
format:
  description: The format O(dest) was written in.
  returned: success, with O(dest)
  type: str
  sample: csv
mode:
  description: The permissions of O(dest), in octal.
  returned: success, with O(dest)
  type: str
  sample: '0600'
api:
  description: The API that ran the query.
  returned: success
  type: str
  sample: graph
auth_method:
  description: The authentication method used (the choice of O(auth_method=auto)).
  returned: when the options were valid
  type: str
  sample: client_secret
http_stats:
  description: Requests this task sent - C(requests) (all, token requests and retries included), C(token_requests),
    C(retries) (after a 429, a 5xx or a connection error), C(throttled) (retries after a 429), C(waited_seconds).
  returned: when a request was attempted
  type: dict
  sample: {"requests": 3, "token_requests": 1, "retries": 0, "throttled": 0, "waited_seconds": 0.0}
'''

from ansible_collections.defender.atp.plugins.module_utils import _hunting as hunting
from ansible_collections.defender.atp.plugins.module_utils import _row_files as row_files
from ansible_collections.defender.atp.plugins.module_utils._module import AtpModule
from ansible_collections.defender.atp.plugins.module_utils._errors import AtpOptionError
from ansible_collections.defender.atp.plugins.module_utils._time import TimeSpanError, normalize_timespan

# Longer than the APIs' own limits (Defender 200 s, Graph 3 min), so the API's message arrives before our timeout.
DEFAULT_TIMEOUT = 210


def checked_timespan(params):
    if params['timespan'] is None:
        return None
    try:
        return normalize_timespan(params['timespan'])
    except TimeSpanError as exc:
        raise AtpOptionError(str(exc))


def run_to_file(module, query, timespan, dest, file_format, mode):
    """Run the query into ``dest`` (in check mode into a hash only); return the sink, the extra answer and ``changed``."""
    params = module.params
    target = row_files.RowFileDigest if module.check_mode else row_files.AtomicRowFile
    with target(dest, file_format, mode=mode, escape_formulas=params['csv_escape_formulas']) as output:
        extra = hunting.run_query(module.client, params['api'], query, output.writer, timespan=timespan)
        changed = output.commit()
    return output.writer, extra, changed


def checked_mode(dest, requested):
    try:
        return row_files.target_mode(dest, requested)
    except AtpOptionError:
        raise
    except (TypeError, ValueError) as exc:
        raise AtpOptionError('mode %r cannot be read: %s.' % (requested, exc))


def run_module(module):
    params = module.params
    api = params['api']
    query = params['query']
    timespan = checked_timespan(params)
    hunting.build_request(api, query, timespan)  # every option error before any request
    dest = file_format = mode = None
    if params['dest'] is not None:
        dest = row_files.check_dest(params['dest'])
        file_format = row_files.format_for(dest, params['format'])
        mode = checked_mode(dest, params['mode'])
    module.prepare()

    changed = False
    if dest:
        sink, extra, changed = run_to_file(module, query, timespan, dest, file_format, mode)
    else:
        sink = hunting.RowCollector()
        extra = hunting.run_query(module.client, api, query, sink, timespan=timespan)

    result = dict(changed=changed, api=api, schema=sink.columns or [], row_count=sink.row_count)
    if extra.get('stats') is not None:
        result['stats'] = extra['stats']
    if dest:
        result.update(dest=dest, format=file_format, mode=row_files.format_mode(mode))
    else:
        result['rows'] = sink.rows
    module.exit_json(**result)


def main():
    module = AtpModule(
        argument_spec=dict(
            query=dict(type='str', required=True),
            api=dict(type='str', default='graph', choices=list(hunting.APIS)),
            timespan=dict(type='str'),
            timeout=dict(type='float', default=DEFAULT_TIMEOUT),
            dest=dict(type='path'),
            format=dict(type='str', choices=list(row_files.FORMATS)),
            mode=dict(type='raw'),
            csv_escape_formulas=dict(type='bool', default=True),
        ),
        required_by=dict(format='dest', mode='dest'),
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
