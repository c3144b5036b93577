"""Images in the three formats a bench engineer brings: ELF, Intel HEX, raw binary — detected
by content, with symbols only where the image has them (built here with the Arm toolchain)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.config import FirmwareSpec
from harness.errors import FirmwareError
from harness.firmware import FirmwareImage, detect_format, load_override

SOURCE = r"""
const unsigned table[4] = {1, 2, 3, 4};
void _start(void) { for (;;) {} }
__attribute__((section(".vectors"), used)) const void *vectors[2] = {
    (void *)0x20001000, (void *)_start };
"""


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.fail("arm-none-eabi-gcc missing: apt-get install gcc-arm-none-eabi")
    d = tmp_path_factory.mktemp("formats")
    (d / "t.c").write_text(SOURCE)
    (d / "t.ld").write_text("ENTRY(_start) SECTIONS { . = 0x8000; "
                            ".text : { KEEP(*(.vectors)) *(.text*) *(.rodata*) } }\n")
    elf = d / "t.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m0", "-mthumb", "-nostdlib", "-O1",
                    "-T", str(d / "t.ld"), "-o", str(elf), str(d / "t.c")], check=True)
    out = {"elf": elf}
    for kind, fmt in (("hex", "ihex"), ("bin", "binary")):
        out[kind] = d / f"firmware.{'img' if kind == 'hex' else 'dat'}"  # names lie on purpose
        subprocess.run(["arm-none-eabi-objcopy", "-O", fmt, str(elf), str(out[kind])],
                       check=True)
    out["ihex-elf"] = d / "from-hex.elf"  # what a user gets converting a vendor HEX
    subprocess.run(["arm-none-eabi-objcopy", "-I", "ihex", "-O", "elf32-littlearm",
                    str(out["hex"]), str(out["ihex-elf"])], check=True)
    return out


def test_formats_are_detected_by_content(images):
    assert detect_format(images["elf"].read_bytes()) == "elf"
    assert detect_format(images["hex"].read_bytes()) == "hex"
    assert detect_format(images["bin"].read_bytes()) == "bin"


def test_every_format_gives_the_same_bytes_at_the_same_address(images):
    elf = FirmwareImage(images["elf"])
    hexed = FirmwareImage(images["hex"])
    raw = FirmwareImage(images["bin"], load_address=0x8000)
    converted = FirmwareImage(images["ihex-elf"])  # no program headers: sections instead

    def flat(img):
        return [(s.address, s.data) for s in img.segments]

    assert flat(hexed) == flat(raw) == flat(converted) == flat(elf)
    assert elf.segments[0].address == 0x8000
    assert hexed.entry & ~1 == raw.entry & ~1 == elf.entry & ~1  # from the vector table
    assert len({elf.sha256, hexed.sha256, raw.sha256}) == 3


def test_symbols_only_where_the_image_has_them(images):
    assert FirmwareImage(images["elf"]).has_symbols
    hexed = FirmwareImage(images["hex"])
    assert not hexed.has_symbols and hexed.symbols == {}
    with pytest.raises(KeyError, match="HEX image has no symbol table.*requires\\('symbols'\\)"):
        hexed.symbol("table")


def test_identity_without_a_version_block(images):
    img = FirmwareImage(images["hex"])
    assert img.version is None
    assert img.identity == f"sha256:{img.sha256}"


def test_bad_inputs_name_the_file_and_the_field(images, tmp_path):
    with pytest.raises(FirmwareError, match="firmware.dat: a raw binary.*'load_address'"):
        FirmwareImage(images["bin"])
    with pytest.raises(FirmwareError, match="load_address is for raw binaries.*HEX"):
        FirmwareImage(images["hex"], load_address=0)
    with pytest.raises(FirmwareError, match="version_symbol 'fw_version' needs an ELF"):
        FirmwareImage(images["hex"], version_symbol="fw_version")
    broken = tmp_path / "broken.hex"
    broken.write_text(":10000000ZZ\n")
    with pytest.raises(FirmwareError, match="broken.hex"):
        FirmwareImage(broken)
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    with pytest.raises(FirmwareError, match="empty.bin: firmware image is empty"):
        FirmwareImage(empty, load_address=0)


def test_override_takes_what_applies_to_its_format(images):
    spec = FirmwareSpec(image=Path("x.bin"), load_address=0x8000, version_symbol="fw_version")
    raw = load_override(images["bin"], spec)
    assert raw.format == "bin" and raw.segments[0].address == 0x8000
    assert raw.version_symbol is None  # a raw binary has no symbols to find it by
    assert load_override(images["hex"], spec).load_address is None
