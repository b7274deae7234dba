"""Stop and quarantine, investigation packages (GetPackageUri and the SAS-like link), machine tags (one and bulk)."""

import io
import time
import zipfile

import requests

from .test_actions import FINANCE_01, HR_01, OFFLINE, WEB_02
from .test_defender import assert_defender_error

SHA1 = "87662bc3d60e4200ceaf7aae249d1c343f4b83c9"


def quarantine(api, machine, sha1=SHA1, token=None):
    return api.post("/api/machines/%s/StopAndQuarantineFile" % machine, json={"Comment": "dropper", "Sha1": sha1},
                    token=token)


def wait_status(api, action_id, wanted, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = api.get("/api/machineactions/" + action_id).json()["status"]
        if status == wanted:
            return
        time.sleep(0.2)
    raise AssertionError("action %s never reached %s" % (action_id, wanted))


def test_stop_and_quarantine_file(api, info):
    created = quarantine(api, FINANCE_01, SHA1.upper())
    assert created.status_code == 201, created.text
    action = created.json()
    assert action["type"] == "StopAndQuarantineFile" and action["status"] == "Pending"
    assert action["relatedFileInfo"] == {"fileIdentifier": SHA1, "fileIdentifierType": "Sha1"}
    assert_defender_error(quarantine(api, FINANCE_01), 400, "ActiveRequestAlreadyExists")
    assert quarantine(api, FINANCE_01, "b" * 40).status_code == 201  # another file is another action
    assert_defender_error(quarantine(api, FINANCE_01, "abc"), 400, "InvalidRequestBody")
    missing = api.post("/api/machines/%s/StopAndQuarantineFile" % FINANCE_01, json={"Comment": "x"})
    assert_defender_error(missing, 400, "MissingRequiredParameter")
    assert_defender_error(quarantine(api, "f" * 40), 404, "ResourceNotFound")
    assert_defender_error(quarantine(api, HR_01, token=api.token("limited")), 403, "Forbidden")


def test_an_offline_machine_keeps_its_collection_pending(api, emulator):
    emulator.set_config(pending_seconds=0.1, inprogress_seconds=0.1)
    created = api.post("/api/machines/%s/collectInvestigationPackage" % OFFLINE, json={"Comment": "forensics"})
    assert created.status_code == 201
    time.sleep(0.5)
    action_id = created.json()["id"]
    assert api.get("/api/machineactions/" + action_id).json()["status"] == "Pending"
    assert_defender_error(api.get("/api/machineactions/%s/GetPackageUri" % action_id), 404, "ResourceNotFound")


def test_package_link_downloads_without_a_token_and_expires(api, info, emulator):
    emulator.set_config(pending_seconds=0.1, inprogress_seconds=0.1, package_link_seconds=1.5)
    created = api.post("/api/machines/%s/collectInvestigationPackage" % WEB_02, json={"Comment": "forensics"})
    action_id = created.json()["id"]
    assert_defender_error(api.get("/api/machineactions/%s/GetPackageUri" % action_id), 404, "ResourceNotFound")
    wait_status(api, action_id, "Succeeded")
    # Application Machine.Read.All is enough for the link (get-package-sas-uri.md).
    answer = api.get("/api/machineactions/%s/GetPackageUri" % action_id, token=api.token("limited"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # get-package-sas-uri.md: the link comes wrapped in literal quotes.
    assert body["@odata.context"].endswith("#Edm.String") and body["value"].startswith('"https://')
    link = body["value"][1:-1]
    download = requests.get(link, verify=info["ca_path"], timeout=30)
    assert download.status_code == 200 and download.headers["Content-Type"] == "application/zip"
    assert any(n.endswith("README.txt") for n in zipfile.ZipFile(io.BytesIO(download.content)).namelist())
    with_token = requests.get(link, verify=info["ca_path"], timeout=30, headers={"Authorization": "Bearer " + api.token()})
    assert with_token.status_code == 400 and with_token.headers["x-ms-error-code"] == "InvalidAuthenticationInfo"
    tampered = requests.get(link.replace("sig=", "sig=0"), verify=info["ca_path"], timeout=30)
    assert tampered.status_code == 403
    time.sleep(1.7)
    expired = requests.get(link, verify=info["ca_path"], timeout=30)
    assert expired.status_code == 403 and expired.headers["x-ms-error-code"] == "AuthenticationFailed"
    # Not a collection: 404; not a GUID: 400.
    scan = api.post("/api/machines/%s/runAntiVirusScan" % FINANCE_01, json={"Comment": "s", "ScanType": "Quick"}).json()
    wait_status(api, scan["id"], "Succeeded")
    assert_defender_error(api.get("/api/machineactions/%s/GetPackageUri" % scan["id"]), 404, "ResourceNotFound")
    assert_defender_error(api.get("/api/machineactions/nope/GetPackageUri"), 400, "BadRequest")


def tags_of(api, machine):
    return api.get("/api/machines/" + machine).json()["machineTags"]


def test_tags_of_one_machine(api):
    before = tags_of(api, FINANCE_01)
    added = api.post("/api/machines/%s/tags" % FINANCE_01, json={"Value": "IR-1", "Action": "Add"})
    assert added.status_code == 200, added.text
    assert added.json()["id"] == FINANCE_01 and added.json()["machineTags"] == before + ["IR-1"]
    again = api.post("/api/machines/%s/tags" % FINANCE_01, json={"Value": "IR-1", "Action": "Add"})
    assert again.json()["machineTags"] == before + ["IR-1"]  # no duplicate of the same spelling
    removed = api.post("/api/machines/%s/tags" % FINANCE_01, json={"Value": "IR-1", "Action": "Remove"})
    assert removed.json()["machineTags"] == before
    assert_defender_error(api.post("/api/machines/%s/tags" % FINANCE_01, json={"Value": "x" * 201, "Action": "Add"}),
                          400, "InvalidRequestBody")
    assert_defender_error(api.post("/api/machines/%s/tags" % FINANCE_01, json={"Value": "x", "Action": "Toggle"}),
                          400, "InvalidRequestBody")
    assert_defender_error(api.post("/api/machines/%s/tags" % FINANCE_01, json={"Action": "Add"}), 400,
                          "MissingRequiredParameter")
    assert_defender_error(api.post("/api/machines/%s/tags" % ("f" * 40), json={"Value": "x", "Action": "Add"}), 404,
                          "ResourceNotFound")
    assert_defender_error(api.post("/api/machines/%s/tags" % FINANCE_01, json={"Value": "x", "Action": "Add"},
                                   token=api.token("limited")), 403, "Forbidden")


def test_tags_of_many_machines(api):
    path = "/api/machines/AddOrRemoveTagForMultipleMachines"
    ids = [FINANCE_01, HR_01, WEB_02]
    answer = api.post(path, json={"Value": "IR-2", "Action": "Add", "MachineIds": ids})
    assert answer.status_code == 200, answer.text
    assert all("IR-2" in tags_of(api, m) for m in ids)
    assert api.post(path, json={"Value": "IR-2", "Action": "Remove", "MachineIds": ids}).status_code == 200
    assert not any("IR-2" in tags_of(api, m) for m in ids)
    assert_defender_error(api.post(path, json={"Value": "x", "Action": "Add", "MachineIds": ["a" * 40] * 501}), 400,
                          "InvalidRequestBody")
    assert_defender_error(api.post(path, json={"Value": "x", "Action": "Add", "MachineIds": [FINANCE_01, "f" * 40]}),
                          404, "ResourceNotFound")
    assert "x" not in tags_of(api, FINANCE_01)  # refused as a whole
    assert_defender_error(api.post(path, json={"Value": "x", "Action": "Add"}), 400, "MissingRequiredParameter")
    assert_defender_error(api.post(path, json={"Value": "x", "Action": "Add", "MachineIds": ids},
                                   token=api.token("limited")), 403, "Forbidden")
    # GET on the bulk path is not the machine named AddOrRemoveTagForMultipleMachines.
    assert api.get(path).status_code == 405
