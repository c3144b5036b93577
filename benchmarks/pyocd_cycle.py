"""The pyocd world (pyOCD + the qemu: probe) vs. the qemu world, on the same washer image.

(a) full cycle: launch, connect, flash (pyocd) / -kernel (qemu), reset, banner, version check,
    close — N times each, interleaved; medians and pyocd/qemu ratio (target: pyocd ≤ 0.2 s).
(b) flash throughput: 128 KiB of random data programmed through pyOCD's MemoryLoader
    (erase + program; and with a read-back verify) in MB/s (target ≥ 5 MB/s), and the ratio to raw
    gdbstub ``M`` writes of the same data.
(c) read32 latency through pyOCD's target.read32 vs. a raw gdbstub ``m`` round trip.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.backends import pyocd as pyocd_world  # noqa: E402
from harness.backends import qemu as qemu_world  # noqa: E402
from harness.config import TargetCatalog  # noqa: E402
from harness.firmware import build, load_image  # noqa: E402


def cycle(world, target, image) -> float:
    options = {"probe": "qemu:auto"} if world is pyocd_world else {}
    t0 = time.perf_counter()
    dut = world.open_dut(target, image, **options)
    dut.close()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    args = ap.parse_args()
    cat = TargetCatalog(ROOT / "targets")
    target = cat.get("qsm-washer")
    spec = target.firmware
    elf = ROOT / spec.path
    build(spec.build, elf, [ROOT / s for s in spec.sources], ROOT)
    image = load_image(elf, spec.version_symbol)

    cycle(pyocd_world, target, image)  # warm-up: imports, page cache
    cycle(qemu_world, target, image)
    p, q = [], []
    for _ in range(args.n):
        p.append(cycle(pyocd_world, target, image))
        q.append(cycle(qemu_world, target, image))
    mp, mq = statistics.median(p), statistics.median(q)
    print(f"(a) full cycle, N={args.n}: pyocd world {mp * 1e3:.1f} ms median, qemu world "
          f"{mq * 1e3:.1f} ms; pyocd/qemu = {mp / mq:.2f}  (target pyocd <= 200 ms: "
          f"{'met' if mp <= 0.2 else 'MISSED'})")

    from harness.backends.pyocd_pool import PyocdPool

    pool = PyocdPool(target, image, {"probe": "qemu:auto"})
    try:
        pooled = []
        for i in range(args.n + 1):
            t0 = time.perf_counter()
            d = pool.acquire(None)
            d.command("version")
            d.close()
            if i:
                pooled.append(time.perf_counter() - t0)
    finally:
        pool.close()
    mr = statistics.median(pooled)
    print(f"(a') reused session (--dut-reuse reset: halt, breakpoints cleared, image verified, "
          f"reset-and-halt, RAM filled, UART restored) + banner + one command: {mr * 1e3:.1f} ms "
          f"median; fresh/reused = {mp / mr:.1f}x")

    dut = pyocd_world.open_dut(target, image, probe="qemu:auto")
    try:
        from pyocd.flash.loader import MemoryLoader

        from harness.probes import emulated_core

        session = dut.backend.session  # the pyOCD session (public on the pyocd backend)
        core = emulated_core(session)  # the qemu: probe's gdbstub client behind it
        assert core is not None
        data = os.urandom(128 * 1024)
        dut.execution.halt()
        rates, verified = [], []
        for _ in range(5):
            t0 = time.perf_counter()
            loader = MemoryLoader(session, progress=lambda _f: None, smart_flash=False)
            loader.add_data(0, data)
            loader.commit()
            t1 = time.perf_counter()
            ok = dut.memory.read(0, len(data)) == data
            t2 = time.perf_counter()
            assert ok, "flash verify failed"
            rates.append(len(data) / (t1 - t0) / 1e6)
            verified.append(len(data) / (t2 - t0) / 1e6)
        t0 = time.perf_counter()
        core.write(0, data)
        raw = len(data) / (time.perf_counter() - t0) / 1e6
        rate = statistics.median(rates)
        print(f"(b) flash 128 KiB (erase+program): {rate:.1f} MB/s median of 5 "
              f"({statistics.median(verified):.1f} MB/s with read-back verify); raw gdbstub M "
              f"writes {raw:.1f} MB/s; pyocd/raw = {rate / raw:.2f}  (target >= 5 MB/s: "
              f"{'met' if rate >= 5 else 'MISSED'})")

        t = session.target
        n = 2000
        t0 = time.perf_counter()
        for _ in range(n):
            t.read32(0x20000000)
        lat = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        for _ in range(n):
            core.read(0x20000000, 4)
        raw_lat = (time.perf_counter() - t0) / n
        print(f"(c) read32 (halted core): pyOCD {lat * 1e6:.1f} us, raw gdbstub m "
              f"{raw_lat * 1e6:.1f} us; pyocd/raw = {lat / raw_lat:.2f}")
    finally:
        dut.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
