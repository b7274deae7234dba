"""Rate limits: per application and endpoint family, sliding windows scaled for fast tests, 429 with Retry-After."""

import math
import time

import pytest

from emulator.ratelimit import RateLimiter

from .conftest import GRAPH
from .test_actions import FINANCE_01
from .test_defender import assert_defender_error


@pytest.fixture
def limited(api, emulator):
    """Rate limits on, every window scaled to 1/15 (a minute lasts 4 s, an hour 240 s)."""
    emulator.set_config(rate_limits_enabled=True, rate_scale=1 / 15)
    return api


def test_documented_defaults(emulator):
    limits = emulator.get_config()["rate_limits"]
    assert limits["alerts"] == limits["machines"] == limits["machineactions"] == limits["isolate"] == \
        {"per_minute": 100, "per_hour": 1500}
    assert limits["advancedqueries"] == {"per_minute": 45, "per_hour": 1500}
    assert limits["graph_hunting"]["per_minute"] == 45 and limits["token"]["per_minute"] >= 100


def test_429_with_retry_after_then_recovers(limited, emulator):
    emulator.set_config(rate_limits={"machines": {"per_minute": 5}})
    token = limited.token()
    statuses = [limited.get("/api/machines?$top=1", token=token).status_code for attempt in range(5)]
    assert statuses == [200] * 5
    throttled = limited.get("/api/machines?$top=1", token=token)
    error = assert_defender_error(throttled, 429, "TooManyRequests")
    retry_after = throttled.headers["Retry-After"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 4
    assert error["message"] == "API calls quota exceeded! maximum allowed 5 per 00:00:04. Try again in %s seconds." % retry_after
    assert limited.get("/api/machines/ws-hr-01.contoso.com", token=token).status_code == 429  # same family
    assert limited.get("/api/alerts?$top=1", token=token).status_code == 200  # another family
    assert limited.get("/api/machines?$top=1", token=limited.token("limited")).status_code == 200  # another app
    time.sleep(int(retry_after))
    assert limited.get("/api/machines?$top=1", token=token).status_code == 200


def test_a_plain_429_message_names_no_numbers(limited, emulator):
    """throttle_message: plain - Microsoft's messages are free text: the same 429 and Retry-After, no quota in words."""
    emulator.set_config(rate_limits={"machines": {"per_minute": 2}}, throttle_message="plain")
    token = limited.token()
    assert [limited.get("/api/machines?$top=1", token=token).status_code for attempt in range(2)] == [200, 200]
    throttled = limited.get("/api/machines?$top=1", token=token)
    error = assert_defender_error(throttled, 429, "TooManyRequests")
    assert not any(char.isdigit() for char in error["message"]), error["message"]
    assert 1 <= int(throttled.headers["Retry-After"]) <= 4
    emulator.set_config(throttle_message="quota")
    assert "maximum allowed 2 per 00:00:04" in limited.get("/api/machines?$top=1", token=token).json()["error"]["message"]
    with pytest.raises(Exception) as caught:
        emulator.set_config(throttle_message="sometimes")
    assert "throttle_message must be one of quota, plain" in str(caught.value)


def test_hour_window_is_named(limited, emulator):
    emulator.set_config(rate_limits={"alerts": {"per_minute": 100, "per_hour": 3}})
    for attempt in range(3):
        assert limited.get("/api/alerts?$top=1").status_code == 200
    throttled = limited.get("/api/alerts?$top=1")
    error = assert_defender_error(throttled, 429, "TooManyRequests")
    assert "maximum allowed 3 per 00:04:00" in error["message"]
    assert 200 <= int(throttled.headers["Retry-After"]) <= 240


def test_advanced_queries_default_45_per_minute(limited, emulator):
    emulator.set_config(rate_scale=0.5)  # 30 s: 46 queries always fit, however loaded the machine
    statuses = [limited.post("/api/advancedqueries/run", json={"Query": "DeviceInfo | take 1"}).status_code for attempt in range(46)]
    assert statuses[:45] == [200] * 45 and statuses[45] == 429


def test_isolate_family(limited, emulator):
    emulator.set_config(rate_limits={"isolate": {"per_minute": 1}}, offline_machines=[FINANCE_01])
    assert limited.post("/api/machines/%s/isolate" % FINANCE_01, json={"Comment": "c"}).status_code == 201
    assert_defender_error(limited.post("/api/machines/%s/unisolate" % FINANCE_01, json={"Comment": "c"}), 429, "TooManyRequests")
    assert limited.get("/api/machineactions?$top=1").status_code == 200


def test_graph_429_in_graph_shape(limited, emulator):
    emulator.set_config(rate_limits={"graph_hunting": {"per_minute": 1}})
    token = limited.token("full", GRAPH)
    assert limited.post("/v1.0/security/runHuntingQuery", json={"Query": "DeviceInfo | take 1"}, token=token).status_code == 200
    throttled = limited.post("/v1.0/security/runHuntingQuery", json={"Query": "DeviceInfo | take 1"}, token=token)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    error = throttled.json()["error"]
    assert error["code"] == "TooManyRequests" and "innerError" in error


def test_token_endpoint_is_limited_too(limited, emulator, info):
    emulator.set_config(rate_limits={"token": {"per_minute": 2}})
    form = {"grant_type": "client_credentials", "client_id": info["client_id"], "client_secret": info["client_secret"],
            "scope": "https://api.securitycenter.microsoft.com/.default"}
    assert [limited.token_request(form).status_code for attempt in range(2)] == [200, 200]
    throttled = limited.token_request(form)
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) >= 1
    assert throttled.json()["error"] == "temporarily_unavailable"


def test_disabled_limits_and_counters_reset(limited, emulator):
    emulator.set_config(rate_limits={"machines": {"per_minute": 1}})
    assert limited.get("/api/machines?$top=1").status_code == 200
    assert limited.get("/api/machines?$top=1").status_code == 429
    emulator.reset(rate_limits=True)
    assert limited.get("/api/machines?$top=1").status_code == 200
    emulator.set_config(rate_limits_enabled=False)
    assert all(limited.get("/api/machines?$top=1").status_code == 200 for attempt in range(3))


def test_sliding_window_arithmetic():
    limiter = RateLimiter()
    limits = {"per_minute": 3, "per_hour": 10}
    assert [limiter.check("k", limits, 1.0, t) for t in (0.0, 10.0, 20.0)] == [None] * 3
    throttled = limiter.check("k", limits, 1.0, 30.0)
    assert throttled.retry_after == 30 and throttled.limit == 3  # the call at t=0 leaves the window at t=60
    assert limiter.check("k", limits, 1.0, 60.5) is None
    scaled = RateLimiter().check("k", {"per_minute": 1}, 0.5, 0.0)
    assert scaled is None
    limiter2 = RateLimiter()
    limiter2.check("k", {"per_minute": 1}, 0.5, 0.0)
    assert limiter2.check("k", {"per_minute": 1}, 0.5, 0.2).retry_after == math.ceil(30 - 0.2)
