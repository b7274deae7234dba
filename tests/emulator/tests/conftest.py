"""Fixtures of the emulator's own suite: one emulator subprocess per session, reset before every test."""

import os
import sys
import urllib.parse

import pytest
import requests

TESTS_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from emulator.harness import EmulatorProcess  # noqa: E402

DEFENDER = "https://api.securitycenter.microsoft.com"
GRAPH = "https://graph.microsoft.com"


class Api:
    """requests over real HTTPS against the emulator.

    ``verify`` is passed on every call: requests lets REQUESTS_CA_BUNDLE override ``Session.verify``.
    """

    def __init__(self, emulator):
        self.emu = emulator
        self.info = emulator.info
        self.url = emulator.info["url"]
        self.session = requests.Session()
        self._tokens = {}

    def request(self, method, path, token=None, headers=None, **kwargs):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = "Bearer " + token
        kwargs.setdefault("verify", self.info["ca_path"])
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url + path, headers=headers, **kwargs)

    def get(self, path, token=None, **kwargs):
        return self.request("GET", path, token=token if token is not None else self.token(), **kwargs)

    def post(self, path, token=None, **kwargs):
        return self.request("POST", path, token=token if token is not None else self.token(), **kwargs)

    def token_request(self, form, tenant=None, v2=True, **kwargs):
        path = "/%s/oauth2/%stoken" % (tenant or self.info["tenant_id"], "v2.0/" if v2 else "")
        return self.request("POST", path, data=form, **kwargs)

    def token(self, who="full", resource=DEFENDER):
        """A cached client-credentials (or password) token: who is full, limited, other or user."""
        key = (who, resource)
        if key not in self._tokens:
            i = self.info
            if who == "user":
                form = {"grant_type": "password", "client_id": i["public_client_id"], "username": i["username"],
                        "password": i["password"], "scope": resource + "/.default"}
                tenant = None
            else:
                client, secret, tenant = {"full": (i["client_id"], i["client_secret"], None),
                                          "limited": (i["limited_client_id"], i["limited_client_secret"], None),
                                          "other": (i["other_client_id"], i["other_client_secret"], i["other_tenant_id"])}[who]
                form = {"grant_type": "client_credentials", "client_id": client, "client_secret": secret,
                        "scope": resource + "/.default"}
            response = self.token_request(form, tenant=tenant)
            assert response.status_code == 200, response.text
            self._tokens[key] = response.json()["access_token"]
        return self._tokens[key]

    def values(self, path, **kwargs):
        response = self.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()["value"]

    def filter(self, entity_set, expression, **params):
        params["$filter"] = expression
        return self.values("/api/%s?%s" % (entity_set, urllib.parse.urlencode(params)))


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    process = EmulatorProcess(args=["--state-dir", str(tmp_path_factory.mktemp("emulator")), "--no-rate-limits",
                                    "--action-delays", "0.4,0.4"])
    process.start()
    yield process
    assert process.stop() == 0


@pytest.fixture(scope="session")
def session_api(emulator):
    return Api(emulator)


@pytest.fixture
def api(emulator, session_api):
    """The session emulator with data, config, faults, rate counters and log restored before the test."""
    emulator.reset(all=True)
    return session_api


@pytest.fixture
def info(emulator):
    return emulator.info
