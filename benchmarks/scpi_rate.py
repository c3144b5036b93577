"""SCPI rates: our driver vs. raw PyVISA on the same virtual instrument, in one run.

Both paths talk to one virtual Keysight E36312A over loopback TCP (pyvisa-py SOCKET resource).

Queries: ``MEAS:CURR? (@2)`` N times; the ratio driver/raw rate is the figure (target ≥ 0.8).
Each path is timed in batches of 100 calls, alternating, and the median batch counts.

Settings: a checked setting, ``VOLT 12.0000,(@2)`` N times. Through the driver
(``set_voltage``: the setting and its ``*ESR?`` check in one message) vs. raw PyVISA writing it
and then asking ``SYST:ERR?``, with TCP_NODELAY set on the raw socket; the ratio of times per
setting driver/raw is the figure (target ≤ 1.5). For scale, a few raw settings with Nagle left
on, as pyvisa-py opens the socket.

    .venv/bin/python benchmarks/scpi_rate.py [N]
"""

from __future__ import annotations

import statistics
import sys
import time

from harness.bench import Instrument, SupplyChannel
from harness.instruments.drivers import open_instrument
from harness.instruments.psu import PowerSupply
from harness.instruments.scpi import parse_error, resource_manager
from harness.instruments.virtual.lab import VirtualLab
from harness.instruments.visa_socket import nodelay_of, set_nodelay, visa_session

NAGLE_N = 10  # raw settings with Nagle on (~40 ms each)
BATCH = 100   # calls per timed batch


def rate(fn, n: int) -> float:
    fn()  # warm up
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t0)


def paired(raw_fn, drv_fn, n: int, batch: int = BATCH) -> tuple[float, float]:
    """Median seconds per call of each, over alternating batches of ``batch`` calls (load
    that comes and goes hits both alike)."""
    raw_t, drv_t = [], []
    for _ in range(max(1, n // batch)):
        raw_t.append(1 / rate(raw_fn, batch))
        drv_t.append(1 / rate(drv_fn, batch))
    return statistics.median(raw_t), statistics.median(drv_t)


def raw_setting(res) -> None:
    res.write("VOLT 12.0000,(@2)")
    code, text = parse_error(res.query("SYST:ERR?"))
    if code:
        raise RuntimeError(f"raw setting raised {code}, {text!r}")


def main(n: int = 2000) -> None:
    inst = Instrument(name="psu-bench", kind="psu", resource="virtual:keysight-e36312a",
                      channels={2: SupplyChannel(max_voltage=13.2, max_current=1.2)})
    lab = VirtualLab()
    try:
        resource = lab.resource(inst)
        rm = resource_manager()
        nagle = rm.open_resource(resource, read_termination="\n", write_termination="\n",
                                 timeout=2000)
        assert nodelay_of(nagle) is False
        r_nagle = rate(lambda: raw_setting(nagle), NAGLE_N)
        nagle.close()
        raw = rm.open_resource(resource, read_termination="\n", write_termination="\n",
                               timeout=2000)
        set_nodelay(visa_session(raw))
        assert nodelay_of(raw) is True
        driver = open_instrument(inst, resource)
        assert isinstance(driver, PowerSupply)
        assert nodelay_of(driver.session._res) is True
        q_raw, q_drv = paired(lambda: float(raw.query("MEAS:CURR? (@2)")),
                              lambda: driver.measure_current(2), n)
        s_raw, s_drv = paired(lambda: raw_setting(raw), lambda: driver.set_voltage(2, 12.0), n)
        raw.close()
        driver.close()
    finally:
        lab.close()
    print(f"SCPI query rate, {n} x 'MEAS:CURR? (@2)' on a virtual E36312A, median of "
          f"alternating batches of {BATCH}")
    print(f"  raw pyvisa : {1 / q_raw:8.0f} queries/s")
    print(f"  our driver : {1 / q_drv:8.0f} queries/s")
    print(f"  ratio      : {q_raw / q_drv:8.2f}  (target >= 0.80)")
    print(f"checked settings, {n} x 'VOLT 12.0000,(@2)' (time per setting)")
    print(f"  raw pyvisa write + SYST:ERR?, Nagle on    : {1e3 / r_nagle:8.3f} ms  "
          f"({NAGLE_N} settings)")
    print(f"  raw pyvisa write + SYST:ERR?, TCP_NODELAY : {s_raw * 1e3:8.3f} ms")
    print(f"  our driver set_voltage (setting;*ESR?)    : {s_drv * 1e3:8.3f} ms")
    print(f"  ratio driver/raw (NODELAY)                : {s_drv / s_raw:8.2f}  "
          f"(target <= 1.50)")

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
