"""The device under test: what a test touches, composed of the protocols a world provides."""

from __future__ import annotations

import contextlib
from typing import Protocol

from .config import Target
from .console import Console
from .errors import DutLost, FirmwareError, HarnessError
from .firmware import VERSION_SIZE, FirmwareImage, VersionInfo
from .protocols import CAPABILITIES, Execution, Loader, Memory
from .symbols import SymbolView


class Backend(Protocol):
    """What a world keeps alive behind a Dut (a process, a probe session, a simulator)."""

    world: str

    @property
    def alive(self) -> bool: ...

    def diagnosis(self) -> str: ...

    def power_on(self) -> None: ...

    def close(self) -> int | None: ...


class Dut:
    def __init__(self, *, target: Target, image: FirmwareImage, world: str, backend: Backend,
                 memory: Memory | None = None, execution: Execution | None = None,
                 loader: Loader | None = None, consoles: dict[str, Console] | None = None,
                 channels: dict[str, str] | None = None, timeout_factor: float = 1.0,
                 name: str | None = None) -> None:
        self.target = target
        self.image = image
        self.world = world
        self.backend = backend
        self.memory = memory
        self.execution = execution
        self.loader = loader
        self.consoles = consoles or {}
        # raw byte channels (e.g. SLCAN): name → pyserial URL ("socket://127.0.0.1:PORT")
        self.channels = channels or {}
        self.timeout_factor = timeout_factor
        self.name = name or target.name
        self.step = "created"
        self.running_version: VersionInfo | None = None
        self._regs = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<Dut {self.name} world={self.world} fw={self.image.path.name}>"

    # -- capabilities ------------------------------------------------------------------------
    @property
    def capabilities(self) -> frozenset[str]:
        caps = set()
        if self.memory is not None:
            caps |= {"memory", "symbols"}
        if self.execution is not None:
            caps |= {"execution", "registers", "breakpoints"}
        if self.loader is not None:
            caps.add("loader")
        if self.consoles:
            caps.add("console")
        if self.channels:
            caps.add("channels")
        assert caps <= set(CAPABILITIES)
        return frozenset(caps)

    def _need(self, capability: str):
        if capability not in self.capabilities:
            raise HarnessError(f"{self.name} in the {self.world} world has no {capability!r} "
                               f"({CAPABILITIES[capability]}); mark the test "
                               f"@pytest.mark.requires({capability!r})")

    @property
    def console(self) -> Console:
        self._need("console")
        return self.consoles[self.target.console_name]

    @property
    def symbols(self) -> SymbolView:
        self._need("memory")
        return SymbolView(self.image, self.memory)  # type: ignore[arg-type]

    @property
    def regs(self):
        """The chip's peripheral registers by name, from the target's SVD file
        (``dut.regs.TIMER0.CTRL.EN = 1``), read and written through this DUT's memory."""
        self._need("memory")
        if self.target.svd is None:
            raise HarnessError(f"{self.target.source}: no 'svd' field; {self.target.name} has "
                               "no register map for dut.regs")
        if self._regs is None:
            from .regs import Registers  # cmsis-svd loads only when registers are asked for

            self._regs = Registers.from_svd(self.target.svd, self.memory)  # type: ignore[arg-type]
        return self._regs

    # -- what tests do -----------------------------------------------------------------------
    def command(self, cmd: str, timeout: float = 2.0) -> str:
        """A shell command on the default console; returns the ``OK`` payload."""
        self.step = f"command {cmd!r}"
        return self.console.command(cmd, timeout)

    def boot(self, version_read: VersionInfo | None = None) -> None:
        """Power on and wait until the shell is ready; check the version the chip holds.

        ``version_read``: the version block already read back from this chip's memory (a
        reused chip's flash check reads it while halted), instead of reading it again.
        """
        self.step = "boot"
        mark = self.console.mark() if self.consoles else 0
        self.backend.power_on()
        self._wait_ready(mark)
        self.check_version(version_read)
        self.step = "ready"

    def reset(self) -> None:
        """Reset the chip and wait until it is ready again."""
        self._need("execution")
        self.step = "reset"
        mark = self.console.mark() if self.consoles else 0
        self.execution.reset()  # type: ignore[union-attr]
        self._wait_ready(mark)
        self.step = "ready"

    def _wait_ready(self, mark: int) -> None:
        if not self.consoles:
            return
        spec = self.target.consoles[self.target.console_name]
        self.console.expect(spec.ready, timeout=5.0, since=mark)

    def read_version(self) -> VersionInfo:
        """The version block as the running chip has it (memory), else the shell's answer."""
        if self.memory is not None:
            sym = self.image.symbol(self.image.version_symbol)
            raw = self.memory.read(sym.address, VERSION_SIZE)
            return VersionInfo.unpack(raw, f"{self.name}: version block in the chip")
        fields = dict(kv.split("=", 1) for kv in self.command("version").split())
        return VersionInfo(fields["product"], fields["version"], fields["git"], fields["build"])

    def check_version(self, running: VersionInfo | None = None) -> VersionInfo:
        self.step = "version check"
        running = running or self.read_version()
        expected = self.image.version
        if running != expected:
            raise FirmwareError(f"{self.name}: the chip runs {running}, but the ELF "
                                f"{self.image.path} is {expected}")
        self.running_version = running
        return running

    # -- health and lifetime -----------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return not self._closed and self.backend.alive

    def diagnosis(self, lines: int = 20) -> str:
        """What a report shows when something went wrong: process state, step, console tail."""
        out = [f"DUT {self.name} ({self.world} world), last step: {self.step}",
               self.backend.diagnosis()]
        for name, con in self.consoles.items():
            tail = con.last_lines(lines)
            out.append(f"last {len(tail)} lines of console {name!r}:")
            out += [f"  | {ln}" for ln in tail] or ["  | (nothing received)"]
        return "\n".join(out)

    def ensure_alive(self) -> None:
        if not self.alive:
            raise DutLost(self.diagnosis())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.backend.close()

    def __enter__(self) -> Dut:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
