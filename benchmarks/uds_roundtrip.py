"""UDS round trips through the ``uds`` fixture's stack vs raw SLCAN bytes on the same socket.

One QSM-A chip in QEMU, one TCP connection to its SLCAN channel. Measured in one run:
  - TesterPresent (single frame each way),
  - ReadDataByIdentifier F190 (VIN: a 20-byte response, first frame + flow control + 2
    consecutive frames),
each as (a) udsoncan → can-isotp → python-can slcan, exactly what the ``uds`` fixture builds,
and (b) the same bytes written and parsed by hand on the raw socket. Prints medians and the
ratio (target: UDS overhead ≤ 2× raw, both well under 5 ms).

    .venv/bin/python benchmarks/uds_roundtrip.py [N]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.backends.qemu import open_dut  # noqa: E402
from harness.config import TargetCatalog  # noqa: E402
from harness.diag.client import UdsLink  # noqa: E402
from harness.diag.profiles import QSM_A  # noqa: E402
from harness.diag.slcan import open_slcan  # noqa: E402
from harness.firmware import build, load_image  # noqa: E402


def raw_exchange(port, request: bytes, answer_lines: int, fc: bytes | None) -> None:
    """Write SLCAN lines, read until the ECU's answer frames on 0x7E8 arrived."""
    port.write(request)
    got = 0
    buf = b""
    while got < answer_lines:
        buf += port.read(max(1, port.in_waiting))
        while b"\r" in buf:
            line, buf = buf.split(b"\r", 1)
            if line.startswith(b"t7E8"):
                got += 1
                if fc is not None and line[5:6] == b"1":   # first frame: send flow control
                    port.write(fc)


def median_ms(fn, n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    target = TargetCatalog(ROOT / "targets").get("qsm-auto")
    build(target.firmware.build, ROOT / target.firmware.path,
          [ROOT / s for s in target.firmware.sources], ROOT)
    image = load_image(ROOT / target.firmware.path, target.firmware.version_symbol)
    dut = open_dut(target, image, name="bench-uds")
    try:
        bus = open_slcan(dut.channels["can"], bitrate=QSM_A.bitrate)
        try:
            with UdsLink(bus, QSM_A) as client:
                tp_uds = median_ms(client.tester_present, n)
                vin_uds = median_ms(lambda: client.read_data_by_identifier(0xF190), n)
            port = bus.serialPortOrig          # the same socket, no stack on it any more
            port.reset_input_buffer()
            tp = b"t7E08023E00CCCCCCCCCC\r"
            rdbi = b"t7E08" + b"0322F190CCCCCCCC" + b"\r"
            fc = b"t7E08" + b"30" + b"00" * 7 + b"\r"  # flow control: continue, BS 0
            tp_raw = median_ms(lambda: raw_exchange(port, tp, 1, None), n)
            vin_raw = median_ms(lambda: raw_exchange(port, rdbi, 3, fc), n)
        finally:
            bus.shutdown()
    finally:
        dut.close()
    print(f"QSM-A UDS round trips, median of {n}, one QEMU chip, same SLCAN socket")
    print(f"{'':28} {'uds fixture':>12} {'raw SLCAN':>10} {'ratio':>6}")
    for name, a, b in (("TesterPresent", tp_uds, tp_raw),
                       ("ReadDataByIdentifier F190", vin_uds, vin_raw)):
        print(f"{name:28} {a:10.2f}ms {b:8.2f}ms {a / b:6.2f}x")


if __name__ == "__main__":
    main()
