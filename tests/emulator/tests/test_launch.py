"""tests/emulator/launch.py: start in the background, reuse, stop, and stop by itself when the watched process ends."""

import json
import os
import stat
import subprocess
import sys
import time

import pytest
import requests

LAUNCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "launch.py")


def launch(*args, timeout=150):
    proc = subprocess.run([sys.executable, LAUNCH] + list(args), capture_output=True, text=True, timeout=timeout, check=False)
    return proc


def answers(info):
    try:
        return requests.get(info["url"] + "/_emulator/config", verify=info["ca_path"], timeout=10).status_code == 200
    except requests.RequestException:
        return False


def wait_gone(pid, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def watched():
    """A process for the launcher to watch; killed at the end if still running."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # pylint: disable=consider-using-with
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_start_reuse_stop(tmp_path, watched):
    state = str(tmp_path / "emu")
    started = launch("start", "--state-dir", state, "--watch-pid", str(watched.pid), "--", "--rate-scale", "0.05")
    assert started.returncode == 0, started.stderr
    result = json.loads(started.stdout)
    assert result["reused"] is False and result["state_dir"] == state
    info_path = result["info_file"]
    # The start-up JSON holds secrets: owner-only file, in an owner-only directory; stdout holds none.
    assert stat.S_IMODE(os.stat(info_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    with open(info_path) as handle:
        info = json.load(handle)
    assert info["client_secret"] not in started.stdout
    assert answers(info)

    again = launch("start", "--state-dir", state, "--watch-pid", str(watched.pid))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["reused"] is True
    with open(info_path) as handle:
        assert json.load(handle)["pid"] == info["pid"]  # the same emulator

    stopped = launch("stop", "--state-dir", state)
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["stopped"] is True
    assert wait_gone(info["pid"])
    assert not os.path.exists(info_path) and not os.path.exists(os.path.join(state, "pid"))
    assert not os.path.exists(os.path.join(state, "state"))  # no CA key left behind
    assert os.path.exists(os.path.join(state, "launcher.log"))  # the logs stay
    # Nothing left to stop: says so, and succeeds.
    assert json.loads(launch("stop", "--state-dir", state).stdout)["stopped"] is False


def test_stops_when_the_watched_process_ends(tmp_path, watched):
    state = str(tmp_path / "emu")
    started = launch("start", "--state-dir", state, "--watch-pid", str(watched.pid))
    assert started.returncode == 0, started.stderr
    with open(json.loads(started.stdout)["info_file"]) as handle:
        info = json.load(handle)
    assert answers(info)
    watched.kill()
    watched.wait()
    assert wait_gone(info["pid"]), "the emulator outlived the process it watched"
    assert not os.path.exists(os.path.join(state, "info.json"))


def test_auto_state_dir_follows_the_named_ancestor(tmp_path):
    # A parent process running a program named "ansible-test" (a copy of this Python under that name) starts the
    # launcher through a child shell: the launcher watches that parent, not its own direct parent.
    fake = tmp_path / "bin" / "ansible-test"
    fake.parent.mkdir()
    fake.write_text("import subprocess, sys\n"
                    "proc = subprocess.run(['/bin/sh', '-c', '\"$0\" \"$1\" start --state-dir auto --watch-ancestor ansible-test',"
                    " sys.executable, sys.argv[1]], capture_output=True, text=True)\n"
                    "print(proc.stdout.strip() or proc.stderr.strip())\n")
    proc = subprocess.run([sys.executable, str(fake), LAUNCH], capture_output=True, text=True, timeout=150, check=False)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # The state directory is named after the watched pid; that process (the fake ansible-test) has exited since.
    assert os.path.basename(result["state_dir"]).isdigit()
    with open(os.path.join(result["state_dir"], "launcher.log")) as handle:
        first = handle.readline()
    assert "watching pid %s" % os.path.basename(result["state_dir"]) in first
    deadline = time.monotonic() + 30
    while os.path.exists(result["info_file"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(result["info_file"]), "the emulator outlived the ansible-test run that started it"


def test_a_state_dir_of_someone_else_is_refused(tmp_path):
    target = tmp_path / "real"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    proc = launch("start", "--state-dir", str(link), "--timeout", "5")
    assert proc.returncode == 1
    assert "not a directory of this user" in proc.stderr
