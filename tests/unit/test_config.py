from pathlib import Path

import pytest
import yaml

from harness.config import Target, TargetCatalog, load_target
from harness.errors import ConfigError, UnknownTarget

ROOT = Path(__file__).resolve().parents[2]
WASHER = ROOT / "targets" / "qsm-washer.yaml"


def write(tmp_path: Path, name: str, data) -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def washer_dict() -> dict:
    """The washer's target as a dict, its board's fields written out (as a target without a
    board profile would have them)."""
    raw = yaml.safe_load(WASHER.read_text())
    return dict(Target._from_board(raw))


def test_washer_target_loads():
    t = load_target(WASHER)
    assert t.name == "qsm-washer"
    assert t.cpu == "cortex-m3"
    assert t.qemu.machine == "lm3s6965evb"
    assert t.console_name == "shell"
    assert t.consoles["shell"].uart == 0
    assert [r.name for r in t.region("flash")] == ["flash"]
    assert t.region("ram")[0].contains(0x2000FFFC, 4)
    assert not t.region("ram")[0].contains(0x2000FFFE, 4)
    assert t.source == WASHER


def test_unknown_field_names_file_and_field(tmp_path):
    d = washer_dict()
    d["qemu"]["machnie"] = "x"
    with pytest.raises(ConfigError) as e:
        load_target(write(tmp_path, "qsm-washer", d))
    msg = str(e.value)
    assert "qsm-washer.yaml" in msg
    assert "qemu.machnie" in msg and "unknown field" in msg


def test_wrong_type_says_what_was_expected(tmp_path):
    d = washer_dict()
    d["consoles"]["shell"]["uart"] = "zero"
    with pytest.raises(ConfigError, match=r"consoles\.shell\.uart.*integer.*'zero'"):
        load_target(write(tmp_path, "qsm-washer", d))


def test_missing_field(tmp_path):
    d = washer_dict()
    del d["firmware"]["elf"]
    with pytest.raises(ConfigError, match=r"'firmware'.*give the image path as 'image'"):
        load_target(write(tmp_path, "qsm-washer", d))


def test_bad_cpu_lists_choices(tmp_path):
    d = washer_dict()
    d["cpu"] = "cortex-a53"
    with pytest.raises(ConfigError, match=r"field 'cpu'.*cortex-m3"):
        load_target(write(tmp_path, "qsm-washer", d))


def test_overlapping_memory(tmp_path):
    d = washer_dict()
    d["memory"].append({"name": "sram2", "kind": "ram", "start": 0x20008000, "size": 0x100})
    with pytest.raises(ConfigError, match="overlap"):
        load_target(write(tmp_path, "qsm-washer", d))


def test_default_console_must_exist(tmp_path):
    d = washer_dict()
    d["default_console"] = "debug"
    with pytest.raises(ConfigError, match="default_console 'debug'"):
        load_target(write(tmp_path, "qsm-washer", d))


def test_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_target(write(tmp_path, "broken", "name: [unclosed\n"))


def test_not_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_target(write(tmp_path, "list", "- a\n- b\n"))


def test_name_must_match_file(tmp_path):
    with pytest.raises(ConfigError, match="must match the file name"):
        load_target(write(tmp_path, "other", washer_dict()))


def test_unknown_target_lists_known(tmp_path):
    write(tmp_path, "qsm-washer", washer_dict())
    cat = TargetCatalog(tmp_path)
    with pytest.raises(UnknownTarget, match=r"'qsm-dryer'.*known targets: qsm-washer"):
        cat.get("qsm-dryer")


def test_every_shipped_target_is_valid():
    cat = TargetCatalog(ROOT / "targets")
    assert "qsm-washer" in cat.names()
    for t in cat.all():
        assert t.firmware.elf.suffix == ".elf"


def test_svd_is_resolved_from_the_project_root(tmp_path):
    (tmp_path / "targets" / "svd").mkdir(parents=True)
    (tmp_path / "targets" / "svd" / "chip.svd").write_text("<device/>")
    d = washer_dict()
    d["svd"] = "targets/svd/chip.svd"
    t = load_target(write(tmp_path / "targets", "qsm-washer", d))
    assert t.svd == (tmp_path / "targets" / "svd" / "chip.svd").resolve()


def test_missing_svd_names_file_and_field(tmp_path):
    (tmp_path / "targets").mkdir()
    d = washer_dict()
    d["svd"] = "targets/svd/nope.svd"
    with pytest.raises(ConfigError, match=r"qsm-washer\.yaml: field 'svd': no such file "
                                          r".*nope\.svd"):
        load_target(write(tmp_path / "targets", "qsm-washer", d))


def test_a_board_fills_what_the_target_leaves_out(tmp_path):
    d = washer_dict()
    for key in ("cpu", "memory", "qemu", "svd"):
        d.pop(key, None)
    d["board"] = "lm3s6965evb"
    t = load_target(write(tmp_path, "qsm-washer", d))
    assert t.cpu == "cortex-m3" and t.qemu is not None and t.qemu.machine == "lm3s6965evb"
    assert [(r.kind, r.start, r.size) for r in t.memory] == [
        ("flash", 0, 0x40000), ("ram", 0x20000000, 0x10000)]
    assert t.qemu.uart_drain and len(t.qemu.reset_writes) > 50  # QEMU's quirks, not the chip's
    d["memory"] = [{"name": "sram", "kind": "ram", "start": 0x20000000, "size": 0x1000},
                   {"name": "flash", "kind": "flash", "start": 0, "size": 0x1000}]
    d["qemu"] = {"ram_fill": 0xDEADBEEF}
    t = load_target(write(tmp_path, "qsm-washer", d))
    assert t.memory[0].size == 0x1000 and t.qemu.ram_fill == 0xDEADBEEF  # the target's own
    assert t.qemu.machine == "lm3s6965evb" and t.qemu.reset_writes


def test_unknown_board_lists_the_known_ones(tmp_path):
    d = washer_dict()
    d["board"] = "zx-spectrum"
    with pytest.raises(ConfigError, match="unknown board 'zx-spectrum'; known boards: .*"
                                          "lm3s6965evb.*harness boards"):
        load_target(write(tmp_path, "qsm-washer", d))
