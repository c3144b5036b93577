"""A connection to a labgrid coordinator, in the coordinator's own gRPC protocol.

:class:`LabClient` offers blocking calls with bounded waits, from any thread: places, resources,
reservations, creating a place, acquiring and releasing one. As labgrid's client does, it opens
the coordinator's client stream — a startup message with the client's name, then subscriptions
to every place and every resource — and takes in the updates as they come, in a thread of its
own; :meth:`LabClient.refresh` syncs with the coordinator. Calls that change something are the
coordinator's unary calls, made on the same channel (the coordinator knows the caller by its
connection: the one that sent the startup message).

Why not labgrid's own ``ClientSession``: importing it imports the whole ``labgrid`` package —
targets, drivers, strategies, ~0.25 s of CPU — and, in a pytest process, has pytest rewrite the
assertions of every one of those modules (labgrid declares a pytest plugin, and pytest marks
every module of a plugin's distribution for rewriting): ~0.3 s more without cached bytecode.
Every test process on a lab place paid both before its first request, on CPUs its tests
needed. The messages here are labgrid's own classes, generated from its
``labgrid-coordinator.proto`` (labgrid 26): :func:`messages` loads that one module from
labgrid's installation by file, without the package around it.
"""

from __future__ import annotations

import enum
import getpass
import importlib.util
import itertools
import os
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from .. import patience
from ..errors import HarnessError

SERVICE = "/labgrid.Coordinator/"
_MESSAGES = "_labgrid_coordinator_pb2"  # the module's name in sys.modules
_LOADING = threading.Lock()
# what labgrid's own client asks of the channel: keepalive pings, so that a coordinator that
# went away is noticed on an idle connection
CHANNEL_OPTIONS = [("grpc.keepalive_time_ms", 7500), ("grpc.keepalive_timeout_ms", 10000),
                   ("grpc.http2.ping_timeout_ms", 10000), ("grpc.http2.max_pings_without_data", 0)]


class NoCoordinator(HarnessError):
    """No labgrid coordinator answers at the address."""


def messages() -> Any:
    """labgrid's generated message classes (``labgrid_coordinator_pb2``), loaded once per
    process from labgrid's installation, without importing the ``labgrid`` package."""
    with _LOADING:
        module = sys.modules.get(_MESSAGES)
        if module is not None:
            return module
        found = importlib.util.find_spec("labgrid")  # a top-level name: found, not imported
        if found is None or found.origin is None:
            raise HarnessError("labgrid is not installed: pip install 'qsm-harness[lab]'")
        path = Path(found.origin).parent / "remote" / "generated" / "labgrid_coordinator_pb2.py"
        spec = importlib.util.spec_from_file_location(_MESSAGES, path)
        if spec is None or spec.loader is None or not path.exists():
            raise HarnessError(f"labgrid's coordinator protocol is not at {path}: a labgrid "
                               f"other than 26 (pip install 'qsm-harness[lab]')")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[_MESSAGES] = module
        return module


def default_name() -> str:
    """``host/user``, as labgrid's client names itself (``LG_HOSTNAME``, ``LG_USERNAME``)."""
    return (f"{os.environ.get('LG_HOSTNAME') or socket.gethostname()}/"
            f"{os.environ.get('LG_USERNAME') or getpass.getuser()}")


def _labgrid_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("labgrid")
    except PackageNotFoundError:
        return "unknown"


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


@dataclass(frozen=True)
class Match:
    """One of a place's resource matches: ``exporter/group/cls[/name]`` patterns (fnmatch)."""

    exporter: str
    group: str
    cls: str
    name: str | None = None
    rename: str | None = None

    def matches(self, exporter: str, group: str, cls: str, name: str) -> bool:
        return (fnmatchcase(exporter, self.exporter) and fnmatchcase(group, self.group)
                and fnmatchcase(cls, self.cls)
                and (self.name is None or fnmatchcase(name, self.name)))


@dataclass(frozen=True)
class LabPlace:
    name: str
    tags: dict[str, str]
    matches: tuple[Match, ...]
    acquired: str | None  # the client holding it, None when free

    def match(self, exporter: str, group: str, cls: str, name: str) -> Match | None:
        return next((m for m in self.matches if m.matches(exporter, group, cls, name)), None)


class ReservationState(enum.Enum):
    waiting = 0
    allocated = 1
    acquired = 2
    expired = 3
    invalid = 4


