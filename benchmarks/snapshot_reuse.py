"""A slow boot paid once: --dut-reuse snapshot against reset, on a firmware that works before
its first prompt (tests/foreign: tinyrepl built with BOOT_WORK, on the MPS2 AN386).

Per test: a chip at its prompt + one command + hand back. (a) the raw cost of QEMU booting the
image to its prompt (a new process, hand-written); (b) the reset pool (--dut-reuse reset: the
chip reboots every test); (c) the snapshot pool (loadvm of the state saved at the prompt).
Prints medians and the ratios measured in one run.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.backends.qemu_pool import QemuPool  # noqa: E402
from harness.backends.qemu_snapshot import SnapshotPool  # noqa: E402
from harness.config import TargetCatalog  # noqa: E402
from harness.firmware import build, load_image  # noqa: E402

FOREIGN = ROOT / "tests" / "foreign"


def raw_boot(elf: Path) -> float:
    """QEMU started by hand, its serial on a unix socket we listen on: until the prompt."""
    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/con.sock"
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(1)
        t0 = time.perf_counter()
        proc = subprocess.Popen(["qemu-system-arm", "-M", "mps2-an386", "-kernel", str(elf),
                                 "-display", "none", "-nodefaults", "-chardev",
                                 f"socket,id=c,path={path}", "-serial", "chardev:c"],
                                stderr=subprocess.DEVNULL)
        conn, _ = srv.accept()
        got = b""
        while not got.endswith(b"> "):
            got += conn.recv(4096)
        elapsed = time.perf_counter() - t0
        proc.kill()
        proc.wait()
        conn.close()
        srv.close()
        return elapsed


def cycle(pool) -> float:
    t0 = time.perf_counter()
    dut = pool.acquire()
    assert dut.command("add 2 40") == "42"
    dut.close()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20)
    args = ap.parse_args()
    target = TargetCatalog(FOREIGN / "targets").get("foreign-slowboot")
    spec = target.firmware
    assert spec.build is not None
    path = build(spec.build, FOREIGN / spec.path, [FOREIGN / s for s in spec.sources], FOREIGN)
    image = load_image(path)
    raw = [raw_boot(path) for _ in range(max(5, args.n // 4))]
    reset_pool = QemuPool(target, image)
    try:
        cycle(reset_pool)
        reset = [cycle(reset_pool) for _ in range(args.n)]
    finally:
        reset_pool.close()
    snap_pool = SnapshotPool(target, image)
    try:
        cycle(snap_pool)  # the one boot, saved at the prompt
        snap = [cycle(snap_pool) for _ in range(args.n)]
    finally:
        snap_pool.close()
    a, b, c = (statistics.median(x) * 1e3 for x in (raw, reset, snap))
    print(f"slow-booting image {path.name} on mps2-an386, N={args.n} per pool")
    print(f"  (a) raw: new QEMU process to its prompt   median {a:8.2f} ms")
    print(f"  (b) --dut-reuse reset (reboots each test) median {b:8.2f} ms   b/a = {b / a:.2f}")
    print(f"  (c) --dut-reuse snapshot (loadvm)         median {c:8.2f} ms   c/a = {c / a:.2f}"
          f"   c/b = {c / b:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
