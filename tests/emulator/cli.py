"""Command line: start the emulator, print one JSON line (url, CA, credentials), serve until SIGTERM/SIGINT."""

import argparse
import json
import os
import signal
import sys
import threading

from .data import DataError
from .server import Emulator


def _delays(text):
    try:
        pending, in_progress = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected PENDING_S,INPROGRESS_S, e.g. 2,3") from None
    if pending < 0 or in_progress < 0:
        raise argparse.ArgumentTypeError("delays must be >= 0")
    return pending, in_progress


def _positive_float(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def parser():
    p = argparse.ArgumentParser(prog="run.py", description="Local HTTPS emulator of Entra ID, the Microsoft Defender for "
                                "Endpoint API and Microsoft Graph advanced hunting. Prints one JSON line, then serves.")
    p.add_argument("--port", type=int, default=int(os.environ.get("EMULATOR_PORT") or 8443),
                   help="port (default: $EMULATOR_PORT or 8443; 0 picks a free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--state-dir", help="where the CA, server and client certificates go (default: a new temp dir, "
                   "removed on exit); a CA already there is reused")
    p.add_argument("--data", metavar="FILE.json", help="replace the default tenant data with this file")
    p.add_argument("--machines", type=int, default=0, help="add N generated machines")
    p.add_argument("--alerts", type=int, default=0, help="add N generated alerts")
    p.add_argument("--hunting-rows", type=int, default=None, help="size of the DeviceProcessEvents table (default 500)")
    p.add_argument("--seed", type=int, default=1, help="seed of the generated data (default 1)")
    p.add_argument("--rate-scale", type=_positive_float, default=1.0,
                   help="multiply every rate-limit window by F (0.0333 turns 100/min into 100 per 2 s)")
    p.add_argument("--no-rate-limits", action="store_true", help="disable rate limiting (re-enable via /_emulator/config)")
    p.add_argument("--action-delays", type=_delays, metavar="PENDING_S,INPROGRESS_S",
                   help="seconds a machine action stays Pending, then InProgress (default 2,3)")
    p.add_argument("--token-lifetime", type=int, help="access token lifetime in seconds (default 3599)")
    p.add_argument("--log-file", help="append every request-log entry to this file as a JSON line")
    p.add_argument("--ready-file", help="also write the start-up JSON to this file (for callers that cannot read stdout)")
    p.add_argument("--exit-on-stdin-eof", action="store_true",
                   help="stop when standard input closes (a harness's way to never leave an orphan behind)")
    p.add_argument("--verbose", action="store_true", help="log each request to standard error")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    for name in ("machines", "alerts", "hunting_rows"):
        if (getattr(args, name) or 0) < 0:
            parser().error("--%s must be >= 0" % name.replace("_", "-"))
    try:
        emulator = Emulator(port=args.port, host=args.host, state_dir=args.state_dir, data_file=args.data,
                            machines=args.machines, alerts=args.alerts, hunting_rows=args.hunting_rows, seed=args.seed,
                            rate_scale=args.rate_scale, rate_limits=not args.no_rate_limits,
                            action_delays=args.action_delays, token_lifetime=args.token_lifetime, log_file=args.log_file,
                            verbose=args.verbose)
        emulator.start()
    except (DataError, OSError) as exc:
        sys.stderr.write("emulator: cannot start: %s\n" % exc)
        return 2

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    info = emulator.info()
    line = json.dumps(info)
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(line + "\n")
        os.replace(tmp, args.ready_file)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    sys.stderr.write("emulator: serving %s (pid %d); stop with SIGTERM or Ctrl-C\n" % (info["url"], info["pid"]))
    sys.stderr.flush()

    if args.exit_on_stdin_eof:
        def watch_stdin():
            try:
                # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader aborts interpreter shutdown.
                while os.read(0, 4096):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()
        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()

    while not stop.wait(0.2):
        pass
    emulator.stop()
    if args.ready_file:
        try:
            os.remove(args.ready_file)
        except OSError:
            pass
    sys.stderr.write("emulator: stopped\n")
    return 0