@dataclass(frozen=True)
class Reservation:
    owner: str
    token: str
    state: ReservationState
    prio: float
    filters: dict[str, dict[str, str]]  # filter name → tags
    allocations: dict[str, list[str]]  # filter name → place names
    created: float
    timeout: float

    @classmethod
    def from_pb2(cls, r: Any) -> Reservation:
        return cls(r.owner, r.token, ReservationState(r.state), r.prio,
                   {n: dict(f.filter) for n, f in r.filters.items()},
                   {n: [p] for n, p in r.allocations.items()}, r.created, r.timeout)


def _values(mapping: Any) -> dict[str, Any]:
    """A protocol map of MapValue (one of bool, int, uint, float, string) as a dict."""
    out = {}
    for key, value in mapping.items():
        kind = value.WhichOneof("kind")
        out[key] = None if kind is None else getattr(value, kind)
    return out


class LabClient:
    def __init__(self, address: str, timeout: float | None = None,
                 name: str | None = None) -> None:
        import grpc

        self.address = address
        self.name = name or default_name()
        self.pb = messages()
        self._grpc = grpc
        self._lock = threading.Lock()
        self._places: dict[str, LabPlace] = {}
        # exporter → group → resource name → (cls, params, avail, acquired)
        self._resources: dict[str, dict[str, dict[str, tuple[str, dict, bool, str | None]]]] = {}
        self._syncs: dict[int, threading.Event] = {}
        self._sync_ids = itertools.count(1)
        self._gone: str | None = None  # why the stream ended
        self._closing = False
        self._calls: dict[str, Callable[..., Any]] = {}
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        stream = self._channel.stream_stream(
            SERVICE + "ClientStream",
            request_serializer=self.pb.ClientInMessage.SerializeToString,
            response_deserializer=self.pb.ClientOutMessage.FromString)
        self._stream = stream(iter(self._outbox.get, None))
        self._reader = threading.Thread(target=self._pump, daemon=True,
                                        name=f"labgrid client {address}")
        self._reader.start()
        pb = self.pb
        self._outbox.put(pb.ClientInMessage(startup=pb.StartupDone(version=_labgrid_version(),
                                                                   name=self.name)))
        self._outbox.put(pb.ClientInMessage(subscribe=pb.Subscribe(all_places=True)))
        self._outbox.put(pb.ClientInMessage(subscribe=pb.Subscribe(all_resources=True)))
        why = self._sync(patience.limit("socket") if timeout is None else timeout)
        if why is not None:
            self.close()
            raise NoCoordinator(f"no labgrid coordinator answers at {address} ({why})")

    # -- the stream -------------------------------------------------------------------------
    def _pump(self) -> None:
        """The coordinator's updates, applied as they come; a sync's answer wakes its waiter."""
        why = "the connection was closed"
        try:
            for out in self._stream:
                with self._lock:
                    for update in out.updates:
                        self._apply(update)
                if out.HasField("sync"):
                    event = self._syncs.pop(out.sync.id, None)
                    if event is not None:
                        event.set()
        except self._grpc.RpcError as exc:
            why = f"{exc.code().name}: {exc.details()}"
        finally:
            self._gone = why
            for event in list(self._syncs.values()):
                event.set()

    def _apply(self, update: Any) -> None:
        kind = update.WhichOneof("kind")
        if kind == "resource":
            r = update.resource
            params = _values(r.params)
            params["extra"] = _values(r.extra)
            group = self._resources.setdefault(r.path.exporter_name, {}).setdefault(
                r.path.group_name, {})
            group[r.path.resource_name] = (r.cls, params, r.avail, r.acquired or None)
        elif kind == "del_resource":
            p = update.del_resource
            self._resources.get(p.exporter_name, {}).get(p.group_name, {}).pop(p.resource_name,
                                                                               None)
        elif kind == "place":
            p = update.place
            self._places[p.name] = LabPlace(
                p.name, dict(p.tags),
                tuple(Match(m.exporter, m.group, m.cls,
                            m.name if m.HasField("name") else None,
                            m.rename if m.HasField("rename") else None) for m in p.matches),
                p.acquired if p.HasField("acquired") and p.acquired else None)
        elif kind == "del_place":
            self._places.pop(update.del_place, None)

    def _sync(self, seconds: float) -> str | None:
        """Wait until the coordinator has answered everything sent before (its updates are
        in): None, or why not (the stream ended, or no answer within ``seconds``)."""
        ident = next(self._sync_ids)
        event = self._syncs[ident] = threading.Event()  # before the look at _gone: see _pump
        answered = True
        if self._gone is None:
            self._outbox.put(self.pb.ClientInMessage(sync=self.pb.Sync(id=ident)))
            answered = event.wait(seconds)
        self._syncs.pop(ident, None)
        if self._gone is not None:
            return f"the stream ended: {self._gone}"
        return None if answered else f"no answer within {seconds:.0f} s"

    # -- reading ----------------------------------------------------------------------------
    def refresh(self, seconds: float = 0.1) -> None:
        """Wait ``seconds`` for updates, then sync with the coordinator."""
        if seconds > 0:
            time.sleep(seconds)
        why = self._sync(patience.limit("socket"))
        if why is not None:
            raise NoCoordinator(f"the labgrid coordinator at {self.address} is gone or "
                                f"stopped answering: {why}")

    @property
    def places(self) -> dict[str, LabPlace]:
        with self._lock:
            return dict(self._places)

    def resources(self, place_name: str) -> list[PlaceResource]:
        """The resources ``place_name`` matches, with their current params."""
        with self._lock:
            place = self._places[place_name]
            out = []
            for exporter, groups in sorted(self._resources.items()):
                for group, resources in sorted(groups.items()):
                    for name, (cls, params, avail, acquired) in sorted(resources.items()):
                        match = place.match(exporter, group, cls, name)
                        if match is not None:
                            out.append(PlaceResource(exporter, group, cls, match.rename or name,
                                                     dict(params), avail, acquired))
            return out

    def reservations(self) -> list[Reservation]:
        reply = self._call("GetReservations", self.pb.GetReservationsRequest())
        return [Reservation.from_pb2(r) for r in reply.reservations]

    # -- changing ---------------------------------------------------------------------------
    def add_place(self, name: str, pattern: str, tags: dict[str, str]) -> None:
        pb = self.pb
        self._call("AddPlace", pb.AddPlaceRequest(name=name))
        self._call("AddPlaceMatch", pb.AddPlaceMatchRequest(placename=name, pattern=pattern))
        self._call("SetPlaceTags", pb.SetPlaceTagsRequest(placename=name, tags=tags))

    def acquire(self, name: str) -> None:
        self._call("AcquirePlace", self.pb.AcquirePlaceRequest(placename=name))
        self.refresh(0)

    def release(self, name: str, fromuser: str | None = None) -> None:
        """Release ``name``; ``fromuser``: only if that client holds it."""
        req = self.pb.ReleasePlaceRequest(placename=name)
        if fromuser is not None:
            req.fromuser = fromuser
        self._call("ReleasePlace", req)
        self.refresh(0)

    # -- reservations -----------------------------------------------------------------------
    def reserve(self, tags: dict[str, str], prio: float = 0.0) -> str:
        """A reservation for a place with ``tags``; its token."""
        pb = self.pb
        req = pb.CreateReservationRequest(filters={"main": pb.Reservation.Filter(filter=tags)},
                                          prio=prio)
        return str(self._call("CreateReservation", req).reservation.token)

    def poll(self, token: str) -> tuple[str, list[str]]:
        """(state name, allocated place names) of reservation ``token``; polling keeps it."""
        reply = self._call("PollReservation", self.pb.PollReservationRequest(token=token))
        r = Reservation.from_pb2(reply.reservation)
        return r.state.name, [n for group in r.allocations.values() for n in group]

    def cancel(self, token: str) -> None:
        self._call("CancelReservation", self.pb.CancelReservationRequest(token=token))

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
    def _call(self, method: str, request: Any) -> Any:
        """A unary call of the coordinator's, bounded by the socket wait."""
        call = self._calls.get(method)
        if call is None:
            reply = getattr(self.pb, f"{method}Response")
            call = self._calls[method] = self._channel.unary_unary(
                SERVICE + method, request_serializer=type(request).SerializeToString,
                response_deserializer=reply.FromString)
        grpc = self._grpc
        try:
            return call(request, timeout=patience.limit("socket"))
        except grpc.RpcError as exc:
            code = exc.code()
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise NoCoordinator(f"the labgrid coordinator at {self.address} stopped "
                                    "answering") from None
            if code == grpc.StatusCode.UNAVAILABLE:
                raise NoCoordinator(f"the labgrid coordinator at {self.address} is gone: "
                                    f"{exc.details()}") from None
            raise HarnessError(f"labgrid coordinator {self.address}: {exc.details()}") from None

    def close(self) -> None:
        """End the stream and the channel (the coordinator forgets this client)."""
        if self._closing:
            return
        self._closing = True
        self._outbox.put(None)  # the end of what this client sends
        self._stream.cancel()
        self._reader.join(patience.limit("socket"))
        self._channel.close()

    def __enter__(self) -> LabClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

