#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, defender.atp contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: atp_machine_action
short_description: Run an antivirus scan, collect an investigation package or stop and quarantine a file on machines
version_added: 0.2.0
description:
  - Runs one Microsoft Defender for Endpoint response action on a list of machines in one task - O(action=av_scan),
    O(action=collect_investigation_package) or O(action=stop_and_quarantine_file).
  - One-shot actions. A machine with an action of the same type still Pending or InProgress (for
    O(action=stop_and_quarantine_file), on the same O(sha1)) gets no new request; that action is returned and, with
    O(wait=true), waited for. A finished action does not count - a new task runs a new scan.
  - With O(action=collect_investigation_package), O(wait=true) and O(dest), each collected package is downloaded to
    O(dest) as C(<computer_dns_name or machine id>-<action id>.zip) (mode 0600, written to a temporary file and renamed)
    and its path returned in RV(machines[].package_path). The link comes from the API and is checked before it is
    used - see the notes.
  - O(action=av_scan) and O(action=stop_and_quarantine_file) are Windows-only actions (Microsoft's pages). A machine
    whose C(osPlatform) is a known other platform (C(Linux), C(macOS), C(iOS), C(Android), ...) gets no request and is
    an error in RV(machines) (in check mode too, and it does not count against O(max_machines)); a machine whose
    C(osPlatform) is unknown or null gets the request, and the service's C(400 OsPlatformNotSupported) is an error for
    that machine alone.
author:
  - defender.atp contributors (@defender-atp)
requirements:
  - requests
  - PyJWT (with cryptography, C(pyjwt[crypto]))
  - "Application permissions: C(Machine.Scan) (O(action=av_scan)), C(Machine.CollectForensics)
    (O(action=collect_investigation_package)) or C(Machine.StopAndQuarantine) (O(action=stop_and_quarantine_file)), and
    C(Machine.Read.All) (or C(Machine.ReadWrite.All)) for the reads, which include the package link."
  - "Delegated (user) tokens: the same action permission and C(Machine.Read) (or C(Machine.ReadWrite)); the package link
    needs C(Machine.CollectForensics). The user needs a Defender role with 'Active remediation actions' covering the
    machines' device groups."
extends_documentation_fragment:
  - defender.atp.connection
  - defender.atp.machine_action
  - defender.atp.machine_action.actions
  - defender.atp.attributes
  - defender.atp.attributes.action_group
attributes:
  check_mode:
    support: full
    details:
      - Resolves the machines and reads their actions, and returns what a real run would do (RV(changed), which
        machines would get a request, the O(max_machines) guard) without sending any action or downloading anything.
  diff_mode:
    support: full
    details:
      - Returns, per machine (keyed by machine id), the status of the action of this type under way before the task and
        after it.
options:
  action:
    description:
      - V(av_scan) runs a Microsoft Defender Antivirus scan (C(runAntiVirusScan)).
      - V(collect_investigation_package) collects the machine's forensic package (C(collectInvestigationPackage)).
      - V(stop_and_quarantine_file) stops the processes of the file O(sha1) and quarantines it (C(StopAndQuarantineFile)).
    type: str
    required: true
    choices: [av_scan, collect_investigation_package, stop_and_quarantine_file]
  scan_type:
    description:
      - The scan of O(action=av_scan) (the API's C(ScanType)). Defaults to V(Quick) there; refused with other actions.
    type: str
    choices: [Quick, Full]
  sha1:
    description:
      - The SHA-1 of the file to stop and quarantine (40 hexadecimal characters, any case), sent as the API's C(Sha1).
      - Required with O(action=stop_and_quarantine_file) and refused with other actions.
    type: str
  dest:
    description:
      - A directory to download collected investigation packages to, with O(action=collect_investigation_package) and
        O(wait=true) (a package exists only once its collection Succeeded). It must exist and be writable; this is
        checked before any request.
      - The file name is C(<computer_dns_name>-<action id>.zip), or C(<machine id>-<action id>.zip) when the DNS name
        the API returns is not a plain file name (it is never used as a path).
      - Each package link (C(GetPackageUri)) is valid for minutes only and its API allows 2 requests a minute, so a
        task collecting many packages waits for that quota.
      - The package is untrusted content (it is built on the machine under investigation). It is stored as it came and
        never unpacked or read; open it only in an environment meant for that.
    type: path
  max_package_mb:
    description:
      - The largest investigation package downloaded, in MiB (counted on the bytes received, whatever the answer
        announces). A larger one is stopped, removed, and an error for that machine.
    type: int
    default: 2048
  download_timeout:
    description:
      - Seconds one package's download may take in all (redirects included); each read also waits at most O(timeout).
        A download still running then is stopped, removed, and an error for that machine.
    type: int
    default: 1800
notes:
  - "The package link is a credential: it is never returned or shown, and it is downloaded without the API's bearer
    token (the download host never sees it), with TLS verified as for the API (O(ca_path), O(validate_certs))."
  - "The link is untrusted (it comes from the API). It may come wrapped in literal quotes, as Microsoft's
    C(get-package-sas-uri) page shows (one pair is removed). It must then be an https link to one of Microsoft's
    download hosts - C(*.securitycenter.windows.com), C(*.securitycenter.microsoft.com), C(*.security.microsoft.com),
    C(*.blob.core.windows.net), and for the US Government clouds C(*.securitycenter.microsoft.us) and
    C(*.blob.core.usgovcloudapi.net), on port 443 - or to the configured API host (O(api_url)). Any other host is
    refused, named in the error, and never contacted. Redirects are followed only to those hosts, checked at every
    hop (at most 5)."
  - "C(GetPackageUri) has a quota of its own: 2 requests a minute and 120 an hour."
seealso:
  - module: defender.atp.atp_machine_isolate
  - module: defender.atp.atp_app_restriction
  - name: Run antivirus scan API
    description: Microsoft's reference of the scan request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/run-av-scan
  - name: Collect investigation package API
    description: Microsoft's reference of the collection request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/collect-investigation-package
  - name: Stop and quarantine file API
    description: Microsoft's reference of the quarantine request.
    link: https://learn.microsoft.com/en-us/defender-endpoint/api/stop-and-quarantine-file
'''

EXAMPLES = r'''
- name: Set the connection once for the whole block
  module_defaults:
    group/defender.atp.atp:
      tenant_id: "{{ tenant_id }}"
      client_id: "{{ client_id }}"
      client_secret: "{{ client_secret }}"
  block:
    - name: Collect the investigation packages before the machines are reimaged, and keep them
      defender.atp.atp_machine_action:
        machines: "{{ suspicious_hosts }}"
        action: collect_investigation_package
        comment: "IR-1234: forensics before reimage"
        wait: true
        wait_timeout: 1800
        dest: /srv/forensics/IR-1234
      register: packages

    - name: Run a full antivirus scan
      defender.atp.atp_machine_action:
        machines: "{{ suspicious_hosts }}"
        action: av_scan
        scan_type: Full
        comment: "IR-1234: full scan"

    - name: Stop and quarantine the malicious file everywhere it was seen (preview first)
      defender.atp.atp_machine_action:
        machines: "{{ hosts_with_file }}"
        action: stop_and_quarantine_file
        sha1: 87662bc3d60e4200ceaf7aae249d1c343f4b83c9
        comment: "IR-1234: quarantine dropper"
        max_machines: 100
      check_mode: true
'''

RETURN = r'''
changed:
  description: Whether an action was requested (or, in check mode, would be).
  returned: always
  type: bool
machines:
  description: One entry per distinct machine, and one per entry that could not be resolved, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    input:
      description: The entry of O(machines) this result is for (the first one, when several named the same machine).
      type: str
      sample: WS-042
    inputs:
      description: Every entry of O(machines) that named this machine.
      type: list
      elements: str
      sample: [WS-042, 1e5bc9d7e413ddd7902c2932e418702b84d0cc07]
    machine_id:
      description: The machine id, or null when the entry was not resolved.
      type: str
      sample: 1e5bc9d7e413ddd7902c2932e418702b84d0cc07
    computer_dns_name:
      description: The machine's computer DNS name.
      type: str
      sample: ws-042.contoso.com
    health_status:
      description: The machine's C(healthStatus) (V(Active), V(Inactive), ...).
      type: str
      sample: Active
    last_seen:
      description: The machine's C(lastSeen).
      type: str
      sample: "2026-01-05T08:12:44.1234567Z"
    matched_by:
      description: How the entry matched - V(id), V(name) or V(short_name).
      type: str
      sample: name
    previous_state:
      description: The status of the action of this type (same O(sha1)) already under way before the task, else null.
      type: str
      sample: null
    state:
      description: The status of the action this result rests on at the end (V(Pending), V(InProgress), V(Succeeded),
        V(Failed), ...); V(Pending) for a request just sent or, in check mode, that would be; null when unresolved.
      type: str
      sample: Pending
    changed:
      description: Whether a request was sent for this machine (or would be, in check mode).
      type: bool
    action:
      description: The machine action created, or the one already under way that was taken. Null in check mode for a
        machine that would get a request.
      type: dict
      sample: {"id": "b89eb834-4578-496c-8be0-03f004061435", "type": "RunAntiVirusScan", "status": "Pending",
               "scope": "Full", "requestor": "Analyst@contoso.com", "requestor_comment": "IR-1234: full scan",
               "creation_date_time_utc": "2026-01-05T08:12:44.1234567Z",
               "last_update_date_time_utc": "2026-01-05T08:12:44.1234567Z", "sha1": null}
    package_path:
      description: With O(action=collect_investigation_package), the path of the downloaded package (O(dest) and
        O(wait=true), once the collection Succeeded), else null.
      type: str
      returned: with O(action=collect_investigation_package)
      sample: /srv/forensics/IR-1234/ws-042.contoso.com-b89eb834-4578-496c-8be0-03f004061435.zip
    error:
      description: Why this machine failed (unknown, ambiguous, a platform the action does not support, API error,
        action Failed, TimeOut or Cancelled, download refused or failed), else null.
      type: str
    candidates:
      description: For a name matching several machines, every candidate (C(machine_id), C(computer_dns_name),
        C(last_seen), C(health_status), C(os_platform)), newest C(last_seen) first.
      type: list
      elements: dict
      returned: when the name was ambiguous
    warnings:
      description: Things to know about this machine (offline, package not downloaded because still pending).
      type: list
      elements: str
summary:
  description:
    - Counts. RV(summary.total) is RV(summary.changed) + RV(summary.unchanged) + RV(summary.failed).
    - RV(summary.pending) counts the machines, changed or not, whose action is still Pending or InProgress at the end
      (always 0 for M(defender.atp.atp_machine_tag), whose requests create no machine action).
  returned: always
  type: dict
  sample: {"total": 4, "changed": 2, "unchanged": 1, "failed": 1, "pending": 0}
  contains:
    total:
      description: Distinct machines and unresolved entries.
      type: int
    changed:
      description: Machines a request was sent for (would be, in check mode).
      type: int
    unchanged:
      description: Machines that needed no request (already as asked, or with the action asked for under way).
      type: int
    failed:
      description: Entries that failed (unresolved, conflicting, refused by the API, action ended unsuccessfully).
      type: int
    pending:
      description: Machines (changed or not) whose action is still Pending or InProgress at the end.
      type: int
diff:
  description: With C(--diff), each machine's action status before and after, keyed by machine id (two machines may
    share a DNS name).
  returned: in diff mode
  type: dict
  sample: {"before": {"1e5bc9d7e413ddd7902c2932e418702b84d0cc07": null},
           "after": {"1e5bc9d7e413ddd7902c2932e418702b84d0cc07": "Pending"}}
msg:
  description: A one-line account of what was done, naming the failed machines.
  returned: always
  type: str
  sample: "sent antivirus scan requests for 2 machines, 1 already under way, 3 still pending."
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

from ansible_collections.defender.atp.plugins.module_utils._machines.orchestrator import (
    machine_argument_spec, run_action_module)
from ansible_collections.defender.atp.plugins.module_utils._module import AtpModule
from ansible_collections.defender.atp.plugins.module_utils._machines.one_shot import (
    ACTIONS, SCAN_TYPES, OneShotSpec, validate_action_options)
from ansible_collections.defender.atp.plugins.module_utils._http.download import (
    DEFAULT_DOWNLOAD_TIMEOUT, DEFAULT_MAX_PACKAGE_MB, DownloadLimits)


def run_module(module):
    params = module.params
    validate_action_options(params)
    spec = OneShotSpec(params['action'], params['comment'], scan_type=params['scan_type'], sha1=params['sha1'],
                       dest=params['dest'], limits=DownloadLimits.from_params(params))
    run_action_module(module, spec)


def main():
    module = AtpModule(
        argument_spec=machine_argument_spec(
            action=dict(type='str', required=True, choices=sorted(ACTIONS)),
            scan_type=dict(type='str', choices=list(SCAN_TYPES)),
            sha1=dict(type='str'),
            dest=dict(type='path'),
            max_package_mb=dict(type='int', default=DEFAULT_MAX_PACKAGE_MB),
            download_timeout=dict(type='int', default=DEFAULT_DOWNLOAD_TIMEOUT),
        ),
        supports_check_mode=True,
    )
    module.run(run_module)


if __name__ == '__main__':
    main()
