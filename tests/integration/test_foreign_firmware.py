"""Firmware not written for the harness (tests/foreign): a vendor-style REPL that wants CR,
echoes, prompts with "> " and has no version block — as an ELF, as Intel HEX only and as a raw
binary, and on an M0, M4, M7, M33 and M55 board (the last two from their secure reset vector)
besides the M3 — passes a newcomer's smoke test in both worlds, unchanged."""

import shutil
from pathlib import Path

import pytest

FOREIGN = Path(__file__).resolve().parents[1] / "foreign"

WORLDS = {"qemu": [], "pyocd": ["--probe", "qemu:auto"]}


@pytest.mark.parametrize("world", sorted(WORLDS))
@pytest.mark.parametrize("image", ["foreign-repl", "foreign-hex", "foreign-raw",
                                   "foreign-m0", "foreign-m4", "foreign-m7", "foreign-lm3s811",
                                   "foreign-m33", "foreign-m55", "foreign-an521",
                                   "foreign-stm32f2", "foreign-stm32f1"])
def test_smoke_test_passes(pytester, world, image):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {FOREIGN / 'targets'}
    """)
    shutil.copy(FOREIGN / "smoke_tests.py", pytester.path / "test_smoke.py")
    result = pytester.runpytest_subprocess(
        "--target", image, "--world", world, *WORLDS[world], "-rs", "-p", "no:cacheprovider",
        "--junitxml=j.xml")
    symbols = image not in ("foreign-hex", "foreign-raw")  # the others are ELFs
    result.assert_outcomes(passed=5 if symbols else 3, skipped=0 if symbols else 2)
    if not symbols:
        result.stdout.fnmatch_lines(["*image repl-m3.* of foreign-* has no symbols*"])
    xml = (pytester.path / "j.xml").read_text()
    assert 'name="firmware_version" value="none"' in xml
    assert 'name="firmware_identity" value="sha256:' in xml


def test_a_chip_running_something_else_is_refused(pytester, tmp_path):
    """Without a version block the identity is the image read back from the chip."""
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {FOREIGN / 'targets'}
    """)
    pytester.makepyfile("""
        import pytest
        from harness.errors import FirmwareError

        def test_other_image(dut):
            dut.memory.write_u32(0x100, dut.memory.read_u32(0x100) ^ 1)  # flash: one bit
            with pytest.raises(FirmwareError, match="does not hold the image .*repl-m3.elf"):
                dut.check_version()
    """)
    result = pytester.runpytest_subprocess("--target", "foreign-repl", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_lf_only_host_is_told_nothing_runs(pytester):
    """The console's newline is the target's: with LF the REPL echoes and never answers."""
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {FOREIGN / 'targets'}
    """)
    pytester.makepyfile("""
        import pytest
        from harness.errors import ConsoleTimeout

        def test_lf(dut):
            dut.console.newline = "\\n"
            with pytest.raises(ConsoleTimeout):
                dut.command("add 1 2", timeout=0.5)
            dut.console.newline = "\\r"
            assert dut.command("add 1 2") == "3"
    """)
    result = pytester.runpytest_subprocess("--target", "foreign-repl", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("world", sorted(WORLDS))
def test_configuration_memory_in_an_image_is_refused_by_name(pytester, world):
    """An nRF-style HEX that also writes a UICR word: no world programs configuration memory
    as plain memory, so the run says which segment and region, before any chip starts."""
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {FOREIGN / 'targets'}
    """)
    shutil.copy(FOREIGN / "smoke_tests.py", pytester.path / "test_smoke.py")
    result = pytester.runpytest_subprocess("--target", "foreign-uicr", "--world", world,
                                           *WORLDS[world], "-p", "no:cacheprovider")
    result.assert_outcomes(errors=5)
    result.stdout.fnmatch_lines(["*foreign-uicr.yaml: the image repl-m0-uicr.hex cannot run on "
                                 "foreign-uicr: segment 0x10001080+4 is in region 'uicr' "
                                 "(config memory)*"])
    assert "Traceback" not in result.stdout.str()
