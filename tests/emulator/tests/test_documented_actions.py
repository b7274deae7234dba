"""What Microsoft's pages document for machine actions and tags, served by default (each quirk named with its page):

* get-package-sas-uri.md: ``value`` is the link wrapped in literal quotes;
* run-av-scan.md, restrict-code-execution.md, unrestrict-code-execution.md, unisolate-machine.md: a repeated request
  while one is pending answers with that pending action; collect-investigation-package.md: a plain 400;
* run-av-scan.md, restrict-code-execution.md, stop-and-quarantine-file.md: Windows only (common-errors.md:
  400 OsPlatformNotSupported);
* machineaction.md: actions end Failed, TimeOut or Cancelled too (for chosen machines);
* add-or-remove-machine-tags.md does not say tags compare case-insensitively: the emulator is strict.
"""

import requests

from .test_actions import FINANCE_01, HR_01, OFFLINE, status_of
from .test_defender import assert_defender_error
from .test_response_actions import SHA1, wait_status

KIOSK = "1d281f6d1f22db521815e0d3d2feaca0a1edaab0"      # kiosk-01: new actions end Failed
FILE_01 = "87282a5711e74007534ba506e312ba5653c647cd"    # srv-file-01: new actions end TimeOut
ENG_03 = "68044d1c21684ae2ee934714d7a2ead13942d7e8"     # ws-eng-03: new actions end Cancelled
WEB_01 = "d7bb931b140a0160bf25cbfde1392ca2e590e4d5"     # srv-web-01: Linux
MAC_01 = "e33bb8031216cb49584328d1cd9eaab4b76b46ee"     # mac-design-01: macOS


def scan(api, machine, comment="scan"):
    return api.post("/api/machines/%s/runAntiVirusScan" % machine, json={"Comment": comment, "ScanType": "Quick"})


def collected_link(api, emulator, machine=FINANCE_01):
    emulator.set_config(pending_seconds=0.1, inprogress_seconds=0.1)
    created = api.post("/api/machines/%s/collectInvestigationPackage" % machine, json={"Comment": "forensics"})
    assert created.status_code == 201, created.text
    wait_status(api, created.json()["id"], "Succeeded")
    answer = api.get("/api/machineactions/%s/GetPackageUri" % created.json()["id"])
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


# -- get-package-sas-uri.md ---------------------------------------------------------------------------------------------
def test_the_package_link_is_wrapped_in_quotes_as_the_page_shows(api, emulator, info):
    value = collected_link(api, emulator)
    assert value.startswith('"https://') and value.endswith('"') and value.count('"') == 2
    link = value[1:-1]
    assert link.startswith(info["url"] + "/packages/")  # the emulator's own host: the configured API host
    assert requests.get(link, verify=info["ca_path"], timeout=30).status_code == 200


def test_the_package_link_can_name_another_host_and_redirect(api, emulator, info):
    port = info["url"].rsplit(":", 1)[1]
    emulator.set_config(package_link_host="localhost:%s" % port, package_link_quoted=False)
    link = collected_link(api, emulator)
    assert link.startswith("https://localhost:%s/packages/" % port)
    emulator.set_config(package_link_host=None, package_redirect_host="localhost:%s" % port)
    link = collected_link(api, emulator)
    first = requests.get(link, verify=info["ca_path"], timeout=30, allow_redirects=False)
    assert first.status_code == 302 and first.headers["Location"].startswith("https://localhost:%s/packages/" % port)
    assert requests.get(first.headers["Location"], verify=info["ca_path"], timeout=30).status_code == 200


def test_the_package_can_be_made_large(api, emulator, info):
    emulator.set_config(package_bytes=3 * 1024 * 1024)
    link = collected_link(api, emulator)[1:-1]
    download = requests.get(link, verify=info["ca_path"], timeout=30)
    assert download.status_code == 200 and len(download.content) >= 3 * 1024 * 1024
    assert int(download.headers["Content-Length"]) == len(download.content)


# -- duplicates ---------------------------------------------------------------------------------------------------------
def test_a_repeated_scan_is_answered_with_the_pending_action(api, emulator):
    emulator.set_config(pending_seconds=30)
    first = scan(api, FINANCE_01)
    again = scan(api, FINANCE_01, "again")
    assert first.status_code == 201 and again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["requestorComment"] == "scan"
    assert len(api.filter("machineactions", "machineId eq '%s' and type eq 'RunAntiVirusScan'" % FINANCE_01)) == 1
    emulator.set_config(duplicate_actions="error")
    assert_defender_error(scan(api, FINANCE_01), 400, "ActiveRequestAlreadyExists", "Action is already in progress")


def test_restriction_and_unisolation_repeat_the_pending_action(api, emulator):
    emulator.set_config(pending_seconds=30)
    for path in ("restrictCodeExecution", "unisolate"):
        first = api.post("/api/machines/%s/%s" % (HR_01, path), json={"Comment": "one"})
        again = api.post("/api/machines/%s/%s" % (HR_01, path), json={"Comment": "two"})
        assert first.status_code == 201 and again.status_code == 201 and again.json()["id"] == first.json()["id"]
    # Another type in the same family is still refused (undocumented: the emulator keeps the 400).
    assert_defender_error(api.post("/api/machines/%s/unrestrictCodeExecution" % HR_01, json={"Comment": "x"}), 400,
                          "ActiveRequestAlreadyExists")
    # isolate-machine.md documents neither answer: the 400 stays.
    assert api.post("/api/machines/%s/isolate" % OFFLINE, json={"Comment": "x"}).status_code == 201
    assert_defender_error(api.post("/api/machines/%s/isolate" % OFFLINE, json={"Comment": "y"}), 400,
                          "ActiveRequestAlreadyExists")


