"""``harness`` command line: inspect targets and firmware, build, boot a chip interactively."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import threading
import time
from pathlib import Path

from . import patience
from .errors import HarnessError


def _catalog(args):
    from .config import TargetCatalog

    return TargetCatalog(Path(args.targets_dir))


def cmd_targets(args) -> int:
    cat = _catalog(args)
    for name in cat.names():
        t = cat.get(name)
        machine = t.qemu.machine if t.qemu else "-"
        print(f"{t.name:16} {t.cpu:11} qemu:{machine:16} {t.description}")
    return 0


def cmd_check(args) -> int:
    """Validate target files: the schema, the image (path, format, segments inside the
    declared memory, version block), the QEMU machine, the consoles and the SVD."""
    cat = _catalog(args)
    bad = 0
    for name in args.names or cat.names():
        try:
            target = cat.get(name)
            notes = check_target(target, cat.root, getattr(args, "firmware", None))
            print(f"ok    {name}" + "".join(f"\n      {n}" for n in notes))
        except HarnessError as exc:
            bad += 1
            print(f"error {exc}", file=sys.stderr)
    return 1 if bad else 0


@functools.cache  # one `qemu-system-arm -M help` per command, not one per target
def _qemu_machines() -> frozenset[str]:
    import shutil
    import subprocess

    from .emu.process import QEMU

    exe = shutil.which(QEMU)
    if exe is None:
        return frozenset()
    out = subprocess.run([exe, "-M", "help"], capture_output=True, text=True).stdout
    return frozenset(line.split()[0] for line in out.splitlines()[1:] if line.strip())


def check_target(target, root: Path, firmware: str | None = None) -> list[str]:
    """What ``harness check`` verifies for one target; raises a HarnessError naming the file
    and the field, returns notes worth showing."""
    from .errors import ConfigError
    from .firmware import load_image, load_override

    notes = []
    src = target.source
    spec = target.firmware
    path = Path(firmware) if firmware else root / spec.path
    if not path.exists():
        if spec.build is None or firmware:
            raise ConfigError(f"{src}: firmware.image: {path} does not exist")
        notes.append(f"image {path} not built yet (harness build {target.name})")
    else:
        try:
            image = (load_override(path, spec) if firmware
                     else load_image(path, spec.version_symbol, spec.load_address))
            _ = image.version  # a named version block must be there
        except HarnessError as exc:
            raise ConfigError(f"{src}: firmware: {exc}") from None
        problems = target.image_problems([(seg.address, len(seg.data))
                                          for seg in image.segments])
        if problems:
            raise ConfigError(f"{src}: memory: the image {path.name}: " + "; ".join(problems))
        identity = image.identity if image.version is not None else "sha256 + read-back"
        notes.append(f"image {path.name}: {image.format.upper()}, {len(image.segments)} "
                     f"segment(s), {'symbols' if image.has_symbols else 'no symbols'}, "
                     f"identity {identity}")
    if target.qemu is not None:
        machines = _qemu_machines()
        if machines and target.qemu.machine not in machines:
            raise ConfigError(f"{src}: qemu.machine: {target.qemu.machine!r} is not a machine "
                              f"of the installed QEMU (qemu-system-arm -M help)")
    shells = [c for c, spec_ in target.consoles.items() if spec_.kind == "shell"]
    if not shells:
        notes.append("no shell console: tests drive the chip through memory only")
    else:
        con = target.consoles[target.console_name]
        notes.append(f"console {target.console_name!r}: uart {con.uart}, newline "
                     f"{con.newline!r}, echo {'on' if con.echo else 'off'}, ready {con.ready!r}"
                     + (f", prompt {con.prompt!r}" if con.prompt else ", answers OK/ERR"))
    if target.svd is not None:
        from .regs import load_svd

        load_svd(target.svd)
    return notes


def _image(args, target):
    from .firmware import built_image, load_override

    if getattr(args, "firmware", None):
        return load_override(Path(args.firmware), target.firmware)
    return built_image(target.firmware, _catalog(args).root)


def cmd_build(args) -> int:
    cat = _catalog(args)
    for name in args.names or cat.names():
        img = _image(args, cat.get(name))
        print(f"{name}: {img.path} {img.format} {img.identity}")
    return 0


def cmd_elf(args) -> int:
    from .firmware import load_image

    img = load_image(Path(args.elf), args.version_symbol, args.load_address)
    print(f"file     {img.path}\nformat   {img.format}\nsha256   {img.sha256}\n"
          f"entry    0x{img.entry:08x}\nsymbols  {len(img.symbols)}")
    for seg in img.segments:
        print(f"segment  0x{seg.address:08x} {len(seg.data):7} bytes")
    try:
        print(f"version  {img.version}")
    except HarnessError as exc:
        print(f"version  ({exc})")
    return 0


def parse_key(text: str) -> bytes:
    """``ctrl-]``, ``ctrl-d``, ``^X`` or one character: the byte a terminal sends for it."""
    t = text.strip().lower()
    for prefix in ("ctrl-", "ctrl+", "c-", "^"):
        if t.startswith(prefix) and len(t) == len(prefix) + 1:
            code = ord(t[-1].upper()) - 64
            if 0 <= code < 32:
                return bytes((code,))
    if len(text) == 1:
        return text.encode()
    raise HarnessError(f"--exit-key {text!r}: give one character or ctrl-<key> (e.g. ctrl-])")


def _type_keys(con, exit_key: bytes) -> None:
    """A serial terminal: keys go to the chip as typed (Enter as the console's newline), the
    chip's echo is what shows; ``exit_key`` ends the session."""
    import os
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        while True:
            data = os.read(fd, 64)
            if not data or exit_key in data:
                data = data.split(exit_key, 1)[0] if data else b""
                if data:
                    con.write(data)
                return
            data = data.replace(b"\r", con.newline.encode())
            con.write(data)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


# QEMU 7.2's Cortex-M machines (qemu-system-arm -M help) and what each runs.
CORTEX_M_MACHINES = {
    "lm3s6965evb": "cortex-m3", "lm3s811evb": "cortex-m3", "microbit": "cortex-m0",
    "netduino2": "cortex-m3", "netduinoplus2": "cortex-m4f", "stm32vldiscovery": "cortex-m3",
    "olimex-stm32-h405": "cortex-m4f", "mps2-an385": "cortex-m3", "mps2-an386": "cortex-m4",
    "mps2-an500": "cortex-m7", "mps2-an505": "cortex-m33", "mps2-an511": "cortex-m3",
    "mps2-an521": "cortex-m33", "mps3-an524": "cortex-m33", "mps3-an547": "cortex-m55",
    "musca-a": "cortex-m33", "musca-b1": "cortex-m33", "ast1030-evb": "cortex-m4",
}


def board_rows() -> list[tuple[str, str, str, str]]:
    """(machine, cpu, qemu world status, pyocd world status) for every Cortex-M machine."""
    from .config import board_profiles

    installed = _qemu_machines()
    profiles = board_profiles()
    rows = []
    for machine in sorted(set(CORTEX_M_MACHINES) | set(profiles)):
        profile = profiles.get(machine)
        cpu = profile.cpu if profile else CORTEX_M_MACHINES[machine]
        if installed and machine not in installed:
            status = ("not in the installed QEMU",) * 2
        elif profile is None:
            status = ("no board profile yet (memory map, UARTs and reset quirks undescribed; "
                      "none of our suites has run on it)", "no board profile yet")
        else:
            status = (profile.worlds.get("qemu", "not described"),
                      profile.worlds.get("pyocd", "not described"))
        rows.append((machine, cpu, *status))
    return rows


def cmd_boards(args) -> int:
    """Every emulated Cortex-M board and its status in the qemu and pyocd worlds."""
    rows = board_rows()
    print(f"{'board':18} {'cpu':11} {'qemu world':10} pyocd world (qemu: probe)")
    for machine, cpu, qemu, pyocd in rows:
        if qemu == pyocd == "ok":
            print(f"{machine:18} {cpu:11} {'ok':10} ok")
        else:
            print(f"{machine:18} {cpu:11} {'-':10} -\n{'':31}qemu: {qemu}\n{'':31}pyocd: {pyocd}")
    return 0


SMOKE_TEST = '''"""Smoke test of {name}, written by `harness init`: the chip boots its image and
answers. Run it with `pytest` (the qemu world, an emulated {board}); extend it with your own."""

import pytest


def test_boots_and_runs_this_image(dut):
    assert dut.alive
    # the image's version block, or its sha256 with the chip's flash read back against it
    print(f"{{dut.name}} runs {{dut.identity}}")
    assert dut.console.text.strip(), "the chip printed nothing on its console"


@pytest.mark.requires("execution")
def test_reset_brings_it_back(dut):
    dut.reset()  # waits for the console's ready pattern again
    assert dut.alive
'''


def cmd_init(args) -> int:
    """Write a target file, a smoke test and pytest settings for a user's own image."""
    import re

    import yaml

    from .config import board_profile, load_target
    from .firmware import load_image

    root = Path(args.dir).resolve()
    try:
        board = board_profile(args.board)
    except ValueError as exc:
        raise HarnessError(f"--board: {exc}") from None
    image_path = Path(args.image).resolve()
    image = load_image(image_path, args.version_symbol, args.load_address)  # refuses bad ones
    name = args.name or re.sub(r"[^a-z0-9]+", "-", image_path.stem.lower()).strip("-")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", name):
        raise HarnessError(f"--name {name!r}: lower-case letters, digits and '-' only")
    rel = os.path.relpath(image_path, root)
    console: dict[str, object] = {"uart": args.uart, "newline": args.newline}
    if args.echo:
        console["echo"] = True
    if args.prompt:
        console["prompt"] = args.prompt
    console["ready"] = args.ready or args.prompt or ".+"
    firmware: dict[str, object] = {"image": rel}
    if args.load_address is not None:
        firmware["load_address"] = args.load_address
    if args.version_symbol:
        firmware["version_symbol"] = args.version_symbol
    target = {"name": name, "description": f"{image_path.name} on {board.description}",
              "board": board.machine, "firmware": firmware, "consoles": {"shell": console},
              "bench": {"pyocd_target": "cortex_m"}}
    files = {
        root / "targets" / f"{name}.yaml":
            "# Written by `harness init`; every field: the harness README.\n"
            + yaml.safe_dump(target, sort_keys=False),
        root / "tests" / f"test_{name.replace('-', '_')}_smoke.py":
            SMOKE_TEST.format(name=name, board=board.machine),
    }
    existing = [p for p in files if p.exists()]
    if existing:
        raise HarnessError("not overwriting " + ", ".join(map(str, existing)))
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path.relative_to(root)}")
    load_target(root / "targets" / f"{name}.yaml")  # what was written loads
    config = [root / n for n in ("pytest.ini", "tox.ini", "pyproject.toml", "setup.cfg")]
    if not any(p.exists() for p in config):
        (root / "pytest.ini").write_text(
            f"[pytest]\ntestpaths = tests\nharness_targets = {name}\n")
        print("wrote pytest.ini")
    else:
        print(f"add to your pytest configuration: harness_targets = {name}")
    print(f"{image.format.upper()} image, {len(image.segments)} segment(s); now run: pytest")
    return 0


