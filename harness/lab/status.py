"""``harness lab status``: places, their tags and holders, and the reservations."""

from __future__ import annotations

from .client import LabClient


def _tags(tags: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def status_lines(address: str) -> list[str]:
    with LabClient(address) as client:
        places = client.places
        reservations = client.reservations()
    out = [f"coordinator {address}: {len(places)} places, {len(reservations)} reservations"]
    width = max((len(n) for n in places), default=5)
    for name, place in sorted(places.items()):
        holder = f"acquired by {place.acquired}" if place.acquired else "free"
        out.append(f"  {name:{width}}  {holder:28}  {_tags(place.tags)}")
    if reservations:
        out.append("reservations:")
    for r in reservations:
        filters = "; ".join(f"{n}: {_tags(f)}" for n, f in sorted(r.filters.items()))
        allocated = "; ".join(f"{n}: {', '.join(p)}" for n, p in sorted(r.allocations.items()))
        out.append(f"  {r.token}  {r.owner}  {r.state.name}  filters {filters or '-'}"
                   + (f"  allocated {allocated}" if allocated else ""))
    return out
