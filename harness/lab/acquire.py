"""A place from the lab: reserve by tags, wait in line, acquire, read its resources, release.

The harness acquires, it never schedules: the order in which waiting runs get places is the
labgrid coordinator's (its reservations: a tag filter and a priority, first come first served).
Each pytest process (each xdist worker, each station slot) is its own labgrid client, named
``<host>/<user>-<pid>`` so that the coordinator hands a reserved place only to the process that
reserved it.

labgrid's client is :class:`harness.lab.client.LabClient` (blocking calls, bounded waits).

What comes back: labgrid expires a reservation nobody polls (60 s), but keeps a place acquired
until someone releases it. A process that dies holding a place (SIGKILL) leaves it acquired by
its client name; :func:`release_lost` releases places whose holder on this host is a process
that no longer exists, and every acquisition runs it first.
"""

from __future__ import annotations

import getpass
import itertools
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import HarnessError
from .client import LabClient, NoCoordinator, PlaceResource

DEFAULT_PORT = 20408
TAG = re.compile(r"[a-z][a-z0-9_-]*")
TAG_VALUE = re.compile(r"[A-Za-z0-9_.:-]+")
POLL = 1.0  # s between polls of a waiting reservation (it expires unpolled after 60 s)


class LabError(HarnessError):
    """The lab could not give a place: no coordinator, no match in time, a lost resource."""


def parse_tags(text: str) -> dict[str, str]:
    """``chip=qsm-washer,psu=1`` → a dict; a ``ValueError`` names the bad pair."""
    tags: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = pair.partition("=")
        if not eq or not TAG.fullmatch(key) or not TAG_VALUE.fullmatch(value):
            raise ValueError(f"--lab-tags {text!r}: {pair!r} is not key=value (key: lower-case "
                             f"letters, digits, '-', '_'; value: letters, digits, '.-_:')")
        tags[key] = value
    if not tags:
        raise ValueError(f"--lab-tags {text!r}: give at least one key=value")
    return tags


_SESSIONS = itertools.count(1)


def client_name() -> tuple[str, str]:
    """(host, user) of a new labgrid client of this process: the user carries the pid (and
    a number: the coordinator wants every session's name its own)."""
    n = next(_SESSIONS)
    return socket.gethostname(), f"{getpass.getuser()}-{os.getpid()}" + (f".{n}" if n > 1
                                                                         else "")


@dataclass
class Place:
    name: str
    tags: dict[str, str]
    resources: dict[str, PlaceResource] = field(default_factory=dict)  # by resource name


def open_client(address: str) -> LabClient:
    """A labgrid client session of this process, named so that the coordinator hands a
    reservation's place to this process only."""
    host, user = client_name()
    address = address if ":" in address else f"{address}:{DEFAULT_PORT}"
    try:
        return LabClient(address, name=f"{host}/{user}")
    except NoCoordinator as exc:
        raise LabError(f"lab: {exc}") from None


def place_of(client: LabClient, name: str) -> Place:
    return Place(name, dict(client.places[name].tags),
                 {r.name: r for r in client.resources(name)})


def ahead(client: LabClient, token: str) -> int:
    """Waiting reservations that the coordinator serves before ``token``'s."""
    rs = client.reservations()
    mine = next((r for r in rs if r.token == token), None)
    if mine is None:
        return 0
    return sum(1 for r in rs if r.token != token and r.state.name == "waiting"
               and (-r.prio, r.created) < (-mine.prio, mine.created))


def _quietly(call: Callable[..., object], *args: object, **kwargs: object) -> bool:
    """``call(*args, **kwargs)`` on an exit path: whether it worked (not raised if not)."""
    try:
        call(*args, **kwargs)
    except HarnessError:
        return False
    return True


