"""qsm_pwm: duty and dead time measured in cycles on the output pins; fault shutdown latency."""

import pytest

FAULT_LATENCY = 3  # cycles, the block's documented bound (firmware/rtl/qsm_pwm.v)


def runs(samples: list[int], level: int) -> list[int]:
    """Lengths of the complete runs of ``level`` (the first and last run may be cut off)."""
    out, n = [], 0
    for s in samples:
        if s == level:
            n += 1
        elif n:
            out.append(n)
            n = 0
    return out[1:] if samples[0] == level else out


def rising_edges(samples: list[int]) -> list[int]:
    return [i for i in range(1, len(samples)) if samples[i] and not samples[i - 1]]


def start(pwm, period, duty, deadtime):
    r = pwm.regs.PWM
    r.PERIOD.write(period)
    r.DUTY.write(duty)
    r.DEADTIME.write(deadtime)
    r.CTRL.EN = 1
    pwm.wait_cycles(period)                      # first period out of the way


@pytest.mark.parametrize(("period", "duty", "deadtime"),
                         [(20, 8, 2), (100, 30, 5), (64, 60, 1), (50, 25, 0)])
def test_duty_and_dead_time_in_cycles(pwm, period, duty, deadtime):
    start(pwm, period, duty, deadtime)
    t = pwm.pins.trace(["pwm_h", "pwm_l"], 3 * period + 2)
    h, lo = t["pwm_h"], t["pwm_l"]
    assert not any(a and b for a, b in zip(h, lo, strict=True)), "both switches on at once"
    assert set(runs(h, 1)) == {duty - deadtime}
    assert set(runs(lo, 1)) == {period - duty - deadtime}
    edges = rising_edges(h)
    assert {b - a for a, b in zip(edges, edges[1:], strict=False)} == {period}
    # dead time: from one switch turning off to the other turning on
    both_off = [n for n in runs([int(a or b) for a, b in zip(h, lo, strict=True)], 0)]
    assert set(both_off) == ({deadtime} if deadtime else set())


def test_new_duty_applies_at_next_period(pwm):
    start(pwm, 40, 20, 0)
    assert pwm.pins.wait("pwm_h", 0, 40) is not None
    assert pwm.pins.wait("pwm_h", 1, 40) is not None   # a period just started
    pwm.regs.PWM.DUTY.write(10)
    h = pwm.pins.trace(["pwm_h"], 120)["pwm_h"]
    widths = runs(h, 1)
    assert widths[-1] == 10
    assert h.index(0) + 2 >= 20 - 10, "the running period was cut short"


def test_outputs_off_while_disabled(pwm):
    start(pwm, 20, 10, 1)
    pwm.regs.PWM.CTRL.EN = 0
    pwm.wait_cycles(2)
    t = pwm.pins.trace(["pwm_h", "pwm_l"], 60)
    assert not any(t["pwm_h"]) and not any(t["pwm_l"])
    assert pwm.regs.PWM.COUNT.read() == 0


@pytest.mark.parametrize("side", ["pwm_h", "pwm_l"])
def test_fault_shutdown_latency(pwm, side):
    start(pwm, 40, 20, 2)
    assert pwm.pins.wait(side, 0, 40) is not None
    assert pwm.pins.wait(side, 1, 40) is not None  # the switch just turned on
    pwm.wait_cycles(3)                             # well inside its on-time
    assert pwm.pins[side] == 1
    pwm.pins["fault"] = 1
    t = pwm.pins.trace(["pwm_h", "pwm_l"], 10)
    off = next(i for i in range(10) if not t["pwm_h"][i] and not t["pwm_l"][i]) + 1
    assert off <= FAULT_LATENCY, f"outputs still on {off} cycles after the fault"
    assert not any(t["pwm_h"][off:]) and not any(t["pwm_l"][off:])
    st = pwm.regs.PWM.STATUS
    assert st.FAULT == 1 and st.FAULT_IN == 1


def test_fault_latches_until_cleared(pwm):
    start(pwm, 20, 10, 1)
    pwm.regs.PWM.IE.FAULT = 1
    pwm.pins["fault"] = 1
    pwm.wait_cycles(4)
    assert pwm.pins["irq"] == 1
    pwm.regs.PWM.STATUS.FAULT = 1                 # clearing while the input is active: no
    assert pwm.regs.PWM.STATUS.FAULT == 1
    pwm.pins["fault"] = 0
    pwm.wait_cycles(40)
    t = pwm.pins.trace(["pwm_h", "pwm_l"], 40)
    assert not any(t["pwm_h"]) and not any(t["pwm_l"]), "outputs came back by themselves"
    pwm.regs.PWM.STATUS.FAULT = 1
    assert pwm.regs.PWM.STATUS.FAULT == 0 and pwm.pins["irq"] == 0
    t = pwm.pins.trace(["pwm_h", "pwm_l"], 40)
    assert set(runs(t["pwm_h"], 1)) == {9} and set(runs(t["pwm_l"], 1)) == {9}


def test_period_interrupt(pwm):
    start(pwm, 30, 10, 0)
    pwm.regs.PWM.STATUS.PERIOD = 1
    pwm.regs.PWM.IE.PERIOD = 1
    assert pwm.pins.wait("irq", 1, 31) is not None
    assert pwm.regs.PWM.STATUS.PERIOD == 1
    pwm.regs.PWM.STATUS.PERIOD = 1
    assert pwm.pins["irq"] == 0
