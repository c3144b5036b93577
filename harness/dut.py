"""The device under test: what a test touches, composed of the protocols a world provides."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .config import Target
from .console import Console, shown
from .errors import DutLost, FirmwareError, HarnessError
from .firmware import VERSION_SIZE, FirmwareImage, VersionInfo
from .protocols import CAPABILITIES, Clock, Execution, Loader, Memory, segment_differences
from .symbols import SymbolView

if TYPE_CHECKING:
    from .regs import Registers


class Backend(Protocol):
    """What a world keeps alive behind a Dut (a process, a probe session, a simulator)."""

    world: str

    @property
    def alive(self) -> bool: ...

    def diagnosis(self) -> str: ...

    def power_on(self) -> None: ...

    def close(self) -> int | None: ...

    # A backend offers what it can as attributes: memory, execution, loader (protocols),
    # consoles (name → Console) and channels (name → pyserial URL); see Dut.from_backend.


class Dut:
    def __init__(self, *, target: Target, image: FirmwareImage, world: str, backend: Backend,
                 memory: Memory | None = None, execution: Execution | None = None,
                 loader: Loader | None = None, consoles: dict[str, Console] | None = None,
                 channels: dict[str, str] | None = None, clock: Clock | None = None,
                 timeout_factor: float = 1.0,
                 name: str | None = None,
                 release: Callable[[Any], None] | None = None) -> None:
        self.target = target
        self.image = image
        self.world = world
        self.backend = backend
        self._memory = memory
        self._execution = execution
        self._loader = loader
        self.consoles = consoles or {}
        # raw byte channels (e.g. SLCAN): name → pyserial URL ("socket://127.0.0.1:PORT")
        self.channels = channels or {}
        self._clock = clock
        chip_now = _chip_now(clock, execution) if clock and execution else None
        for con in self.consoles.values():
            con.chip_now = chip_now  # console timeouts in chip time, where it has a clock
        self.timeout_factor = timeout_factor
        self.name = name or target.name
        self.step = "created"
        self.running_version: VersionInfo | None = None
        self._regs: Registers | None = None
        self._release = release  # a pool's: takes the backend back instead of closing it
        self._closed = False

    @classmethod
    def from_backend(cls, backend: Backend, *, target: Target, image: FirmwareImage,
                     timeout_factor: float = 1.0, name: str | None = None, boot: bool = True,
                     version: VersionInfo | None = None,
                     release: Callable[[Any], None] | None = None) -> Dut:
        """The one way a world turns what it opened into a Dut: the protocols the backend
        offers (``memory``, ``execution``, ``loader``, ``consoles``, ``channels``; absent ones
        are capabilities this Dut lacks), booted unless ``boot`` is false. ``release``: a
        pool's hand-back, called instead of ``backend.close()`` when the Dut closes. On a failed
        boot the Dut is closed (a pool's backend goes back to its pool, which checks it)."""
        consoles = getattr(backend, "consoles", None) or {}
        for cname, con in consoles.items():
            spec = target.consoles.get(cname)
            if spec is not None:
                con.configure(newline=spec.newline, echo=spec.echo, encoding=spec.encoding,
                              prompt=spec.prompt)
        dut = cls(target=target, image=image, world=backend.world, backend=backend,
                  memory=getattr(backend, "memory", None),
                  execution=getattr(backend, "execution", None),
                  loader=getattr(backend, "loader", None),
                  consoles=getattr(backend, "consoles", None),
                  channels=getattr(backend, "channels", None),
                  clock=getattr(backend, "clock", None),
                  timeout_factor=timeout_factor, name=name, release=release)
        if boot:
            try:
                dut.boot(version)
            except BaseException:
                dut.close()
                raise
        return dut

    def __repr__(self) -> str:
        return f"<Dut {self.name} world={self.world} fw={self.image.path.name}>"

    # -- capabilities ------------------------------------------------------------------------
    @property
    def capabilities(self) -> frozenset[str]:
        caps = set()
        if self._memory is not None:
            caps.add("memory")
            if self.image.has_symbols:
                caps.add("symbols")
        if self._execution is not None:
            caps |= {"execution", "registers", "breakpoints"}
        if self._loader is not None:
            caps.add("loader")
        if self.consoles:
            caps.add("console")
        if self.channels:
            caps.add("channels")
        if self._clock is not None:
            caps.add("clock")
        assert caps <= set(CAPABILITIES)
        return frozenset(caps)

    def has(self, capability: str) -> bool:
        return capability in self.capabilities

    def _missing(self, capability: str) -> HarnessError:
        return HarnessError(f"{self.name} in the {self.world} world has no {capability!r} "
                            f"({CAPABILITIES[capability]}); mark the test "
                            f"@pytest.mark.requires({capability!r})")

    def _need(self, capability: str) -> None:
        if capability not in self.capabilities:
            raise self._missing(capability)

    # Each protocol raises, naming the capability, where the world does not offer it.
    @property
    def memory(self) -> Memory:
        if self._memory is None:
            raise self._missing("memory")
        return self._memory

    @property
    def clock(self) -> Clock:
        """Chip time (``requires("clock")``): ``now()`` in ns since power-on, ``sleep(ms)``,
        ``run_for(ms)``."""
        if self._clock is None:
            raise self._missing("clock")
        return self._clock

    @property
    def execution(self) -> Execution:
        if self._execution is None:
            raise self._missing("execution")
        return self._execution

    @property
    def loader(self) -> Loader:
        if self._loader is None:
            raise self._missing("loader")
        return self._loader

    @property
    def console(self) -> Console:
        self._need("console")
        return self.consoles[self.target.console_name]

    @property
    def symbols(self) -> SymbolView:
        return SymbolView(self.image, self.memory)

    @property
    def regs(self):
        """The chip's peripheral registers by name, from the target's SVD file
        (``dut.regs.TIMER0.CTRL.EN = 1``), read and written through this DUT's memory."""
        memory = self.memory
        if self.target.svd is None:
            raise HarnessError(f"{self.target.source}: no 'svd' field; {self.target.name} has "
                               "no register map for dut.regs")
        if self._regs is None:
            from .regs import Registers  # cmsis-svd loads only when registers are asked for

            self._regs = Registers.from_svd(self.target.svd, memory)
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
        execution = self.execution
        self.step = "reset"
        mark = self.console.mark() if self.consoles else 0
        execution.reset()
        self._wait_ready(mark)
        self.step = "ready"

    def _wait_ready(self, mark: int) -> None:
        if not self.consoles:
            return
        spec = self.target.consoles[self.target.console_name]
        self.console.expect(spec.ready, timeout=5.0, since=mark, partial=True)  # or a prompt

    def read_version(self) -> VersionInfo:
        """The version block as the running chip has it (memory), else the shell's answer."""
        if self.image.version_symbol is None:
            raise FirmwareError(f"{self.target.source}: no firmware.version_symbol; the image "
                                f"{self.image.path.name} has no version block to read")
        if self._memory is not None:
            sym = self.image.symbol(self.image.version_symbol)
            raw = self.memory.read(sym.address, VERSION_SIZE)
            return VersionInfo.unpack(raw, f"{self.name}: version block in the chip")
        fields = dict(kv.split("=", 1) for kv in self.command("version").split())
        return VersionInfo(fields["product"], fields["version"], fields["git"], fields["build"])

    def check_version(self, running: VersionInfo | None = None) -> VersionInfo | None:
        """Is the chip running this image? By its version block when the target names one;
        otherwise by reading the image's flash segments back from the chip (a chip running
        something else is refused either way). Returns the running version, if any."""
        expected = self.image.version
        if expected is None:
            self.step = "identity check (flash read-back)"
            self._check_readback()
            return None
        self.step = "version check"
        running = running or self.read_version()
        if running != expected:
            raise FirmwareError(f"{self.name}: the chip runs {running}, but the ELF "
                                f"{self.image.path} is {expected}")
        self.running_version = running
        return running

    @property
    def identity(self) -> str:
        """What the chip was proven to run: its version block when the image has one, else
        the image's sha256 (checked by reading the image back from the chip)."""
        if self.running_version is not None:
            return str(self.running_version)
        return self.image.identity

    def _check_readback(self) -> None:
        if self._memory is None:
            return  # nothing to read back with: the world loaded the image itself
        nonvolatile = [r for r in self.target.memory if r.kind in ("flash", "rom")]
        segments = [s for s in self.image.segments
                    if any(r.contains(s.address, len(s.data)) for r in nonvolatile)]
        if nonvolatile and not segments:
            return  # a RAM-resident image: what it changes while running is its own business
        problems = segment_differences(self._memory, segments)
        if problems:
            raise FirmwareError(f"{self.name}: the chip does not hold the image "
                                f"{self.image.path} (sha256 {self.image.sha256[:16]}): "
                                + "; ".join(problems[:3]))

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
            out.append(shown(tail))
        return "\n".join(out)

    def ensure_alive(self) -> None:
        if not self.alive:
            raise DutLost(self.diagnosis())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            if self._release is not None:
                self._release(self.backend)
            else:
                self.backend.close()

    def __enter__(self) -> Dut:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _chip_now(clock: Clock, execution: Execution) -> Callable[[], int | None]:
    """The chip's time for console waits: None while it is halted (its clock stands still)."""
    def now() -> int | None:
        return None if execution.is_halted else clock.now()
    return now

