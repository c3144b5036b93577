"""One QEMU process: command line, unix sockets it connects to, and an owner that stops it.

The harness listens on a unix socket for every channel (each console, the gdbstub, QMP) and
QEMU connects to them as a client at start-up. So the first console byte cannot be missed, no
TCP port is ever taken (pytest-xdist workers cannot collide), and nothing is polled for.

Run dirs (``$HARNESS_RUNDIR`` or /tmp, ``qsm-*``) record their owner: the file ``owner`` holds
the pid and start time of the process that made the dir, ``qemu.pid`` those of its QEMU.
A run that is killed cannot remove its dir, so the next one does: :func:`make_rundir` first
sweeps the dirs whose owner is gone (:func:`sweep_stale_rundirs`), stopping a QEMU still
running there. A dir without an owner file (made before owners were recorded) is swept once it
is older than :data:`LEGACY_AGE` seconds and no process names it on its command line.

QEMU's own output (``qemu.log``) says why it died — ``qemu: fatal: Lockup: ...`` and the
like — so it is never thrown away with the run dir: when QEMU died on its own (a crash or fatal
error: SIGABRT, SIGSEGV, a non-zero exit; not a SIGKILL/SIGTERM someone sent, see
:func:`died_on_its_own`) and said something, :meth:`QemuProcess.close` keeps the log (in
``log_dir`` when the owner has one, else beside the run dir as ``<run dir>.qemu.log``) and
:attr:`QemuProcess.kept_log` names it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import patience, reaper
from ..config import Target
from ..errors import DutLost, HarnessError, ToolMissing

if TYPE_CHECKING:
    from ..firmware import FirmwareImage
    from .qmp import QmpClient

QEMU = "qemu-system-arm"
QEMU_PACKAGE = "qemu-system-arm"


def rundir_base() -> str:
    """Where per-QEMU socket dirs go: ``$HARNESS_RUNDIR`` or /tmp (unix socket paths must stay
    under 108 bytes, so not pytest's deep tmp dirs)."""
    return os.environ.get("HARNESS_RUNDIR", "/tmp")


LEGACY_AGE = 600.0
_RUNDIR_RE = re.compile(r"^qsm-(?:probe-)?[A-Za-z0-9_]{8}$")
OWNER_FILE, QEMU_PID_FILE = "owner", "qemu.pid"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), None when it is gone (or a
    zombie, dead but not yet reaped): with the pid it names one process, even after the pid is
    reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def _identity(pid: int) -> str:
    return f"{pid} {_start_time(pid) or '?'}\n"


def _alive(identity: str) -> bool:
    try:
        pid_text, start = identity.split()
        pid = int(pid_text)
    except ValueError:
        return False
    now = _start_time(pid)
    return now is not None and (start == "?" or now == start)


def make_rundir(prefix: str = "qsm-") -> Path:
    """A fresh run dir under :func:`rundir_base`, owned by this process (stale ones swept)."""
    sweep_stale_rundirs()
    rundir = Path(tempfile.mkdtemp(prefix=prefix, dir=rundir_base()))
    # Written whole (rename): another process's sweep must never read a half-written owner.
    partial = rundir / f".{OWNER_FILE}.partial"
    partial.write_text(_identity(os.getpid()))
    os.replace(partial, rundir / OWNER_FILE)
    return rundir


def note_qemu(rundir: Path, pid: int) -> None:
    """Record the QEMU running for ``rundir`` (the sweep stops it if the owner died)."""
    with contextlib.suppress(OSError):
        (rundir / QEMU_PID_FILE).write_text(_identity(pid))


def qemu_gone(rundir: Path, settle: float = 0.5) -> str | None:
    """"QEMU pid N is no longer running" when the QEMU noted for ``rundir`` ended (seen from
    any process, its parent or not); None while it runs or when none was noted.

    A dying process closes its sockets before the kernel marks it dead: a caller that just saw
    the connection drop gives it up to ``settle`` seconds (scaled by the load) to finish."""
    try:
        noted = (rundir / QEMU_PID_FILE).read_text()
    except OSError:
        return None
    deadline = time.monotonic() + patience.scaled(settle)
    while _alive(noted):
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)
    return f"QEMU pid {noted.split()[0]} is no longer running (killed or crashed)"


def _mentioned_on_a_command_line(path: Path) -> bool:
    needle = str(path).encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if needle in (proc / "cmdline").read_bytes():
                    return True
    return False


