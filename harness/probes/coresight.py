"""The Arm debug port and access port registers the ``qemu:`` probe answers, as plain state.

An SWD-DP v2 (DPIDR 0x2BA01477) with a single AHB-AP (IDR 0x24770011) whose BASE points at the
ROM table. Power-up requests in CTRL/STAT are acknowledged at once; AP registers other than
the identification ones hold what was written (CSW keeps DeviceEn set). Memory never goes
through TAR/DRW here: pyOCD uses the probe's accelerated memory interface instead.
"""

from __future__ import annotations

DPIDR = 0x2BA01477
AP_IDR = 0x24770011  # AHB-AP, ADIv5
ROM_TABLE = 0xE00FF000
AP_BASE = ROM_TABLE | 0x3  # entry present, ADIv5 format

# DP registers (address within the DP, bank 0)
DP_IDR_ABORT = 0x0
DP_CTRL_STAT = 0x4
DP_SELECT = 0x8
DP_RDBUFF = 0xC

CDBGPWRUPREQ = 1 << 28
CDBGPWRUPACK = 1 << 29
CSYSPWRUPREQ = 1 << 30
CSYSPWRUPACK = 1 << 31

# AP registers (low byte of an AP address)
AP_CSW = 0x00
AP_TAR = 0x04
AP_DRW = 0x0C
AP_CFG = 0xF4
AP_BASE_REG = 0xF8
AP_IDR_REG = 0xFC
CSW_DEVICEEN = 1 << 6
APSEL_SHIFT = 24


class DebugPortModel:
    """DP and AP registers of one SWD debug port with one MEM-AP (AP #0)."""

    def __init__(self) -> None:
        self.ctrl_stat = 0
        self.select = 0
        self.ap_regs: dict[int, int] = {AP_CSW: CSW_DEVICEEN | 0x2}  # 32-bit size, DeviceEn

    def read_dp(self, addr: int) -> int:
        if addr == DP_IDR_ABORT:
            return DPIDR
        if addr == DP_CTRL_STAT:
            acks = 0
            if self.ctrl_stat & CDBGPWRUPREQ:
                acks |= CDBGPWRUPACK
            if self.ctrl_stat & CSYSPWRUPREQ:
                acks |= CSYSPWRUPACK
            return (self.ctrl_stat & 0x5FFFFFFF & ~0x3F) | acks  # sticky error bits stay clear
        if addr == DP_SELECT:
            return self.select
        return 0  # RDBUFF: reads are synchronous here

    def write_dp(self, addr: int, value: int) -> None:
        if addr == DP_CTRL_STAT:
            self.ctrl_stat = value & 0xFFFFFFFF
        elif addr == DP_SELECT:
            self.select = value & 0xFFFFFFFF
        # ABORT (0x0) clears sticky errors we never raise; RDBUFF is read-only

    def read_ap(self, addr: int) -> int:
        apsel, reg = addr >> APSEL_SHIFT & 0xFF, addr & 0xFC
        if apsel != 0:
            return 0  # no such AP: IDR 0 ends pyOCD's scan
        if reg == AP_IDR_REG:
            return AP_IDR
        if reg == AP_BASE_REG:
            return AP_BASE
        if reg == AP_CFG:
            return 0
        if reg == AP_CSW:
            return self.ap_regs[AP_CSW] | CSW_DEVICEEN
        return self.ap_regs.get(reg, 0)

    def write_ap(self, addr: int, value: int) -> None:
        apsel, reg = addr >> APSEL_SHIFT & 0xFF, addr & 0xFC
        if apsel == 0 and reg not in (AP_IDR_REG, AP_BASE_REG, AP_CFG):
            self.ap_regs[reg] = value & 0xFFFFFFFF


# -- CoreSight component identification ------------------------------------------------------
ARM_DESIGNER = 0x43B  # JEP106 continuation 4 (bits 11:8), id 0x3B (bits 6:0)
CLASS_ROM_TABLE = 0x1
CLASS_GENERIC = 0xE


def component_id_words(part: int, cls: int, designer: int = ARM_DESIGNER) -> dict[int, int]:
    """PIDR4..7, PIDR0..3 and CIDR0..3 of a component, keyed by offset (0xFD0..0xFFC)."""
    jep_id, cont = designer & 0x7F, designer >> 8
    pidr = [part & 0xFF,
            (part >> 8 & 0xF) | (jep_id & 0xF) << 4,
            (jep_id >> 4) | 0x8,  # JEDEC-assigned designer, revision 0
            0]
    pidr4 = cont & 0xF
    words = {0xFD0: pidr4, 0xFD4: 0, 0xFD8: 0, 0xFDC: 0}
    words.update({0xFE0 + 4 * i: v for i, v in enumerate(pidr)})
    words.update({0xFF0: 0x0D, 0xFF4: cls << 4, 0xFF8: 0x05, 0xFFC: 0xB1})
    return words
