"""ELF decoding: segments, symbols, DWARF types, version block — on a tiny image built here."""

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.errors import FirmwareError
from harness.firmware import FirmwareImage, VersionInfo, build, is_stale, load_image
from harness.protocols import Memory
from harness.symbols import SymbolView

SOURCE = r"""
#include <stdint.h>
struct fw_version { uint32_t magic; uint8_t major, minor, patch, reserved;
                    char git[16]; char build[24]; char product[16]; };
__attribute__((used)) const struct fw_version fw_version =
    { 0x564D5351u, 2, 7, 13, 0, "abc123", "20261128T000000Z", "probe" };
typedef struct { int32_t door_closed; int32_t water_level; uint8_t flags; int16_t temp; } stim_t;
volatile stim_t stimulus = { 1, -5, 0x81, -20 };
uint16_t counts[4] = { 1, 2, 3, 65535 };
char label[8] = "wash";
float gain = 1.5f;
int main(void) { return stimulus.water_level; }
void _start(void) { main(); for (;;) {} }
"""


@pytest.fixture(scope="module")
def elf(tmp_path_factory) -> Path:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.fail("arm-none-eabi-gcc missing: apt-get install gcc-arm-none-eabi")
    d = tmp_path_factory.mktemp("elf")
    (d / "t.c").write_text(SOURCE)
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m3", "-mthumb", "-g", "-O1",
                    "-nostdlib", "-Wl,-Ttext=0x0", "-Wl,-Tdata=0x20000000", "-Wl,-e,_start",
                    "-o", str(d / "t.elf"), str(d / "t.c")], check=True)
    return d / "t.elf"


class RamFromImage(Memory):
    """A Memory whose contents start as the image's load segments (unit-test fake)."""

    def __init__(self, image: FirmwareImage):
        self.mem = {}
        for seg in image.segments:
            for i, b in enumerate(seg.data):
                self.mem[seg.address + i] = b

    def read(self, address, length):
        return bytes(self.mem.get(address + i, 0) for i in range(length))

    def write(self, address, data):
        for i, b in enumerate(data):
            self.mem[address + i] = b


def test_symbols_segments_sha(elf):
    img = FirmwareImage(elf)
    assert img.symbols["stimulus"].address == 0x20000000 or img.symbols["stimulus"].kind == "object"
    assert img.symbols["main"].kind == "func"
    assert len(img.sha256) == 64
    assert sum(len(s.data) for s in img.segments) > 64


def test_version_block(elf):
    v = FirmwareImage(elf, "fw_version").version
    assert v == VersionInfo("probe", "2.7.13", "abc123", "20261128T000000Z")
    assert str(v) == "probe 2.7.13 (git abc123, build 20261128T000000Z)"


def test_typed_symbol_reads_and_writes(elf):
    img = FirmwareImage(elf)
    mem = RamFromImage(img)
    sym = SymbolView(img, mem)
    # .data initial values live in flash (LMA); with --Tdata they are loaded at the VMA here
    assert sym["stimulus.water_level"] == -5
    assert sym["stimulus.flags"] == 0x81
    assert sym["stimulus.temp"] == -20
    assert sym["stimulus"] == {"door_closed": 1, "water_level": -5, "flags": 0x81, "temp": -20}
    assert sym["counts"] == [1, 2, 3, 65535]
    assert sym["label"] == "wash"
    assert sym["gain"] == 1.5
    sym["stimulus.temp"] = -300
    assert sym["stimulus.temp"] == -300
    sym["stimulus"] = {"door_closed": 0, "water_level": 120}
    assert sym["stimulus.door_closed"] == 0 and sym["stimulus.water_level"] == 120
    assert sym.address("stimulus.water_level") == sym.address("stimulus") + 4
    with pytest.raises(ValueError, match="does not fit"):
        sym["stimulus.flags"] = 256
    with pytest.raises(KeyError, match="no field 'door'"):
        sym["stimulus.door"]
    with pytest.raises(KeyError, match="no symbol 'nosuch'"):
        sym["nosuch"]
    assert "stimulus.temp" in sym and "stimulus.nope" not in sym


def test_missing_and_corrupt_elf(tmp_path, elf):
    with pytest.raises(FirmwareError, match="not found"):
        FirmwareImage(tmp_path / "none.elf")
    bad = tmp_path / "bad.elf"
    bad.write_bytes(b"\x7fELF" + b"\x01" * 60)
    with pytest.raises(FirmwareError, match="bad.elf"):
        FirmwareImage(bad)
    txt = tmp_path / "text.elf"
    txt.write_text("not an elf")  # the name says nothing: by content it is a raw binary
    with pytest.raises(FirmwareError, match="text.elf: a raw binary.*needs 'load_address'"):
        FirmwareImage(txt)
    truncated = tmp_path / "trunc.elf"
    truncated.write_bytes(elf.read_bytes()[:200])
    with pytest.raises(FirmwareError, match="trunc.elf"):
        _ = FirmwareImage(truncated).segments


def test_no_version_block(tmp_path):
    d = tmp_path
    (d / "n.c").write_text("void _start(void){for(;;){}}\n")
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m3", "-mthumb", "-nostdlib",
                    "-Wl,-e,_start", "-o", str(d / "n.elf"), str(d / "n.c")], check=True)
    with pytest.raises(FirmwareError, match="no version block"):
        _ = FirmwareImage(d / "n.elf", "fw_version").version
    assert FirmwareImage(d / "n.elf").version is None  # no contract asked for: none needed


def test_load_image_caches_until_file_changes(elf, tmp_path):
    copy = tmp_path / "c.elf"
    copy.write_bytes(elf.read_bytes())
    a = load_image(copy)
    assert load_image(copy) is a
    copy.write_bytes(elf.read_bytes() + b"\0")
    assert load_image(copy) is not a


def test_build_runs_only_when_stale(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.c").write_text("x")
    out = tmp_path / "out.elf"
    cmd = ["sh", "-c", f"echo built >> {tmp_path}/count; touch {out}"]
    assert is_stale(out, [src])
    build(cmd, out, [src], tmp_path)
    build(cmd, out, [src], tmp_path)
    assert (tmp_path / "count").read_text().count("built") == 1


def test_missing_toolchain_names_the_apt_package(tmp_path, monkeypatch):
    from harness.errors import ToolMissing

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "make").symlink_to(shutil.which("make"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(ToolMissing, match="arm-none-eabi-gcc.*apt-get install.*gcc-arm-none-eabi"):
        build(["make", "-C", "firmware", "washer"], tmp_path / "x.elf", [], tmp_path)


def test_build_failure_shows_output(tmp_path):
    with pytest.raises(FirmwareError, match=r"(?s)exit 3.*boom"):
        build(["sh", "-c", "echo boom; exit 3"], tmp_path / "x.elf", [], tmp_path)