def cmd_probes(args) -> int:
    """pyOCD is the ``pyocd`` extra: imported only when probes are asked for."""
    from importlib.util import find_spec

    if find_spec("pyocd") is None:
        raise HarnessError("listing probes needs pyOCD: pip install 'qsm-harness[pyocd]'")
    from .probes import cli as probes_cli

    return probes_cli.cmd_probes(args)


def cmd_console(args) -> int:
    """Boot a chip in the qemu world and connect the terminal to its console."""
    from .backends.qemu import open_dut

    exit_key = parse_key(args.exit_key)
    target = _catalog(args).get(args.target)
    dut = open_dut(target, _image(args, target))
    con = dut.console
    interactive = sys.stdin.isatty()
    quits = args.exit_key if interactive else "end of input"
    print(f"# {dut.name}: {dut.identity} — {quits} quits", file=sys.stderr)
    sys.stdout.write(con.text)
    stop = threading.Event()

    def pump() -> None:
        mark = con.mark()
        while not stop.is_set() and not con.closed:
            try:
                con.expect(r"[\s\S]", timeout=0.1, since=mark, partial=True)
            except AssertionError:
                continue
            except HarnessError:
                break
            new = con.read_since(mark)
            mark += len(new)
            sys.stdout.write(new)
            sys.stdout.flush()

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    try:
        if interactive:
            _type_keys(con, exit_key)
        for line in [] if interactive else sys.stdin:
            con.sendline(line.rstrip("\n"))
        # stdin ended (a script piped in): let the last answers arrive before closing — the
        # console has been quiet for a while, as long as a busy machine makes a while
        while True:
            before = con.mark()
            time.sleep(patience.limit(0.3))
            if con.mark() == before:
                break
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        t.join(1)
        dut.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="harness", description=__doc__)
    p.add_argument("--targets-dir", default="targets", help="target YAML directory")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("targets", help="list known targets").set_defaults(func=cmd_targets)
    c = sub.add_parser("check", help="validate target files: image, machine, consoles, SVD")
    c.add_argument("names", nargs="*")
    c.add_argument("--firmware", help="check this image against the target instead")
    c.set_defaults(func=cmd_check)
    b = sub.add_parser("build", help="build targets' firmware when stale")
    b.add_argument("names", nargs="*")
    b.set_defaults(func=cmd_build)
    e = sub.add_parser("image", aliases=["elf"],
                       help="show an image's format, segments, sha256 and version block")
    e.add_argument("elf", metavar="IMAGE")
    e.add_argument("--version-symbol", default=None,
                   help="ELF symbol of a QSM version block (e.g. fw_version)")
    e.add_argument("--load-address", type=lambda v: int(v, 0), default=None,
                   help="where a raw binary image goes")
    e.set_defaults(func=cmd_elf)
    sub.add_parser("boards", help="emulated boards and their status in each world"
                   ).set_defaults(func=cmd_boards)
    i = sub.add_parser("init", help="a target, a smoke test and pytest settings for your image")
    i.add_argument("--board", required=True, help="emulated board (see: harness boards)")
    i.add_argument("--image", required=True, help="firmware image: ELF, Intel HEX or raw binary")
    i.add_argument("--name", help="target name (default: from the image's file name)")
    i.add_argument("--load-address", type=lambda v: int(v, 0), default=None,
                   help="where a raw binary goes")
    i.add_argument("--version-symbol", default=None, help="ELF symbol of a QSM version block")
    i.add_argument("--uart", type=int, default=0, help="the console's UART (default 0)")
    i.add_argument("--newline", default="lf", choices=("lf", "cr", "crlf"),
                   help="line ending the firmware expects (default lf)")
    i.add_argument("--echo", action="store_true", help="the firmware echoes input")
    i.add_argument("--prompt", help="regex of the shell's prompt (e.g. '^> ')")
    i.add_argument("--ready", help="regex printed once the firmware listens "
                   "(default: the prompt, else any output)")
    i.add_argument("--dir", default=".", help="the project directory (default: here)")
    i.set_defaults(func=cmd_init)
    pr = sub.add_parser("probes", help="debug probes pyOCD sees, and the bench inventory's")
    pr.add_argument("--bench", type=Path, default=Path("targets/benches/emulated.yaml"),
                    help="bench inventory (default: the emulated bench)")
    pr.set_defaults(func=cmd_probes)
    k = sub.add_parser("console", help="boot a target in QEMU and attach the terminal")
    k.add_argument("target")
    k.add_argument("--firmware", help="image (ELF, HEX, raw binary) to boot instead of the "
                   "target's build")
    k.add_argument("--exit-key", default="ctrl-]", metavar="KEY",
                   help="key that ends an interactive session (default ctrl-]; Ctrl-D and "
                        "Ctrl-C go to the chip)")
    k.set_defaults(func=cmd_console)
    from .flakes import add_command as add_flakes_command

    add_flakes_command(sub)  # `harness flakes RESULTS_DIR`
    from .station.cli import add_commands as add_station_commands

    add_station_commands(sub)  # `harness station run ...`, `harness report ...`
    from .station.records_cli import add_commands as add_records_commands

    add_records_commands(sub)  # `harness records verify ...`, `harness records init ...`
    from .lab.cli import add_commands as add_lab_commands

    add_lab_commands(sub)  # `harness lab up N`, `harness lab status`, `harness lab down`
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
