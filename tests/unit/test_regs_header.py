"""The firmware's C headers of the QSM blocks match the SVD they are generated from."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_headers_match_svd():
    r = subprocess.run(["make", "-s", "-C", str(ROOT / "firmware" / "rtl"), "check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_header_has_every_register_at_its_offset():
    from harness.regs import load_svd

    dev = load_svd((ROOT / "targets" / "svd" / "qsm_periph.svd").resolve())
    text = (ROOT / "firmware" / "common" / "qsm_nec.h").read_text()
    for r in dev.peripheral("NEC").registers.values():
        assert f" {r.name}; /* 0x{r.address - 0x40101000:03X} " in text
    assert "#define QSM_NEC_ERRINFO_CAUSE_BIT_SPACE 4u" in text
