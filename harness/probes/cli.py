"""``harness probes``: the debug probes pyOCD sees, and the bench inventory's probes.

``harness/cli.py`` registers the sub-command and calls :func:`cmd_probes` (pyOCD is imported
only then).
"""

from __future__ import annotations

import argparse

from ..errors import HarnessError


def cmd_probes(args: argparse.Namespace) -> int:
    from pyocd.core.helpers import ConnectHelper

    from ..bench import load_bench
    from . import chips

    seen = ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False)
    print("pyOCD sees:")
    for p in seen:
        busy = ""
        if p.unique_id.startswith("qemu:") and (who := chips.holder(p.unique_id[5:])):
            busy = f" [busy: held by {who}]"
        print(f"  {p.unique_id:48} {p.vendor_name} {p.product_name}{busy}")
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
