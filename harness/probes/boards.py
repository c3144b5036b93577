"""pyOCD target classes for the emulated boards, and how to tell which board a QEMU runs.

One class per board, with a memory map equal to QEMU's (checked against ``info mtree``). Code
memory is a :class:`pyocd.core.memory_map.FlashRegion` whose flash class programs with plain
memory writes (QEMU's ROM accepts debugger writes), so pyOCD's FlashLoader/FileProgrammer run
unchanged: erase writes the erased value, program writes the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import HarnessError

ERASED = 0xFF


@dataclass(frozen=True)
class BoardSpec:
    machine: str  # QEMU -M
    cpu: str
    flash: tuple[int, int, str]  # start, size, QEMU region name
    ram: tuple[int, int, str]
    sector: int = 0x400
    page: int = 0x400

    @property
    def target_type(self) -> str:
        return "qemu_" + re.sub(r"[^a-z0-9]+", "_", self.machine.lower())

    @property
    def writable(self) -> list[tuple[int, int]]:
        return [self.flash[:2], self.ram[:2]]


def _from_profiles() -> dict[str, BoardSpec]:
    """One spec per board profile the pyocd world supports (harness/boards/profiles): code
    memory (flash) and RAM as QEMU names them, so ``detect`` recognises the machine."""
    from ..config import board_profiles

    out = {}
    for profile in board_profiles().values():
        if profile.worlds.get("pyocd") != "ok":
            continue
        flash, ram = profile.region("flash"), profile.region("ram")
        if flash.qemu is None or ram.qemu is None:
            raise HarnessError(f"board profile {profile.machine}: flash and ram need their QEMU "
                               "region names ('qemu:') for the qemu: probe")
        cpu = "cortex-m4" if profile.cpu == "cortex-m4f" else profile.cpu
        out[profile.machine] = BoardSpec(profile.machine, cpu,
                                         (flash.start, flash.size, flash.qemu),
                                         (ram.start, ram.size, ram.qemu),
                                         sector=profile.flash_sector,
                                         page=min(profile.flash_sector, 0x400))
    return out


BOARDS: dict[str, BoardSpec] = _from_profiles()

_MTREE_RE = re.compile(r"^\s*([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, (rom|romd|ram)\): (\S+)",
                       re.M)


def detect(mtree: str) -> BoardSpec:
    """The board whose code and data memories appear in QEMU's ``info mtree -f``."""
    regions = {(int(a, 16), int(b, 16) - int(a, 16) + 1, name)
               for a, b, _kind, name in _MTREE_RE.findall(mtree)}
    for spec in BOARDS.values():
        if spec.flash in regions and spec.ram in regions:
            return spec
    found = ", ".join(f"{n} 0x{a:08x}+0x{s:x}" for a, s, n in sorted(regions)) or "none"
    raise HarnessError(f"the QEMU behind this probe runs no board the qemu: probe knows "
                       f"(known: {', '.join(BOARDS)}); its memories: {found}")


def by_target_type(name: str) -> BoardSpec | None:
    return next((b for b in BOARDS.values() if b.target_type == name), None)


_registered = False


def register_targets() -> None:
    """Add one pyOCD target class per board to pyOCD's target table (idempotent)."""
    global _registered
    if _registered:
        return
    from pyocd.target import TARGET

    for spec in BOARDS.values():
        TARGET.setdefault(spec.target_type, _target_class(spec))
    _registered = True


def _target_class(spec: BoardSpec):
    from pyocd.core.memory_map import FlashRegion, MemoryMap, RamRegion
    from pyocd.coresight.coresight_target import CoreSightTarget
    from pyocd.flash.flash import Flash

    class QemuFlash(Flash):
        """Programs QEMU's code memory with plain debugger writes (no algorithm in RAM).

        A sector erase is deferred: a page programmed whole over it makes writing the erased
        value first pointless; whatever of an erased sector is not programmed by ``uninit`` is
        filled with it then. The end state is the one erase + program leaves.
        """

        def __init__(self, target) -> None:
            super().__init__(target, None)
            self.is_valid = True
            self._erased: dict[int, int] = {}  # pending erased sector base → size

        def init(self, operation, address=None, clock=0, reset=False) -> None:
            self._active_operation = operation

        def uninit(self) -> None:
            self._flush_erases()
            self._active_operation = None

        def cleanup(self) -> None:
            self._flush_erases()
            self._active_operation = None

        def _flush_erases(self) -> None:
            for base, size in sorted(self._erased.items()):
                self.target.write_memory_block8(base, bytes([ERASED]) * size)
            self._erased.clear()

        @property
        def is_erase_all_supported(self) -> bool:
            return True

        def erase_all(self) -> None:
            self._erased.clear()
            r = self.region
            self.target.write_memory_block8(r.start, bytes([ERASED]) * r.length)

        def erase_sector(self, address: int) -> None:
            info = self.get_sector_info(address)
            self._erased[info.base_addr] = info.size

        def program_page(self, address: int, bytes) -> None:  # noqa: A002 (pyOCD's name)
            info = self.get_sector_info(address)
            size = self._erased.pop(info.base_addr, None)
            if size is not None and not (address == info.base_addr and len(bytes) >= size):
                fill = ERASED.to_bytes(1, "little") * size
                self.target.write_memory_block8(info.base_addr, fill)
            self.target.write_memory_block8(address, bytes)

        def program_phrase(self, address: int, bytes) -> None:  # noqa: A002
            self.program_page(address, bytes)

    fstart, fsize, _ = spec.flash
    rstart, rsize, _ = spec.ram
    memory_map = MemoryMap(
        FlashRegion(start=fstart, length=fsize, blocksize=spec.sector, page_size=spec.page,
                    is_boot_memory=True, erased_byte_value=ERASED, flash_class=QemuFlash,
                    name="flash"),
        RamRegion(start=rstart, length=rsize, name="sram"))

    return type(f"Qemu_{spec.target_type}", (CoreSightTarget,), {
        "VENDOR": "QEMU",
        "MEMORY_MAP": memory_map,
        "__init__": lambda self, session: CoreSightTarget.__init__(self, session,
                                                                     memory_map.clone()),
    })