def release_lost(client: LabClient) -> list[str]:
    """Release places held, and cancel reservations made, by harness clients of this host whose
    process is gone (killed before it could release); the places released."""
    pattern = re.compile(rf"{re.escape(socket.gethostname())}/{re.escape(getpass.getuser())}"
                         r"-(\d+)(?:\.\d+)?")

    def gone(owner: str | None) -> bool:
        m = pattern.fullmatch(owner or "")
        return m is not None and not _alive(int(m.group(1)))

    released = []
    for name, p in sorted(client.places.items()):
        if gone(p.acquired) and _quietly(client.release, name, fromuser=p.acquired):
            released.append(name)
    for r in client.reservations():
        if gone(r.owner):
            _quietly(client.cancel, r.token)
    return released


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tags(tags: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in tags.items())


@dataclass
class Held:
    """A place this process holds, with its client and reservation."""

    client: LabClient
    place: Place
    token: str

    def release(self) -> None:
        """Release the place and cancel the reservation; never raises (an exit path)."""
        _quietly(self.client.release, self.place.name)
        _quietly(self.client.cancel, self.token)
        self.client.close()


def acquire_place(address: str, tags: dict[str, str], timeout: float,
                  say: Callable[[str], None] = lambda line: None,
                  cancelled: Callable[[], bool] = lambda: False) -> Held:
    """Reserve a place matching ``tags``, wait for it (``say`` how many are ahead when that
    changes), acquire it. :class:`LabError` when none comes within ``timeout`` s, naming the
    tags and the places that match them, or as soon as ``cancelled()`` while waiting."""
    client = open_client(address)
    token = None
    try:
        client.refresh(0)
        lost = release_lost(client)
        if lost:
            say(f"lab: released {', '.join(lost)}: held by a process of this host that is gone")
        matching = sorted(n for n, p in client.places.items()
                          if all(p.tags.get(k) == v for k, v in tags.items()))
        if not matching:
            raise LabError(f"lab {client.address}: no place has the tags {_tags(tags)} "
                           f"(places: {', '.join(sorted(client.places)) or 'none'})")
        token = client.reserve(tags)
        deadline = time.monotonic() + timeout
        last = None
        while True:
            state, allocated = client.poll(token)
            if state in ("allocated", "acquired") and allocated:
                break
            if state in ("expired", "invalid"):
                raise LabError(f"lab {client.address}: the reservation for {_tags(tags)} "
                               f"became {state}")
            if cancelled():
                raise LabError(f"lab {client.address}: the wait for a place with "
                               f"{_tags(tags)} was cancelled")
            if time.monotonic() > deadline:
                raise LabError(f"lab {client.address}: no place with {_tags(tags)} within "
                               f"{timeout:g} s (--lab-timeout); {len(matching)} match: "
                               f"{', '.join(matching)}")
            n = ahead(client, token)
            if n != last:
                say(f"waiting for a place with {_tags(tags)}: {n} ahead")
                last = n
            client.refresh(POLL)
        client.acquire(allocated[0])
        return Held(client, place_of(client, allocated[0]), token)
    except BaseException as exc:
        if token is not None:
            _quietly(client.cancel, token)
        client.close()
        if isinstance(exc, HarnessError) and not isinstance(exc, LabError):
            raise LabError(f"lab {client.address}: {exc}") from None
        raise


def lost_resources(held: Held) -> str:
    """What of ``held``'s place the coordinator now sees offline ("" when nothing): its
    exporter stopped or its host went away."""
    try:
        held.client.refresh(0)
        now = {r.name: r for r in held.client.resources(held.place.name)}
    except Exception as exc:  # the coordinator itself is gone
        return f"place {held.place.name}: the coordinator {held.client.address} is gone ({exc})"
    lost = [f"{name} ({r.cls})" for name, r in sorted(held.place.resources.items())
            if name not in now or not now[name].avail]
    if not lost:
        return ""
    return (f"place {held.place.name} lost {', '.join(lost)}: its exporter "
            f"({held.place.tags.get('host', 'its host')}) no longer publishes them")
