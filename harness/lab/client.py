"""A connection to a labgrid coordinator through labgrid's own Python client.

:class:`LabClient` runs labgrid's asyncio :class:`ClientSession` on an event loop in a thread
of its own and offers blocking calls with bounded waits, from any thread: places, resources,
reservations, creating a place, acquiring and releasing one. The session takes in the
coordinator's updates as they come; :meth:`LabClient.refresh` syncs with it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import patience
from ..errors import HarnessError


class NoCoordinator(HarnessError):
    """No labgrid coordinator answers at the address."""


@dataclass(frozen=True)
class PlaceResource:
    """A resource matched by a place: where it is and what a client needs to open it."""

    exporter: str
    group: str
    cls: str
    name: str
    params: dict[str, Any]
    avail: bool
    acquired: str | None


class LabClient:
    def __init__(self, address: str, timeout: float | None = None) -> None:
        from labgrid.remote.client import ClientSession

        self.address = address
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                        name=f"labgrid client {address}")
        self._thread.start()

        async def make() -> Any:  # grpc's channel binds to the loop it is made on
            return ClientSession(address, self.loop)

        seconds = patience.limit("socket") if timeout is None else timeout
        try:
            self.session = self._run(make, seconds)
            self._run(lambda: self.session.start(), seconds)
        except Exception as exc:
            self.close()
            raise NoCoordinator(f"no labgrid coordinator answers at {address} "
                                f"({type(exc).__name__}: {exc or 'timed out'})") from None

    def _run(self, make: Callable[[], Any], seconds: float) -> Any:
        """The result of awaiting ``make()`` on the client's loop (a grpc call must be made
        there, not only awaited); TimeoutError after ``seconds``."""
        async def run() -> Any:
            return await make()

        future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        try:
            return future.result(seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError from None

    # -- reading ----------------------------------------------------------------------------
    def refresh(self, seconds: float = 0.1) -> None:
        """Wait ``seconds`` for updates, then sync with the coordinator."""
        if seconds > 0:
            time.sleep(seconds)
        self._call(lambda: self.session.sync_with_coordinator())

    @property
    def places(self) -> dict[str, Any]:
        return self._snapshot(lambda: dict(self.session.places))

    def resources(self, place_name: str) -> list[PlaceResource]:
        """The resources ``place_name`` matches, with their current params."""
        return self._snapshot(lambda: self._resources(place_name))

    def _snapshot(self, read: Callable[[], Any]) -> Any:
        """``read()`` run on the client's loop, between two of the session's updates."""
        async def now() -> Any:
            return read()

        return self._call(now)

    def _resources(self, place_name: str) -> list[PlaceResource]:
        place = self.session.places[place_name]
        out = []
        for exporter, groups in sorted(self.session.resources.items()):
            for group, resources in sorted(groups.items()):
                for name, entry in sorted(resources.items()):
                    if "cls" not in entry.data:  # withdrawn: its exporter went away
                        continue
                    match = place.getmatch((exporter, group, entry.cls, name))
                    if match is None:
                        continue
                    out.append(PlaceResource(exporter, group, entry.cls,
                                             match.rename or name, dict(entry.params),
                                             bool(entry.avail), entry.acquired))
        return out

    def reservations(self) -> list[Any]:
        from labgrid.remote.common import Reservation
        from labgrid.remote.generated import (
            labgrid_coordinator_pb2 as pb2,
        )

        reply = self._call(lambda: self.session.stub.GetReservations(
            pb2.GetReservationsRequest()))
        return [Reservation.from_pb2(r) for r in reply.reservations]

    # -- changing ---------------------------------------------------------------------------
    def add_place(self, name: str, pattern: str, tags: dict[str, str]) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        stub = self.session.stub
        self._call(lambda: stub.AddPlace(pb2.AddPlaceRequest(name=name)))
        self._call(lambda: stub.AddPlaceMatch(pb2.AddPlaceMatchRequest(placename=name,
                                                               pattern=pattern)))
        self._call(lambda: stub.SetPlaceTags(pb2.SetPlaceTagsRequest(placename=name,
                                                                     tags=tags)))

    def acquire(self, name: str) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        self._call(lambda: self.session.stub.AcquirePlace(
            pb2.AcquirePlaceRequest(placename=name)))
        self.refresh(0)

    def release(self, name: str, fromuser: str | None = None) -> None:
        """Release ``name``; ``fromuser``: only if that client holds it."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        req = pb2.ReleasePlaceRequest(placename=name)
        if fromuser is not None:
            req.fromuser = fromuser
        self._call(lambda: self.session.stub.ReleasePlace(req))
        self.refresh(0)

    # -- reservations -----------------------------------------------------------------------
    def reserve(self, tags: dict[str, str], prio: float = 0.0) -> str:
        """A reservation for a place with ``tags``; its token."""
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        req = pb2.CreateReservationRequest(
            filters={"main": pb2.Reservation.Filter(filter=tags)}, prio=prio)
        return self._call(lambda: self.session.stub.CreateReservation(req)).reservation.token

    def poll(self, token: str) -> tuple[str, list[str]]:
        """(state name, allocated place names) of reservation ``token``; polling keeps it."""
        from labgrid.remote.common import Reservation
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        reply = self._call(lambda: self.session.stub.PollReservation(
            pb2.PollReservationRequest(token=token)))
        r = Reservation.from_pb2(reply.reservation)
        return r.state.name, [n for group in r.allocations.values() for n in group]

    def cancel(self, token: str) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        self._call(lambda: self.session.stub.CancelReservation(
            pb2.CancelReservationRequest(token=token)))

    def wait(self, check: Callable[[], object], seconds: float, what: str) -> object:
        """Refresh until ``check()`` returns something true, at most ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            found = check()
            if found:
                return found
            if time.monotonic() > deadline:
                raise HarnessError(f"{what}: not within {seconds:.1f} s "
                                   f"(coordinator {self.address})")
            self.refresh(0.1)

    # -- plumbing ---------------------------------------------------------------------------
    def _call(self, make: Callable[[], Any]) -> Any:
        import grpc

        try:
            return self._run(make, patience.limit("socket"))
        except TimeoutError:
            raise NoCoordinator(f"the labgrid coordinator at {self.address} stopped "
                                "answering") from None
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                raise NoCoordinator(f"the labgrid coordinator at {self.address} is gone: "
                                    f"{exc.details()}") from None
            raise HarnessError(f"labgrid coordinator {self.address}: {exc.details()}") from None

    def close(self) -> None:
        if self.loop.is_closed():
            return
        session = getattr(self, "session", None)
        if session is not None:
            with contextlib.suppress(Exception):
                self._run(session.stop, patience.limit("socket"))
            with contextlib.suppress(Exception):
                self._run(session.close, patience.limit("socket"))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(patience.limit("socket"))
        if not self._thread.is_alive():
            self.loop.close()

    def __enter__(self) -> LabClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
