"""How long the harness waits: every internal wait is a base time on an idle machine, scaled.

One place sets how patient the harness is. A wait's limit is

    limit = base × factor × machine load

* ``base`` is the time the operation needs on an idle machine with headroom, named here
  (:data:`BASE`) rather than buried in a module;
* ``factor`` is the user's ``--timeout-factor`` (times a target's or bench's own factor);
* the machine load is measured from the run itself, when the wait starts: how many runnable
  tasks each core has (``/proc/loadavg``) and how much of the last ten seconds tasks stalled
  waiting for a CPU (``/proc/pressure/cpu``), whichever says the machine is slower. It is 1 on a
  quiet machine, about 2 with one CPU hog beside a two-worker run on two cores, and capped at
  :data:`MAX_LOAD`. ``--fixed-timeouts`` (or ``HARNESS_FIXED_TIMEOUTS=1``) turns it off.

Processes the harness starts (the ``qemu:`` probe inside pyOCD, the probe launcher, station
slot workers) get the factor through ``HARNESS_TIMEOUT_FACTOR``, which the plugin exports.
Only the standard library is used; reading the load costs two small ``/proc`` reads, at most
once per :data:`REFRESH` seconds.
"""

from __future__ import annotations

import os
import threading
import time

ENV_FACTOR = "HARNESS_TIMEOUT_FACTOR"
ENV_FIXED = "HARNESS_FIXED_TIMEOUTS"
ENV_ALL = (ENV_FACTOR, ENV_FIXED)
MAX_LOAD = 6.0  # a machine so busy that more would only hide a real hang
REFRESH = 1.0  # s between load readings

# Base waits, in seconds, on an idle machine. Everything else derives from these.
BASE: dict[str, float] = {
    "process_start": 10.0,  # an emulator process opening its sockets
    "process_exit": 5.0,  # a process ending after it was asked to
    "socket": 5.0,  # connecting to a local socket
    "qmp": 5.0,  # one QMP command's reply
    "gdbstub": 5.0,  # one gdbstub packet's acknowledgement or reply
    "probe_connect": 5.0,  # the qemu: probe reaching its chip's gdbstub
    "probe_reply": 5.0,  # one reply through the qemu: probe
    "probe_serve": 10.0,  # a probe's chip started and listening
    "remote_reply": 30.0,  # one reply of a pyocd server (a memory block may take seconds)
    "pool_ready": 15.0,  # a warm pool handing out a chip
    "console": 2.0,  # a console answer
    "boot_ready": 5.0,  # a console's ready line after reset
    "instrument": 2.0,  # one SCPI query
    "tool": 10.0,  # a helper command (git, qemu-img)
}

_lock = threading.Lock()
_cache: tuple[float, float] = (0.0, 1.0)  # (monotonic time read, load)


def _pressure() -> float | None:
    """1 / (1 - stalled share) over the last 10 s, from PSI; None where the kernel has none."""
    try:
        with open("/proc/pressure/cpu", encoding="ascii") as f:
            some = f.readline().split()
    except OSError:
        return None
    for field in some[1:]:
        key, _, value = field.partition("=")
        if key == "avg10":
            stalled = min(float(value), 90.0) / 100.0
            return 1.0 / (1.0 - stalled)
    return None


def _loadavg() -> float:
    try:
        one = os.getloadavg()[0]
    except OSError:
        return 1.0
    return one / (os.cpu_count() or 1)


def measure() -> float:
    """The machine's load as a slowdown factor (1 on a quiet machine), read now."""
    found = [_loadavg()]
    psi = _pressure()
    if psi is not None:
        found.append(psi)
    return min(max(1.0, *found), MAX_LOAD)


def machine() -> float:
    """The machine load factor, at most :data:`REFRESH` s old; 1 with fixed timeouts."""
    global _cache
    if os.environ.get(ENV_FIXED, "") not in ("", "0"):
        return 1.0
    now = time.monotonic()
    with _lock:
        read_at, load = _cache
        if now - read_at < REFRESH:
            return load
    load = measure()
    with _lock:
        _cache = (now, load)
    return load


def user_factor() -> float:
    """The run's ``--timeout-factor`` as exported to processes the harness started."""
    try:
        value = float(os.environ.get(ENV_FACTOR, "1"))
    except ValueError:
        raise ValueError(f"{ENV_FACTOR}={os.environ[ENV_FACTOR]!r} is not a number") from None
    if value <= 0:
        raise ValueError(f"{ENV_FACTOR}={value} must be greater than 0")
    return value


def factored(base: float | str, factor: float | None = None) -> float:
    """``base`` seconds (or a :data:`BASE` name) times the run's factor, not yet scaled by the
    machine load: for a wait whose limit is stored now and scaled when it starts.

    ``factor`` defaults to the exported ``--timeout-factor`` (:func:`user_factor`).
    """
    seconds = BASE[base] if isinstance(base, str) else base
    return seconds * (user_factor() if factor is None else factor)


def limit(base: float | str, factor: float | None = None) -> float:
    """The limit for a wait of ``base`` seconds (or a :data:`BASE` name), scaled now."""
    return factored(base, factor) * machine()


def scaled(seconds: float) -> float:
    """``seconds`` (already times the run's factor) scaled by the machine load now."""
    return seconds * machine()


def describe() -> str:
    """One line for the run header: what the machine measured and where from."""
    if os.environ.get(ENV_FIXED, "") not in ("", "0"):
        return "fixed (machine load ignored)"
    psi = _pressure()
    parts = [f"load {_loadavg():.2f}/core"]
    if psi is not None:
        parts.append(f"cpu pressure x{psi:.2f}")
    return f"x{machine():.2f} for machine load ({', '.join(parts)})"
