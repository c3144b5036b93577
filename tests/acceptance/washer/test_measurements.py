"""Measurements of the washer against the product's limits (``targets/limits/qsm-washer.yaml``).

Times are read from the chip itself: the shell's ``status`` reports its tick count ``t`` (ms) and
the emulated build runs ``stimulus.time_scale`` program ms per tick, so fill, heating, drain and
program durations are program seconds measured on the running firmware, sampled as fast as the
shell answers. Boot-to-ready is host time from power-on to ``READY``.
Run under a station (``--serial``), each value is committed to the record the moment it is taken.
"""

import pytest

pytestmark = pytest.mark.targets("qsm-washer")


# Program ms per tick while measuring: 5x slower than the default, so that a status round trip
# (one sample) spans little program time even when the host is loaded (four slots on two cores).
TIME_SCALE = 200


def _trace(washer, program: str, time_scale: int = TIME_SCALE) -> list[dict]:
    """Start ``program`` and sample ``status`` until DONE; the first sample is the start."""
    washer.stimulus(time_scale=time_scale)
    samples = [washer.status()]
    washer.start(program)
    while samples[-1]["state"] != "DONE":
        samples.append(washer.status())
        assert samples[-1]["state"] != "FAULT", f"fault during {program}: {samples[-1]}"
        assert len(samples) < 100_000, f"{program} never reached DONE"
    return samples


def _program_s(washer, ticks_ms: int) -> float:
    """Program seconds for ``ticks_ms`` of the chip's tick count."""
    return ticks_ms * washer.dut.symbols["stimulus"]["time_scale"] / 1e3


def _first_t(samples: list[dict], state: str) -> float:
    """Tick at which ``state`` began: midway between the last sample before and the first in."""
    for before, s in zip(samples, samples[1:], strict=False):
        if s["state"] == state:
            return (before["t"] + s["t"]) / 2
    pytest.fail(f"state {state} was never observed; states seen: "
                f"{sorted({s['state'] for s in samples})}")


def _time_in(samples: list[dict], key: str, value) -> int:
    """Program ms during which ``samples[...][key] == value`` (sample-and-hold)."""
    return sum(b["t"] - a["t"] for a, b in zip(samples, samples[1:], strict=False)
               if a[key] == value)


def test_boot_to_ready_time(dut, measure):
    con = dut.console
    ready = con.expect(r"^READY$", since=0)
    measure("boot_to_ready", (con.time_of(ready.start) - con.t0) * 1e3, "ms")


@pytest.mark.requires("symbols")
def test_cotton_program_timing(washer, measure):
    samples = _trace(washer, "cotton")
    t0 = (samples[0]["t"] + samples[1]["t"]) / 2
    fill, wash = _first_t(samples, "FILL"), _first_t(samples, "WASH")
    drain, done = _first_t(samples, "DRAIN"), _first_t(samples, "DONE")
    measure("fill_time", _program_s(washer, wash - fill), "s", stop=False)
    measure("heater_on_time", _program_s(washer, _time_in(samples, "heater", 1)), "s",
            stop=False)
    measure("drain_time", _program_s(washer, done - drain), "s", stop=False)
    measure("program_duration", _program_s(washer, done - t0), "s", stop=False)
    measure("wash_temperature", max(s["temp"] for s in samples), "degC", stop=False)


@pytest.mark.requires("symbols")
def test_quick_program_never_heats(washer, measure):
    samples = _trace(washer, "quick", time_scale=1000)  # whether it heats, not for how long
    measure("quick_heater_on_time", _program_s(washer, _time_in(samples, "heater", 1)), "s")
