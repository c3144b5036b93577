"""The clean-up routine's machine code is what its documented source assembles to."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.backends import qemu_clean
from harness.emu import store


@pytest.mark.parametrize(("module", "marker", "constant", "done", "table_at"), [
    (qemu_clean, "# The routine the core runs", "ROUTINE", "DONE", "TABLE_AT"),
    (store, "# The routine that runs a table", "_TABLE_ROUTINE", "_TABLE_DONE",
     "_TABLE_AT"),
])
def test_routine_bytes_match_the_documented_source(tmp_path, module, marker, constant, done,
                                                   table_at):
    if shutil.which("arm-none-eabi-as") is None:
        pytest.fail("arm-none-eabi-as missing: apt-get install binutils-arm-none-eabi")
    doc = Path(module.__file__).read_text()
    block = doc[doc.index(marker):doc.index(f"{constant} = ")]
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
    assert code == getattr(module, constant)
    at = getattr(module, done)
    assert code[at:at + 2] == bytes.fromhex("fee7")  # b .
    assert len(code) <= getattr(module, table_at)
