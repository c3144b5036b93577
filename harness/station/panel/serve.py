"""``harness station serve``: the operator's panel on the station engine.

Binds to loopback unless told otherwise; binding to another address needs a token (``--token``
or ``HARNESS_PANEL_TOKEN``), which the printed URL carries once. SIGTERM or SIGINT stops the
line as ``harness station run`` does: no unit starts, running units record ``aborted`` with
the reason, then the server stops. Exit 0, or 128 + the signal when it stopped a running unit.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
import time
from pathlib import Path

ENV_TOKEN = "HARNESS_PANEL_TOKEN"
START_WAIT = 30.0  # s for the web server to come up


def add_parser(st_sub, seconds) -> None:
    s = st_sub.add_parser("serve", help="the operator's web panel: scan serials, watch slots")
    s.add_argument("--product", required=True, help="targets/products/<product>.yaml")
    s.add_argument("--slots", type=int, default=1, help="slots (default 1)")
    s.add_argument("--db", help="record store URL (default sqlite:///<results>/harness.db)")
    s.add_argument("--create", action="store_true",
                   help="create the record store if it does not exist")
    s.add_argument("--results", help="results directory (default results/)")
    s.add_argument("--bench", help="bench inventory (default targets/benches/emulated.yaml)")
    s.add_argument("--station", help="station name (default: host name)")
    s.add_argument("--operator", help="start the shift with this operator id (else the page "
                                      "asks for it)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other needs --token)")
    s.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    s.add_argument("--token", help=f"required of every browser (default ${ENV_TOKEN})")
    s.add_argument("--db-wait", type=seconds, metavar="SECONDS",
                   help="how long a unit waits for a record store that went away")
    s.add_argument("--pytest-arg", action="append", metavar="ARG",
                   help="extra argument for each unit's pytest (repeatable)")
    s.set_defaults(func=cmd_station_serve)


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_station_serve(args) -> int:
    from ..product import load_product
    from ..station import Station, Stop
    from ..where import line_of

    token = args.token or os.environ.get(ENV_TOKEN) or None
    if not loopback(args.host) and not token:
        print(f"station serve: listening on {args.host} lets anyone on that network start and "
              f"abort units: give --token (or ${ENV_TOKEN}), or keep the default 127.0.0.1",
              file=sys.stderr)
        return 2
    product = load_product(args.product, Path(args.targets_dir))
    line = line_of(args, product)
    stop = Stop()
    station = Station(product, line.slots, line.db, args.station or socket.gethostname(),
                      "unknown", line.results, line.bench, extra_args=args.pytest_arg or [],
                      db_wait=args.db_wait, stop=Stop(), prompts=True)
    with stop.on_signals(), station.prepared():
        return _serve(args, station, stop, token)


def _serve(args, station, stop, token: str | None) -> int:
    import uvicorn

    from .app import make_app
    from .line import PanelLine

    line = PanelLine(station)
    if args.operator:
        line.begin_shift(args.operator)
    hosts = {args.host, "localhost", "127.0.0.1", "::1"} if loopback(args.host) else None
    app = make_app(line, token=token, hosts=hosts)
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.create_server((args.host, args.port), family=family, backlog=64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=2, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="panel-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_WAIT
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        sock.close()
        print(f"station serve: the web server did not start on {args.host}:{port}",
              file=sys.stderr)
        return 2
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    url = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    print(f"panel: {url}", flush=True)
    print(f"station {station.name}: product {station.product.name}, slots "
          f"{', '.join(map(str, station.slots))}; SIGINT or SIGTERM stops it", flush=True)
    line.refresh_stats()
    while not stop.is_set() and thread.is_alive():
        stop.wait(0.2)
    reason = (f"station stopped: {stop.reason}" if stop.reason
              else "station stopped: its web server ended")
    busy = line.close(reason)
    server.should_exit = True
    thread.join(10)
    sock.close()
    c = line.shift.counters
    print(f"shift: {c.units} unit(s), pass {c.passed}, fail {c.failed}, "
          f"error/aborted {c.errors}" + (f"; stopped slot(s) {', '.join(map(str, busy))}"
                                         if busy else ""), flush=True)
    return 128 + stop.signum if busy and stop.signum else 0