def sweep_stale_rundirs() -> list[Path]:
    """Remove this user's run dirs whose owner process is gone (after stopping a QEMU still
    running in one); returns what was removed. Dirs of live owners are never touched."""
    removed: list[Path] = []
    try:
        candidates = [d for d in Path(rundir_base()).iterdir() if _RUNDIR_RE.match(d.name)]
    except OSError:
        return removed
    for d in candidates:
        try:
            st = d.stat()
            if not d.is_dir() or st.st_uid != os.getuid():
                continue
            owner = (d / OWNER_FILE).read_text() if (d / OWNER_FILE).exists() else None
        except OSError:
            continue
        if owner:
            if _alive(owner):
                continue
        elif time.time() - st.st_mtime < LEGACY_AGE or _mentioned_on_a_command_line(d):
            continue
        with contextlib.suppress(OSError, ValueError):
            qemu = (d / QEMU_PID_FILE).read_text()
            if _alive(qemu):
                os.kill(int(qemu.split()[0]), signal.SIGKILL)
        shutil.rmtree(d, ignore_errors=True)
        if not d.exists():
            removed.append(d)
    return removed


_STOPPED_ON_PURPOSE = (0, -signal.SIGKILL, -signal.SIGTERM, -signal.SIGINT)


def died_on_its_own(returncode: int | None) -> bool:
    """Whether an exit status tells of a crash or a fatal error (SIGABRT from ``qemu: fatal``,
    SIGSEGV, a non-zero exit), not of a stop someone asked for (0, SIGKILL, SIGTERM, SIGINT)."""
    return returncode is not None and returncode not in _STOPPED_ON_PURPOSE


def keep_log(rundir: Path, log_dir: Path | None, stem: str) -> Path | None:
    """Save ``rundir``/qemu.log before the run dir goes: into ``log_dir`` as
    ``<stem>.qemu.log`` when given, else beside the run dir as ``<run dir>.qemu.log`` (numbered
    when taken). None when the log is empty or missing (nothing to keep)."""
    src = rundir / "qemu.log"
    try:
        if src.stat().st_size == 0:
            return None
    except OSError:
        return None
    places = [(rundir.parent, rundir.name)]
    if log_dir is not None:
        places.insert(0, (log_dir, stem))
    for where, name in places:
        try:
            where.mkdir(parents=True, exist_ok=True)
            dest, n = where / f"{name}.qemu.log", 1
            while dest.exists():
                n += 1
                dest = where / f"{name}.{n}.qemu.log"
            shutil.copyfile(src, dest)
            return dest
        except OSError:
            continue  # an unwritable log dir: keep it beside the run dir instead
    return None


def qemu_binary() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise ToolMissing(QEMU, QEMU_PACKAGE, "the qemu world")
    return path


@functools.cache
def qemu_version(binary: str | None = None) -> tuple[int, int]:
    """``(major, minor)`` of the installed QEMU (``qemu-system-arm --version``)."""
    binary = binary or qemu_binary()
    out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                         timeout=patience.scaled(10.0)).stdout
    found = re.search(r"version (\d+)\.(\d+)", out)
    if found is None:
        raise HarnessError(f"{binary} --version printed no version: {out.strip()[:200]!r}")
    return int(found.group(1)), int(found.group(2))


