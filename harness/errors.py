"""Exception types.

Two families, because they mean different things in a report:

* :class:`DutFailure` (an ``AssertionError``): the chip did something wrong — it did not answer,
  answered the wrong thing, faulted. The test *fails*.
* :class:`HarnessError`: the harness or a tool broke — bad configuration, missing program, lost
  emulator process, protocol violation. The test is reported as an *error*.
"""

from __future__ import annotations


class HarnessError(Exception):
    """A fault of the harness, its configuration or a tool it drives (not of the chip)."""


class ConfigError(HarnessError):
    """A target or bench file is malformed; the message names the file and the field."""


class UnknownTarget(ConfigError):
    pass


class ToolMissing(HarnessError):
    """A program the harness needs is not installed; the message names the apt package."""

    def __init__(self, program: str, package: str, purpose: str = "") -> None:
        self.program = program
        self.package = package
        what = f" ({purpose})" if purpose else ""
        super().__init__(
            f"'{program}' not found on PATH{what}; install it with: "
            f"sudo apt-get install -y --no-install-recommends {package}"
        )


class FirmwareError(HarnessError):
    """An ELF is missing, corrupt, or does not match the running chip."""


class DutLost(HarnessError):
    """The process standing for the chip died or stopped answering."""


class ProtocolError(HarnessError):
    """A peer broke a wire protocol (GDB remote, QMP)."""


class DutFailure(AssertionError):
    """The chip misbehaved: the test fails."""


class ConsoleTimeout(DutFailure):
    """An expected console output did not arrive in time."""


class DutFault(DutFailure):
    """The firmware reported a fault (HardFault report on the console)."""


class CommandError(DutFailure):
    """The shell answered ``ERR <code> <text>``."""

    def __init__(self, command: str, code: int, text: str) -> None:
        self.command = command
        self.code = code
        self.text = text
        super().__init__(f"command {command!r} failed: ERR {code} {text}")
