"""A world of one's own is one module plus one entry point: the README's example, installed
as a distribution on the path of an inner pytest, runs a test and skips what it lacks."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HERE = Path(__file__).parent


def _install_example(site: Path) -> None:
    """What `pip install` of a package declaring the entry point leaves on the path."""
    shutil.copy(HERE / "example_world.py", site / "example_world.py")
    info = site / "example_world-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: example-world\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[harness.worlds]\nram = example_world:RamWorld\n")


def test_an_entry_point_adds_a_world(pytester, monkeypatch):
    site = pytester.mkdir("site")
    _install_example(site)
    monkeypatch.setenv("PYTHONPATH", str(site))
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {ROOT / 'targets'}
    """)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.requires("memory")
        def test_memory(dut):
            assert dut.world == "ram"
            dut.memory.write_u32(0x100, 0xC0FFEE)
            assert dut.memory.read_u32(0x100) == 0xC0FFEE
            assert dut.capabilities == {"memory", "symbols"}

        @pytest.mark.requires("console")
        def test_console(dut):
            pass

        @pytest.mark.requires("pins")
        def test_pins(dut):
            pass

        def test_no_execution(dut):
            with pytest.raises(Exception, match="no 'execution'"):
                dut.execution
    """)
    result = pytester.runpytest_subprocess(
        "--world", "ram", "--target", "qsm-washer", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines(["*the ram world lacks console*",
                                 "*the ram world lacks pins*"])


def test_an_unknown_world_lists_the_registered_ones(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess("--world", "mars")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--world: invalid choice: 'mars'*pyocd*qemu*"])


def test_session_knows_no_world_by_name():
    source = (ROOT / "harness" / "session.py").read_text()
    for name in ("qemu", "pyocd", "cocotb"):
        assert f'"{name}"' not in source and f"'{name}'" not in source
