"""Start the emulator in the background for tools that cannot hold it as a child process, and stop it.

The one launcher of the emulator outside Python test code (which uses ``harness.EmulatorProcess`` directly):
the ``setup_emulator`` integration target, the nox sessions, molecule's create/destroy playbooks and
``make demo`` all call it. It runs the emulator through ``harness.EmulatorProcess`` under a small supervisor.

    python tests/emulator/launch.py start --state-dir DIR [--watch-pid PID | --watch-ancestor NAME] [-- EMULATOR ARGS]
    python tests/emulator/launch.py stop --state-dir DIR

``start`` prints one JSON line ``{"info_file": ..., "state_dir": ..., "reused": bool}`` (never a secret) once
the emulator answers. ``DIR/info.json`` (mode 0600: it holds the emulator's secrets) is its start-up JSON; ``DIR/pid``
the supervisor's pid. If an emulator supervised for ``DIR`` still answers, it is reused.

The supervisor stops the emulator and removes ``info.json``, ``pid`` and the emulator's state (its CA and keys; the
logs stay) when ``stop`` is called, on
SIGTERM, or when the watched process exits: ``--watch-pid``, or with ``--watch-ancestor NAME`` the nearest
ancestor process running the program NAME (``ansible-test``: the emulator lives exactly as long as the
``ansible-test integration`` run that started it, which has no end-of-run hook). ``--state-dir auto`` with
``--watch-ancestor`` picks a private directory per watched process, so every target of one run shares one emulator.

Standard library only (plus what the emulator itself needs).
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from emulator.harness import EmulatorError, EmulatorProcess  # noqa: E402  (needs the path set above)

INFO = "info.json"
PID = "pid"
LOG = "launcher.log"
START_TIMEOUT = 120.0


class LaunchError(Exception):
    pass


# -- processes --------------------------------------------------------------------------------------------------------
def parent_and_args(pid):
    """(parent pid, command line) of a process, or None when it does not exist. Uses ps: Linux and macOS."""
    try:
        out = subprocess.run(["ps", "-ww", "-o", "ppid=", "-o", "args=", "-p", str(pid)], capture_output=True, text=True,
                             check=False).stdout.strip()
    except OSError:
        return None
    if not out:
        return None
    ppid, _sep, args = out.partition(" ")
    try:
        return int(ppid), args.strip()
    except ValueError:
        return None


def runs_program(args, name):
    """True when a command line runs the program ``name``: as the executable or as the script an interpreter runs."""
    words = args.split()
    return any(os.path.basename(word) == name for word in words[:2])


def find_ancestor(name, start=None):
    """The pid of the nearest ancestor process that runs the program ``name``, or None."""
    pid = os.getppid() if start is None else start
    seen = set()
    while pid and pid > 1 and pid not in seen:
        seen.add(pid)
        found = parent_and_args(pid)
        if found is None:
            return None
        ppid, args = found
        if runs_program(args, name):
            return pid
        pid = ppid
    return None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def private_dir(path):
    """Create ``path`` (0700) or check that an existing one is ours and private: it will hold secrets."""
    try:
        os.makedirs(path, mode=0o700)
    except FileExistsError:
        stat = os.lstat(path)
        if not os.path.isdir(path) or os.path.islink(path) or stat.st_uid != os.getuid():
            raise LaunchError("%s exists and is not a directory of this user" % path) from None
        os.chmod(path, 0o700)
    return path


def auto_state_dir(watch_pid):
    base = private_dir(os.path.join(tempfile.gettempdir(), "defender-atp-emulator-%d" % os.getuid()))
    return os.path.join(base, str(watch_pid))


# -- state files ------------------------------------------------------------------------------------------------------
def read_info(state_dir):
    try:
        with open(os.path.join(state_dir, INFO), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def read_pid(state_dir):
    try:
        with open(os.path.join(state_dir, PID), encoding="utf-8") as handle:
            return int(handle.read().strip())
    except (OSError, ValueError):
        return None


def write_private(path, text):
    temporary = path + ".tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def answers(info):
    """True when the emulator described by ``info`` answers its control API."""
    import ssl  # pylint: disable=import-outside-toplevel
    import urllib.request  # pylint: disable=import-outside-toplevel
    try:
        context = ssl.create_default_context(cafile=info["ca_path"])
        with urllib.request.urlopen(info["url"] + "/_emulator/config", timeout=10, context=context) as response:
            return response.status == 200
    except Exception:  # pylint: disable=broad-except
        return False


# -- commands ---------------------------------------------------------------------------------------------------------
def start(args):
    watch_pid = args.watch_pid
    if args.watch_ancestor:
        watch_pid = find_ancestor(args.watch_ancestor) or watch_pid or os.getppid()
    if args.state_dir == "auto":
        if not watch_pid:
            raise LaunchError("--state-dir auto needs --watch-pid or --watch-ancestor")
        state_dir = auto_state_dir(watch_pid)
    else:
        state_dir = os.path.abspath(args.state_dir)
    private_dir(state_dir)

    supervisor = read_pid(state_dir)
    info = read_info(state_dir)
    if supervisor and alive(supervisor) and info and answers(info):
        return {"info_file": os.path.join(state_dir, INFO), "state_dir": state_dir, "reused": True}
    for name in (INFO, PID):
        try:
            os.unlink(os.path.join(state_dir, name))
        except FileNotFoundError:
            pass

    cmd = [sys.executable, os.path.abspath(__file__), "_supervise", "--state-dir", state_dir]
    if watch_pid:
        cmd += ["--watch-pid", str(watch_pid)]
    cmd += ["--"] + list(args.emulator_args)
    with open(os.path.join(state_dir, LOG), "ab") as log:
        process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,  # pylint: disable=consider-using-with
                                   start_new_session=True, close_fds=True)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if os.path.exists(os.path.join(state_dir, INFO)):
            return {"info_file": os.path.join(state_dir, INFO), "state_dir": state_dir, "reused": False}
        if process.poll() is not None:
            raise LaunchError("the emulator supervisor exited (status %s) before the emulator was ready; see %s"
                              % (process.returncode, os.path.join(state_dir, LOG)))
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGTERM)
    raise LaunchError("the emulator was not ready within %.0f s; see %s" % (args.timeout, os.path.join(state_dir, LOG)))


def stop(args):
    state_dir = os.path.abspath(args.state_dir)
    supervisor = read_pid(state_dir)
    if not supervisor or not alive(supervisor):
        return {"stopped": False, "state_dir": state_dir}
    found = parent_and_args(supervisor)
    if found is None or os.path.abspath(__file__) not in found[1]:
        # A pid file left behind, and the pid now belongs to something else: leave that process alone.
        return {"stopped": False, "state_dir": state_dir}
    os.kill(supervisor, signal.SIGTERM)
    deadline = time.monotonic() + args.timeout
    while alive(supervisor) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(supervisor):
        raise LaunchError("the emulator supervisor (pid %d) did not stop within %.0f s" % (supervisor, args.timeout))
    return {"stopped": True, "state_dir": state_dir}


def supervise(args):
    """Run the emulator until told to stop or until the watched process is gone, then clean up."""
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stopping.append("SIGINT"))
    emulator_args = list(args.emulator_args)
    own_state = None
    if "--state-dir" not in emulator_args:
        own_state = os.path.join(args.state_dir, "state")
        emulator_args = ["--state-dir", own_state] + emulator_args
    process = EmulatorProcess(args=emulator_args, startup_timeout=START_TIMEOUT)
    try:
        info = process.start()
    except EmulatorError as ex:
        print("emulator did not start: %s" % ex, flush=True)
        return 1
    try:
        write_private(os.path.join(args.state_dir, PID), "%d\n" % os.getpid())
        write_private(os.path.join(args.state_dir, INFO), json.dumps(info) + "\n")
        print("emulator pid %s at %s; supervisor pid %d, watching pid %s"
              % (info.get("pid"), info.get("url"), os.getpid(), args.watch_pid), flush=True)
        while not stopping:
            if args.watch_pid and not alive(args.watch_pid):
                stopping.append("pid %d exited" % args.watch_pid)
                break
            if process.process is None or process.process.poll() is not None:
                stopping.append("the emulator exited")
                break
            time.sleep(0.5)
    finally:
        for name in (INFO, PID):
            try:
                os.unlink(os.path.join(args.state_dir, name))
            except FileNotFoundError:
                pass
        code = process.stop()
        stderr = process.stderr_text()
        if stderr:
            with open(os.path.join(args.state_dir, "emulator.stderr.log"), "a", encoding="utf-8") as handle:
                handle.write(stderr)
        if own_state:
            shutil.rmtree(own_state, ignore_errors=True)  # its CA key and client keys; the logs stay
        print("stopped (%s); emulator exit status %s" % (", ".join(stopping) or "error", code), flush=True)
    return 0


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start", help="start an emulator (or reuse the one running for --state-dir)")
    p_start.add_argument("--state-dir", required=True, help="directory for info.json, pid and logs; 'auto' with --watch-*")
    p_start.add_argument("--watch-pid", type=int, help="stop the emulator when this process exits")
    p_start.add_argument("--watch-ancestor", help="watch the nearest ancestor process that runs this program")
    p_start.add_argument("--timeout", type=float, default=START_TIMEOUT, help="seconds to wait until it answers")
    p_start.add_argument("emulator_args", nargs="*", help="after --: arguments for tests/emulator/run.py")
    p_stop = sub.add_parser("stop", help="stop the emulator supervised for --state-dir (if any)")
    p_stop.add_argument("--state-dir", required=True)
    p_stop.add_argument("--timeout", type=float, default=30.0)
    p_sup = sub.add_parser("_supervise")
    p_sup.add_argument("--state-dir", required=True)
    p_sup.add_argument("--watch-pid", type=int)
    p_sup.add_argument("emulator_args", nargs="*")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.command == "_supervise":
        return supervise(args)
    try:
        result = start(args) if args.command == "start" else stop(args)
    except LaunchError as ex:
        print("launch.py: %s" % ex, file=sys.stderr)
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