@dataclass
class QemuProcess:
    """A started QEMU and its connected channels. Close it exactly once (idempotent)."""

    name: str
    proc: subprocess.Popen[bytes]
    rundir: Path
    consoles: dict[str, socket.socket]
    gdb: socket.socket
    qmp: socket.socket
    argv: list[str] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)  # raw UARTs: name → socket:// URL
    log_dir: Path | None = None  # where QEMU's log is kept if QEMU dies on its own
    kept_log: Path | None = None  # QEMU's log, kept once it died on its own
    killed: bool = False  # ended on purpose (kill()): its log is not a crash report

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_tail(self, n: int = 10) -> str:
        try:
            lines = (self.rundir / "qemu.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def diagnosis(self) -> str:
        code = self.proc.poll()
        if code is None:
            return f"{QEMU} pid {self.pid} is running"
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        tail = self.stderr_tail()
        text = f"{QEMU} pid {self.pid} died ({how})" + (f"; its stderr:\n{tail}" if tail else "")
        self._keep_crash_log()
        if self.kept_log is not None:
            text += f"\n(QEMU's log kept at {self.kept_log})"
        return text

    def _keep_crash_log(self) -> None:
        """Keep the log of a QEMU that ended on its own (once): the first report of its death
        already names the kept file."""
        if died_on_its_own(self.proc.poll()) and not self.killed and self.kept_log is None:
            self.kept_log = keep_log(self.rundir, self.log_dir, self.name.replace("/", "_"))

    def kill(self) -> int:
        """SIGKILL QEMU and reap it, as a crash would end it (for tests that lose a chip on
        purpose); its sockets stay open until :meth:`close`. Returns the exit status."""
        self.killed = True
        self.proc.kill()
        return self.proc.wait(patience.limit("process_exit"))

    def close(self, qmp_quit: Callable[[], object] | None = None) -> int | None:
        """Stop QEMU (QMP quit → SIGTERM → SIGKILL), close sockets, remove the run dir. A QEMU
        that had ended on its own leaves its log behind (:attr:`kept_log`)."""
        self._keep_crash_log()
        if qmp_quit is not None and self.alive:
            with contextlib.suppress(Exception):
                qmp_quit()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(patience.limit(1.0))
        code = reaper.stop(self.proc)
        for s in (*self.consoles.values(), self.gdb, self.qmp):
            with contextlib.suppress(OSError):
                s.close()
        shutil.rmtree(self.rundir, ignore_errors=True)
        return code


def image_args(image: Path | FirmwareImage) -> list[str]:
    """How QEMU loads an image: an ELF as the kernel (it also sets up the M-profile reset),
    Intel HEX and raw binaries through the generic loader (ROM blobs, restored on reset)."""
    from ..firmware import FirmwareImage

    if not isinstance(image, FirmwareImage) or image.format == "elf":
        path = image.path if isinstance(image, FirmwareImage) else image
        return ["-kernel", str(path)]
    if image.format == "hex":
        return ["-device", f"loader,file={image.path}"]
    return ["-device", f"loader,file={image.path},addr={image.load_address:#x},force-raw=on"]


def command_line(target: Target, rundir: Path,
                 kernel: Path | FirmwareImage | None) -> list[str]:
    q = target.qemu
    assert q is not None
    argv = [qemu_binary(), "-M", q.machine, "-nodefaults", "-nic", "none", "-display", "none",
            "-S"]
    if q.cpu:
        argv += ["-cpu", q.cpu]
    uarts = {spec.uart: spec for spec in target.consoles.values()}
    for index in range(max(uarts) + 1):
        spec = uarts.get(index)
        if spec is None:
            argv += ["-serial", "null"]
        elif spec.kind == "raw":
            # QEMU listens (ephemeral port, Nagle off) for a client such as python-can's slcan
            argv += ["-chardev", f"socket,id=con{index},host=127.0.0.1,port=0,server=on,"
                     "wait=off,nodelay=on", "-serial", f"chardev:con{index}"]
        else:
            argv += ["-chardev", f"socket,id=con{index},path={rundir}/con{index}.sock",
                     "-serial", f"chardev:con{index}"]
    argv += ["-chardev", f"socket,id=gdb,path={rundir}/gdb.sock", "-gdb", "chardev:gdb",
             "-chardev", f"socket,id=qmp,path={rundir}/qmp.sock",
             "-mon", "chardev=qmp,mode=control"]
    if kernel is not None:
        argv += image_args(kernel)
    return argv + list(q.extra_args)


def start(target: Target, kernel: Path | FirmwareImage | None, name: str,
          timeout: float | None = None, log_dir: Path | None = None) -> QemuProcess:
    """Launch QEMU halted (``-S``) with every channel connected to us. ``log_dir``: where
    QEMU's log is kept should it die on its own (default: beside the run dir). ``timeout``:
    seconds for QEMU to connect its sockets (default: the base start wait times the run's
    factor), scaled by the machine's load when the start begins."""
    if target.qemu is None:
        raise HarnessError(f"target {target.name!r} has no 'qemu' section: it cannot run in the "
                           f"qemu world")
    rundir = make_rundir()
    listeners: dict[str, socket.socket] = {}
    proc: subprocess.Popen[bytes] | None = None
    try:
        uarts = {spec.uart: cname for cname, spec in target.consoles.items()
                 if spec.kind == "shell"}
        channels = [f"con{i}" for i in uarts] + ["gdb", "qmp"]
        for ch in channels:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(str(rundir / f"{ch}.sock"))
            s.listen(1)
            listeners[ch] = s
        argv = command_line(target, rundir, kernel)
        with open(rundir / "qemu.log", "wb") as log:
            proc = subprocess.Popen(reaper.dying_with_parent(argv), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, close_fds=True)
        reaper.register(proc)
        note_qemu(rundir, proc.pid)
        limit = patience.limit("process_start") if timeout is None else patience.scaled(timeout)
        conns = _accept_all(listeners, proc, rundir, limit)
        consoles = {uarts[int(ch[3:])]: conns[ch] for ch in channels if ch.startswith("con")}
        return QemuProcess(name, proc, rundir, consoles, conns["gdb"], conns["qmp"], argv,
                           log_dir=log_dir)
    except BaseException:
        if proc is not None:
            # a start-up failure's error carries QEMU's words already: a file only where the
            # owner keeps its logs
            if died_on_its_own(proc.poll()) and log_dir is not None:
                keep_log(rundir, log_dir, name.replace("/", "_"))
            reaper.stop(proc, grace=0.2)
        shutil.rmtree(rundir, ignore_errors=True)
        raise
    finally:
        for s in listeners.values():
            s.close()


def process_state(pid: int) -> str:
    """Where a stuck start sits: ``QEMU pid N: S (sleeping), 0.42 s of CPU, 3 threads (S S R),
    waiting in <kernel function>, syscall 7``."""
    proc = Path(f"/proc/{pid}")
    try:
        state = next(line.split(":", 1)[1].strip() for line in
                     (proc / "status").read_text().splitlines() if line.startswith("State:"))
        fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, StopIteration, IndexError):
        return f"QEMU pid {pid}: state unknown"
    ticks = os.sysconf("SC_CLK_TCK") or 100
    text = f"QEMU pid {pid}: {state}, {(int(fields[11]) + int(fields[12])) / ticks:.2f} s of CPU"
    with contextlib.suppress(OSError, IndexError):
        threads = [(t / "stat").read_text().rsplit(")", 1)[1].split()[0]
                   for t in (proc / "task").iterdir()]
        text += f", {len(threads)} thread(s) ({' '.join(threads)})"
    with contextlib.suppress(OSError):
        wchan = (proc / "wchan").read_text().strip()
        if wchan not in ("", "0"):
            text += f", waiting in {wchan}"
    with contextlib.suppress(OSError, IndexError):
        text += f", syscall {(proc / 'syscall').read_text().split()[0]}"
    return text


