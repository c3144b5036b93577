"""The clean-up routine's machine code is what its documented source assembles to."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.backends import qemu_reset


def test_routine_bytes_match_the_documented_source(tmp_path):
    if shutil.which("arm-none-eabi-as") is None:
        pytest.fail("arm-none-eabi-as missing: apt-get install binutils-arm-none-eabi")
    doc = Path(qemu_reset.__file__).read_text()
    block = doc[doc.index("# The routine the core runs"):doc.index("ROUTINE = ")]
    lines = []
    for line in block.splitlines()[2:]:
        code = line.lstrip("# ").split("@")[0].strip()
        for stmt in code.split(";"):
            stmt = stmt.strip()
            if stmt:
                lines.append(stmt.replace(":", ":\n") if re.match(r"^\w+:", stmt) else stmt)
    src = tmp_path / "r.s"
    src.write_text(".syntax unified\n.thumb\n.text\n" + "\n".join(lines) + "\n")
    subprocess.run(["arm-none-eabi-as", "-mcpu=cortex-m3", "-mthumb", str(src), "-o",
                    str(tmp_path / "r.o")], check=True)
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", str(tmp_path / "r.o"),
                    str(tmp_path / "r.bin")], check=True)
    code = (tmp_path / "r.bin").read_bytes()
    assert code == qemu_reset.ROUTINE
    assert code[qemu_reset.DONE:qemu_reset.DONE + 2] == bytes.fromhex("fee7")  # b .
    assert len(code) <= qemu_reset.TABLE_AT
