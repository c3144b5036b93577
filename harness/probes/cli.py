"""``harness probes``: the debug probes pyOCD sees, and the bench inventory's probes.

``harness/cli.py`` registers it as a sub-command calling :func:`cmd_probes`
(``add_arguments`` adds its options).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import HarnessError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bench", type=Path, default=Path("targets/benches/emulated.yaml"),
                        help="bench inventory (default: the emulated bench)")


def cmd_probes(args: argparse.Namespace) -> int:
    from pyocd.core.helpers import ConnectHelper

    from ..bench import load_bench

    seen = ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False)
    print("pyOCD sees:")
    for p in seen:
        print(f"  {p.unique_id:48} {p.vendor_name} {p.product_name}")
    if not seen:
        print("  (no probes; an emulated chip appears here while one runs, e.g. "
              "python -m harness.probes.launch)")
    try:
        bench = load_bench(args.bench)
    except HarnessError as exc:
        print(f"bench inventory: {exc}")
        return 1
    print(f"bench inventory {bench.name} ({bench.source}):")
    ids = {p.unique_id for p in seen}
    for p in bench.probes:
        state = "emulated" if p.uid == "qemu:auto" else ("present" if p.uid in ids else "absent")
        print(f"  slot {p.slot:<3} {p.uid:40} target={p.target or 'any':12} "
              f"console={p.console or '-':16} tags={','.join(p.tags) or '-'} [{state}]")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="harness probes", description=__doc__.splitlines()[0])
    add_arguments(p)
    return cmd_probes(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
