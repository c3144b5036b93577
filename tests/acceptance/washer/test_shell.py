"""The washer's shell: identity, help, status at power-on, errors."""

import pytest

from harness.errors import CommandError

pytestmark = pytest.mark.targets("qsm-washer")


def test_version_matches_the_elf(dut):
    v = dut.image.version
    assert dut.command("version") == (f"product={v.product} version={v.version} git={v.git} "
                                      f"build={v.build}")
    assert v.product == "washer"


def test_banner_at_boot_carries_the_version(dut):
    v = dut.image.version
    dut.console.expect(rf"^QSM boot product=washer version={v.version} git={v.git} "
                       rf"build={v.build}$", since=0)


def test_help_lists_every_command(dut):
    assert dut.command("help").split() == ["help", "version", "status", "start", "stop",
                                           "faults", "clear", "door"]


def test_power_on_state_is_idle_safe_and_unlocked(washer):
    st = washer.status()
    assert (st["state"], st["program"], st["door"], st["lock"], st["faults"]) == \
        ("IDLE", "-", "closed", 0, 0)
    assert all(st[k] == 0 for k in ("motor", "valve", "pump", "heater", "water", "rpm"))
    assert washer.faults() == "none"


@pytest.mark.requires("symbols")
def test_outputs_block_agrees_with_status(washer):
    assert washer.outputs == {"motor": 0, "motor_rpm": 0, "valve": 0, "pump": 0, "heater": 0,
                              "lock": 0}


@pytest.mark.parametrize("line, code, text", [
    ("spin-dry", 1, "unknown command"),
    ("start", 2, ""),
    ("start boil", 2, "unknown program boil"),
    ("x" * 81, 3, "line too long"),
], ids=["unknown-command", "missing-program", "unknown-program", "line-too-long"])
def test_bad_commands_answer_err_with_code(dut, line, code, text):
    with pytest.raises(CommandError) as e:
        dut.command(line)
    assert e.value.code == code
    assert text in e.value.text
    assert dut.command("status").startswith("state=IDLE")  # nothing changed, shell still up


def test_blank_lines_are_ignored_and_crlf_counts_once(dut):
    dut.console.write(b"\r\n\r\n\n")
    dut.console.write(b"version\r\n")
    dut.console.expect(r"^OK product=washer")
    assert dut.command("status").startswith("state=IDLE")
