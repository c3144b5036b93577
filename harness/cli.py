"""``harness`` command line: inspect targets and firmware, build, boot a chip interactively."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

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
    cat = _catalog(args)
    bad = 0
    for name in args.names or cat.names():
        try:
            target = cat.get(name)
            if target.svd is not None:
                from .regs import load_svd

                load_svd(target.svd)
            print(f"ok    {name}")
        except HarnessError as exc:
            bad += 1
            print(f"error {exc}", file=sys.stderr)
    return 1 if bad else 0


def _image(args, target):
    from .firmware import build, load_image

    root = _catalog(args).root
    spec = target.firmware
    if getattr(args, "firmware", None):
        return load_image(Path(args.firmware), spec.version_symbol)
    elf = root / spec.elf
    build(spec.build, elf, [root / s for s in spec.sources], root)
    return load_image(elf, spec.version_symbol)


def cmd_build(args) -> int:
    cat = _catalog(args)
    for name in args.names or cat.names():
        img = _image(args, cat.get(name))
        print(f"{name}: {img.path} {img.version} sha256={img.sha256[:16]}")
    return 0


def cmd_elf(args) -> int:
    from .firmware import load_image

    img = load_image(Path(args.elf), args.version_symbol)
    print(f"file     {img.path}\nsha256   {img.sha256}\nentry    0x{img.entry:08x}")
    for seg in img.segments:
        print(f"segment  0x{seg.address:08x} {len(seg.data):7} bytes")
    try:
        print(f"version  {img.version}")
    except HarnessError as exc:
        print(f"version  ({exc})")
    return 0


def cmd_console(args) -> int:
    """Boot a chip in the qemu world and connect the terminal to its console."""
    from .backends.qemu import open_dut

    target = _catalog(args).get(args.target)
    dut = open_dut(target, _image(args, target))
    con = dut.console
    print(f"# {dut.name}: {dut.running_version} — Ctrl-D quits", file=sys.stderr)
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
        for line in sys.stdin:
            con.sendline(line.rstrip("\n"))
        # stdin ended (a script piped in): let the last answers arrive before closing
        while True:
            before = con.mark()
            time.sleep(0.2)
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
    c = sub.add_parser("check", help="validate target files")
    c.add_argument("names", nargs="*")
    c.set_defaults(func=cmd_check)
    b = sub.add_parser("build", help="build targets' firmware when stale")
    b.add_argument("names", nargs="*")
    b.set_defaults(func=cmd_build)
    e = sub.add_parser("elf", help="show an ELF's segments, sha256 and version block")
    e.add_argument("elf")
    e.add_argument("--version-symbol", default="fw_version")
    e.set_defaults(func=cmd_elf)
    pr = sub.add_parser("probes", help="debug probes pyOCD sees, and the bench inventory's")
    from .probes import cli as probes_cli

    probes_cli.add_arguments(pr)
    pr.set_defaults(func=probes_cli.cmd_probes)
    k = sub.add_parser("console", help="boot a target in QEMU and attach the terminal")
    k.add_argument("target")
    k.add_argument("--firmware", help="ELF to boot instead of the target's build")
    k.set_defaults(func=cmd_console)
    from .station.cli import add_commands as add_station_commands

    add_station_commands(sub)  # `harness station run ...`, `harness report ...`
    args = p.parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