def _accept_all(listeners: dict[str, socket.socket], proc: subprocess.Popen[bytes],
                rundir: Path, timeout: float) -> dict[str, socket.socket]:
    conns: dict[str, socket.socket] = {}
    deadline = time.monotonic() + timeout
    pending = dict(listeners)
    try:
        while pending:
            by_fd = {lst.fileno(): ch for ch, lst in pending.items()}
            ready, _, _ = select.select(list(by_fd), [], [], 0.05)
            for fd in ready:
                ch = by_fd[fd]
                conn, _ = pending.pop(ch).accept()
                conn.settimeout(None)
                conns[ch] = conn
            if pending and proc.poll() is not None:
                log = (rundir / "qemu.log").read_text(errors="replace").strip()
                raise DutLost(f"{QEMU} exited with code {proc.returncode} at start-up:\n{log}")
            if pending and time.monotonic() > deadline:
                raise DutLost(f"{QEMU} pid {proc.pid} did not connect {sorted(pending)} "
                              f"within {timeout:.1f} s; {process_state(proc.pid)}")
    except BaseException:
        for c in conns.values():
            c.close()
        raise
    return conns


def raw_channels(target: Target, qmp: QmpClient, name: str) -> dict[str, str]:
    """``raw`` UARTs: QEMU listens on an ephemeral loopback port each; ask QMP which.

    Returns console name → pyserial URL (``socket://127.0.0.1:PORT``).
    """
    raw = {f"con{spec.uart}": cname for cname, spec in target.consoles.items()
           if spec.kind == "raw"}
    if not raw:
        return {}
    out = {}
    devices = qmp.execute("query-chardev")
    assert isinstance(devices, list)
    for dev in devices:
        cname = raw.get(dev["label"])
        if cname is not None:
            # "disconnected:tcp:127.0.0.1:PORT,server=on"
            port = dev["filename"].split("tcp:", 1)[1].split(",")[0].rsplit(":", 1)[1]
            out[cname] = f"socket://127.0.0.1:{int(port)}"
    missing = set(raw.values()) - set(out)
    if missing:
        raise DutLost(f"{name}: QEMU did not report the port of {sorted(missing)}")
    return out


def socket_files_left() -> list[str]:
    """Run dirs of ours still on disk (for leak checks)."""
    return sorted(str(p) for p in Path(rundir_base()).glob("qsm-*") if p.is_dir()
                  and p.stat().st_uid == os.getuid())
