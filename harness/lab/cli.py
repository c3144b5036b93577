"""``harness lab up|status|down``: the emulated lab's commands."""

from __future__ import annotations

from pathlib import Path

from ..errors import HarnessError

DEFAULT_DIR = "results/lab"


def _chip(args) -> tuple[str, Path]:
    """The emulated board of ``--chip`` and its firmware (built when stale): the benches'
    wiring is made for that firmware."""
    from ..config import TargetCatalog
    from ..firmware import built_image

    catalog = TargetCatalog(Path(args.targets_dir))
    target = catalog.get(args.chip)
    machine = target.qemu.machine if target.qemu else target.board
    if machine is None:
        raise HarnessError(f"target {args.chip} names no emulated board")
    return machine, built_image(target.firmware, catalog.root).path


def cmd_up(args) -> int:
    from .up import lab_up, place_tags

    machine, image = _chip(args)
    state = lab_up(Path(args.dir), args.hosts, args.benches, args.chip, machine, image)
    print(f"coordinator {state.coordinator}  (lab in {state.dir}; stop: harness lab down "
          f"--dir {state.dir})")
    for b in state.benches:
        tags = " ".join(f"{k}={v}" for k, v in place_tags(state, b).items())
        print(f"{b.place}  {tags}  console {b.console}  probe remote:127.0.0.1:{b.pyocd_port}")
        for kind, resource in sorted(b.instruments.items()):
            print(f"{'':{len(b.place)}}  {kind:8} {resource}")
    return 0


def cmd_status(args) -> int:
    from .state import LabState
    from .status import status_lines

    address = args.lab
    if address is None:
        state = LabState.load(Path(args.dir))
        if state is None or not state.coordinator:
            raise HarnessError(f"no lab in {Path(args.dir).resolve()} (harness lab up, or "
                               "--lab HOST:PORT)")
        address = state.coordinator
    print("\n".join(status_lines(address)))
    return 0


def cmd_down(args) -> int:
    from .down import lab_down

    print("\n".join(lab_down(Path(args.dir))))
    return 0


def add_commands(sub) -> None:
    """Add ``lab up|status|down`` to the ``harness`` CLI's subparsers."""
    lab = sub.add_parser("lab", help="an emulated lab on labgrid's coordinator")
    lab_sub = lab.add_subparsers(dest="lab_cmd", required=True)
    up = lab_sub.add_parser("up", help="start a coordinator and N hosts of emulated benches")
    up.add_argument("hosts", type=int, metavar="N", help="exporter hosts")
    up.add_argument("--benches", type=int, default=2, help="benches per host (default 2)")
    up.add_argument("--dir", default=DEFAULT_DIR, help=f"lab directory (default {DEFAULT_DIR})")
    up.add_argument("--chip", default="qsm-washer", help="target of every bench "
                    "(default qsm-washer)")
    up.set_defaults(func=cmd_up)
    st = lab_sub.add_parser("status", help="places, holders and reservations")
    where = st.add_mutually_exclusive_group()
    where.add_argument("--dir", default=DEFAULT_DIR, help=f"lab directory (default {DEFAULT_DIR})")
    where.add_argument("--lab", metavar="HOST:PORT", help="a coordinator's address instead")
    st.set_defaults(func=cmd_status)
    down = lab_sub.add_parser("down", help="stop everything `lab up` started")
    down.add_argument("--dir", default=DEFAULT_DIR, help=f"lab directory (default {DEFAULT_DIR})")
    down.set_defaults(func=cmd_down)
