"""Fresh-boot cycle: the harness vs. a raw, hand-written QEMU cycle on the same image.

(a) raw: launch qemu-system-arm (console on a unix socket we listen on), wait for READY, send
    ``version``, read the answer, terminate QEMU.
(b) harness: a fresh ``Dut`` (QEMU with gdbstub + QMP, banner, version read back through
    memory and checked against the ELF), ``command("version")``, ``close()``.

Both run N times, interleaved so machine noise hits both alike. Prints medians and b/a
(target ≤ 1.5). Then the washer acceptance suite's wall time with ``-n 2`` vs ``-n 0``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.backends.qemu import open_dut  # noqa: E402
from harness.config import TargetCatalog  # noqa: E402
from harness.firmware import build, load_image  # noqa: E402


def raw_cycle(elf: Path, machine: str) -> float:
    t0 = time.perf_counter()
    d = tempfile.mkdtemp(prefix="bench-", dir="/tmp")
    path = f"{d}/con.sock"
    lst = socket.socket(socket.AF_UNIX)
    lst.bind(path)
    lst.listen(1)
    proc = subprocess.Popen(
        ["qemu-system-arm", "-M", machine, "-nodefaults", "-display", "none",
         "-chardev", f"socket,id=c,path={path}", "-serial", "chardev:c", "-kernel", str(elf)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    con, _ = lst.accept()
    buf = b""
    while b"READY\r\n" not in buf:
        buf += con.recv(4096)
    con.sendall(b"version\n")
    buf = b""
    while not (b"OK " in buf and buf.endswith(b"\n")):
        buf += con.recv(4096)
    proc.terminate()
    proc.wait()
    con.close()
    lst.close()
    os.unlink(path)
    os.rmdir(d)
    return time.perf_counter() - t0


def harness_cycle(target, image) -> float:
    t0 = time.perf_counter()
    dut = open_dut(target, image)
    dut.command("version")
    dut.close()
    return time.perf_counter() - t0


def suite_wall(jobs: int) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "tests/acceptance", "-q",
                           "-p", "no:cacheprovider", "-n", str(jobs)],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        print(proc.stdout[-3000:])
        raise SystemExit(f"acceptance suite failed with -n {jobs}")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=30, help="cycles of each kind (default 30)")
    ap.add_argument("--no-suite", action="store_true", help="skip the -n 2 vs -n 0 suite run")
    args = ap.parse_args()

    target = TargetCatalog(ROOT / "targets").get("qsm-washer")
    spec = target.firmware
    elf = build(spec.build, ROOT / spec.path, [ROOT / s for s in spec.sources], ROOT)
    image = load_image(elf, spec.version_symbol)
    machine = target.qemu.machine
    raw_cycle(elf, machine)  # warm the page cache for both
    harness_cycle(target, image)
    raw, ours = [], []
    for _ in range(args.n):
        raw.append(raw_cycle(elf, machine))
        ours.append(harness_cycle(target, image))
    a, b = statistics.median(raw), statistics.median(ours)
    print(f"boot cycle, N={args.n} each, image {elf.name} ({image.version})")
    print(f"  (a) raw QEMU cycle        median {a * 1e3:7.2f} ms  (min {min(raw) * 1e3:.2f})")
    print(f"  (b) harness Dut cycle     median {b * 1e3:7.2f} ms  (min {min(ours) * 1e3:.2f})")
    print(f"  ratio b/a = {b / a:.2f}  (target <= 1.5)")
    if not args.no_suite:
        serial, parallel = suite_wall(0), suite_wall(2)
        print("acceptance suite wall time")
        print(f"  -n 0: {serial:6.2f} s   -n 2: {parallel:6.2f} s   "
              f"ratio -n2/-n0 = {parallel / serial:.2f}")


if __name__ == "__main__":
    main()
