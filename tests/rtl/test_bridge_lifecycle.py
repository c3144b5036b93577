"""A lost or silent test process never keeps a simulator alive; start-up failures are errors
that name the block and show the simulator's log."""

from pathlib import Path

import pytest

from harness.backends.cocotb.client import BusError
from harness.backends.cocotb.rtl import open_rtl
from harness.errors import DutLost, HarnessError


@pytest.fixture
def block(rtl_blocks):
    return rtl_blocks["qsm_pwm"]


@pytest.fixture
def dirs(tmp_path, request):
    root = Path(request.config.rootpath) / "results" / "rtl-build"
    return {"build_root": root, "run_dir": tmp_path / "run"}


def test_simulator_ends_when_the_client_disappears(block, dirs, rtl_simulator):
    rtl = open_rtl(block, simulator=rtl_simulator, waves=False, **dirs)
    rtl.regs.PWM.DUTY.write(3)
    rtl.client.sock.close()                      # as if the test process died
    rtl.thread.join(60)
    assert not rtl.thread.is_alive()
    assert "test process lost" in rtl.thread.outcome() + "\n".join(rtl.thread.log_tail(40))


def test_simulator_gives_up_on_a_silent_client(block, dirs, rtl_simulator):
    rtl = open_rtl(block, simulator=rtl_simulator, waves=False, idle_timeout=0.5, **dirs)
    rtl.thread.join(60)                          # no request for 0.5 s
    assert not rtl.thread.is_alive()
    with pytest.raises(DutLost, match="qsm_pwm: simulator lost during READ"):
        rtl.regs.PWM.ID.read()
    assert rtl.close() != "passed"


def test_broken_rtl_is_an_error_naming_the_block(block, dirs, tmp_path, rtl_simulator):
    bad = tmp_path / "broken.v"
    bad.write_text("module qsm_pwm(input wire clk; endmodule\n")
    broken = block.model_copy(update={"sources": [bad]})
    with pytest.raises(HarnessError, match=r"(?s)building RTL block 'qsm_pwm'.*broken.v:1"):
        open_rtl(broken, simulator=rtl_simulator, build_root=tmp_path / "b",
                 run_dir=tmp_path / "r")


def test_failing_test_keeps_its_waveform(pytester, request):
    root = Path(request.config.rootpath)
    pytester.makeini(f"[pytest]\nharness_rtl_blocks = {root}/firmware/rtl/blocks.yaml\n")
    pytester.makepyfile(test_w="""
        import pytest

        @pytest.mark.rtl_block("qsm_pwm")
        def test_fails(rtl):
            rtl.regs.PWM.CTRL.EN = 1
            rtl.wait_cycles(50)
            assert rtl.regs.PWM.COUNT.read() == 0

        @pytest.mark.rtl_block("qsm_pwm")
        def test_passes(rtl):
            rtl.wait_cycles(5)

        @pytest.mark.rtl_block("qsm_pwm")
        def test_writes_late(rtl):
            rtl.wait_cycles(5)
            rtl.memory.write_u32(rtl.base + 0x40, 1)   # PSLVERR after the last call
    """)
    res = pytester.runpytest_subprocess("-p", "no:harness-instruments", "-p",
                                        "no:harness-station", "--rtl-waves")
    res.assert_outcomes(failed=1, passed=2, errors=1)
    res.stdout.fnmatch_lines(["*rtl waveform: qsm_pwm*", "*test_fails*qsm_pwm.*"])
    res.stdout.fnmatch_lines(["*ERROR at teardown of test_writes_late*",
                              "*BusError: qsm_pwm: bus error (PSLVERR) at block offset 0x40 in a "
                              "posted WRITE*"])
    waves = list(pytester.path.glob("results/rtl/*/qsm_pwm-0/*.fst"))
    waves += list(pytester.path.glob("results/rtl/*/qsm_pwm-0/*.vcd"))
    assert sorted(w.parent.parent.name for w in waves) == ["test_w.py_test_fails",
                                                          "test_w.py_test_writes_late"]
    assert all(w.stat().st_size > 0 for w in waves)


def test_a_posted_failure_nothing_collected_fails_the_close(block, dirs, rtl_simulator):
    rtl = open_rtl(block, simulator=rtl_simulator, waves=False, **dirs)
    rtl.memory.write_u32(rtl.base + 0x40, 1)     # PSLVERR; no later call to report it
    outcome = rtl.close()
    assert outcome.startswith("failed: a posted request failed unnoticed")
    assert "bus error (PSLVERR) at block offset 0x40 in a posted WRITE" in outcome
    assert isinstance(rtl.uncollected, BusError)
