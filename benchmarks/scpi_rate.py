"""SCPI query rate: our driver vs. raw PyVISA on the same virtual instrument, in one run.

Both paths talk to one virtual Keysight E36312A over loopback TCP (pyvisa-py SOCKET resource)
and ask ``MEAS:CURR? (@2)`` N times; the ratio driver/raw is the figure (target ≥ 0.8).

    .venv/bin/python benchmarks/scpi_rate.py [N]
"""

from __future__ import annotations

import sys
import time

from harness.bench import Instrument, SupplyChannel
from harness.instruments.drivers import open_instrument
from harness.instruments.scpi import resource_manager
from harness.instruments.virtual.lab import VirtualLab


def rate(fn, n: int) -> float:
    fn()  # warm up
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def main(n: int = 2000) -> None:
    inst = Instrument(name="psu-bench", kind="psu", resource="virtual:keysight-e36312a",
                      channels={2: SupplyChannel(max_voltage=13.2, max_current=1.2)})
    lab = VirtualLab()
    try:
        resource = lab.resource(inst)
        raw = resource_manager().open_resource(resource, read_termination="\n",
                                               write_termination="\n", timeout=2000)
        driver = open_instrument(inst, resource)
        rounds = []
        for _ in range(3):  # interleaved, so drift in machine load hits both alike
            r_raw = rate(lambda: float(raw.query("MEAS:CURR? (@2)")), n)
            r_drv = rate(lambda: driver.measure_current(2), n)
            rounds.append((r_raw, r_drv))
        raw.close()
        driver.close()
    finally:
        lab.close()
    best_raw = max(r for r, _ in rounds)
    best_drv = max(d for _, d in rounds)
    print(f"SCPI query rate, {n} x 'MEAS:CURR? (@2)' on a virtual E36312A, best of 3")
    print(f"  raw pyvisa : {best_raw:8.0f} queries/s")
    print(f"  our driver : {best_drv:8.0f} queries/s")
    print(f"  ratio      : {best_drv / best_raw:8.2f}  (target >= 0.80)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
