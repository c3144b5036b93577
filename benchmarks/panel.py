"""What the operator's panel adds to a unit's test time, against the CLI station.

The same product (default ``qsm-washer``, its whole acceptance suite) on slot 1 of the emulated
bench, unit after unit, alternating: ``harness station run`` of one serial number, then a unit
scanned into ``harness station serve`` with a page's event stream open and read the whole time
(the panel is started per unit: a station leases its bench slots while it runs). The unit
time is the station's own (its pytest process from start to end), the same measure on both
paths. Prints the mean of each and the ratio panel / CLI (target ≤ 1.02).

    .venv/bin/python benchmarks/panel.py [--units 3] [--product qsm-washer]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARNESS = [sys.executable, "-m", "harness"]
UNIT_LINE = re.compile(r"^(PASS|FAIL|ERROR|ABORTED)\s+(\S+)\s+slot (\d+)\s+([\d.]+) s", re.M)
HEADERS = {"Content-Type": "application/json", "X-Harness-Panel": "1"}


def cli_unit(tmp: Path, serial: str) -> float:
    res = subprocess.run([*HARNESS, "station", "run", "--product", ARGS.product, "--slots", "1",
                          "--db", f"sqlite:///{tmp / 'cli.db'}", "--create",
                          "--results", str(tmp / "cli"), "--operator", "bench", serial],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    found = UNIT_LINE.search(res.stdout)
    if not found or found.group(1) != "PASS":
        raise SystemExit(f"CLI station: unit {serial} did not pass:\n{res.stdout}{res.stderr}")
    return float(found.group(4))


class Panel:
    def __init__(self, tmp: Path) -> None:
        self.proc = subprocess.Popen(
            [*HARNESS, "station", "serve", "--product", ARGS.product, "--slots", "1",
             "--db", f"sqlite:///{tmp / 'panel.db'}", "--create", "--results",
             str(tmp / "panel"), "--operator", "bench"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = b""
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        while b"panel: http" not in out:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"station serve did not start: {out.decode()}")
            if select.select([self.proc.stdout], [], [], 0.2)[0]:
                out += os.read(self.proc.stdout.fileno(), 4096)
        self.url = re.search(rb"panel: (http://\S+)", out).group(1).decode()  # type: ignore[union-attr]
        self.events = 0
        threading.Thread(target=self._page, daemon=True).start()

    def _page(self) -> None:
        """An open page: the event stream, read and parsed as the browser does."""
        with urllib.request.urlopen(self.url + "api/events", timeout=3600) as stream:
            for line in stream:
                if line.startswith(b"data: "):
                    json.loads(line[6:])
                    self.events += 1

    def state(self) -> dict:
        with urllib.request.urlopen(self.url + "api/state", timeout=30) as r:
            return json.loads(r.read())

    def unit(self, serial: str, n: int) -> float:
        body = json.dumps({"serial": serial, "request_id": f"bench-{n:06d}"}).encode()
        req = urllib.request.Request(self.url + "api/scan", data=body, headers=HEADERS)
        with urllib.request.urlopen(req, timeout=30) as r:
            assert json.loads(r.read())["ok"]
        while True:
            time.sleep(0.25)
            last = self.state()["last"]
            if last and last[0]["serial"] == serial:
                if last[0]["outcome"] != "pass":
                    raise SystemExit(f"panel: unit {serial} did not pass: {last[0]}")
                return float(last[0]["seconds"])

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-panel-") as tmp_:
        tmp = Path(tmp_)
        cli: list[float] = []
        web: list[float] = []
        events = 0
        for i in range(ARGS.units):
            cli.append(cli_unit(tmp, f"W2650{i:06d}"))
            panel = Panel(tmp)  # the same bench slot as the CLI's, which leases it while it runs
            try:
                web.append(panel.unit(f"W2651{i:06d}", i))
            finally:
                panel.close()
            events += panel.events
            print(f"  unit {i + 1}: CLI {cli[-1]:.2f} s, panel {web[-1]:.2f} s", flush=True)
        ratio = statistics.fmean(web) / statistics.fmean(cli)
        print(f"panel overhead on a unit's test time (product {ARGS.product}, 1 slot, "
              f"{ARGS.units} units each, alternated)")
        print(f"  CLI station  mean {statistics.fmean(cli):.2f} s  "
              f"({' '.join(f'{x:.2f}' for x in cli)})")
        print(f"  panel        mean {statistics.fmean(web):.2f} s  "
              f"({' '.join(f'{x:.2f}' for x in web)}), {events} snapshots streamed "
              f"to an open page")
        print(f"  ratio panel / CLI: {ratio:.3f}  (target <= 1.02)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--units", type=int, default=3, help="units per path (default 3)")
    p.add_argument("--product", default="qsm-washer")
    ARGS = p.parse_args()
    main()