def test_a_repeated_collection_is_a_plain_400(api, emulator):
    emulator.set_config(pending_seconds=30)
    path = "/api/machines/%s/collectInvestigationPackage" % FINANCE_01
    assert api.post(path, json={"Comment": "one"}).status_code == 201
    error = assert_defender_error(api.post(path, json={"Comment": "two"}), 400, "BadRequest")
    assert "already in progress" not in error["message"].lower()


def test_a_repeated_quarantine_keeps_the_active_request_error(api, emulator):
    emulator.set_config(pending_seconds=30)
    body = {"Comment": "dropper", "Sha1": SHA1}
    path = "/api/machines/%s/StopAndQuarantineFile" % FINANCE_01
    assert api.post(path, json=body).status_code == 201
    assert_defender_error(api.post(path, json=body), 400, "ActiveRequestAlreadyExists")


# -- OS platforms -------------------------------------------------------------------------------------------------------
def test_windows_only_actions_are_refused_on_other_platforms(api):
    for machine, platform in ((WEB_01, "Linux"), (MAC_01, "macOS")):
        for path, body in (("runAntiVirusScan", {"Comment": "c", "ScanType": "Quick"}),
                           ("restrictCodeExecution", {"Comment": "c"}), ("unrestrictCodeExecution", {"Comment": "c"}),
                           ("StopAndQuarantineFile", {"Comment": "c", "Sha1": SHA1})):
            answer = api.post("/api/machines/%s/%s" % (machine, path), json=body)
            assert_defender_error(answer, 400, "OsPlatformNotSupported",
                                  "OS Platform %s isn't supported for this action." % platform)
        assert api.post("/api/machines/%s/isolate" % machine, json={"Comment": "c"}).status_code == 201
        assert api.post("/api/machines/%s/collectInvestigationPackage" % machine, json={"Comment": "c"}).status_code == 201
    assert api.filter("machineactions", "machineId eq '%s' and type eq 'RunAntiVirusScan'" % WEB_01) == []


# -- unsuccessful outcomes ----------------------------------------------------------------------------------------------
def test_chosen_machines_end_their_actions_failed_timed_out_or_cancelled(api, emulator):
    emulator.set_config(pending_seconds=0.1, inprogress_seconds=0.1)
    ids = dict((status, scan(api, machine).json()["id"]) for status, machine in
               (("Failed", KIOSK), ("TimeOut", FILE_01), ("Cancelled", ENG_03), ("Succeeded", FINANCE_01)))
    for status, action_id in ids.items():
        wait_status(api, action_id, status)
    cancelled = api.get("/api/machineactions/" + ids["Cancelled"]).json()
    assert cancelled["cancellationDateTimeUtc"] and cancelled["cancellationRequestor"] is None


def test_outcomes_are_configurable_per_machine_and_type(api, emulator):
    emulator.set_config(pending_seconds=0.1, inprogress_seconds=0.1,
                        action_outcomes={FINANCE_01: {"RunAntiVirusScan": "Failed"}, KIOSK: None})
    failed = scan(api, FINANCE_01).json()["id"]
    other = api.post("/api/machines/%s/restrictCodeExecution" % FINANCE_01, json={"Comment": "c"}).json()["id"]
    kiosk = scan(api, KIOSK).json()["id"]
    wait_status(api, failed, "Failed")
    wait_status(api, other, "Succeeded")
    wait_status(api, kiosk, "Succeeded")


# -- nulls where real payloads have them ----------------------------------------------------------------------------------
def test_a_new_action_has_no_computer_dns_name_until_the_machine_picks_it_up(api, emulator):
    emulator.set_config(pending_seconds=0.3, inprogress_seconds=0.1)
    created = scan(api, FINANCE_01).json()
    assert created["computerDnsName"] is None and created["status"] == "Pending"
    wait_status(api, created["id"], "Succeeded")
    assert api.get("/api/machineactions/" + created["id"]).json()["computerDnsName"] == "ws-finance-01.contoso.com"
    assert status_of(api, created["id"]) == "Succeeded"


# -- tags: exact spelling ------------------------------------------------------------------------------------------------
def test_tag_removal_needs_the_exact_spelling(api):
    path = "/api/machines/%s/tags" % FINANCE_01
    assert api.post(path, json={"Value": "IR-1", "Action": "Add"}).status_code == 200
    kept = api.post(path, json={"Value": "ir-1", "Action": "Remove"}).json()["machineTags"]
    assert "IR-1" in kept
    assert "IR-1" not in api.post(path, json={"Value": "IR-1", "Action": "Remove"}).json()["machineTags"]
    bulk = api.post("/api/machines/AddOrRemoveTagForMultipleMachines",
                    json={"Value": "IR-2", "Action": "Add", "MachineIds": [FINANCE_01, HR_01]})
    assert bulk.status_code == 200
    answer = api.post("/api/machines/AddOrRemoveTagForMultipleMachines",
                      json={"Value": "ir-2", "Action": "Remove", "MachineIds": [FINANCE_01, HR_01]}).json()
    assert all("IR-2" in m["machineTags"] for m in answer["value"])
