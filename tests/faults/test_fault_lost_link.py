"""The chip or its link lost in the middle of an operation, on the bench path: the ``qemu:``
probe's QEMU SIGKILLed while pyOCD programs its flash, and the gdbstub connection cut in the
middle of a reply packet. Each ends at once with an error naming the probe and what happened;
nothing hangs, nothing is left behind, and the chip can be used again afterwards.

(QEMU SIGKILLed in the middle of a test in the qemu world: tests/integration/test_lost_dut.py.)
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading

import pytest
from faultkit import WAIT

from harness.probes.qemu_probe import ProbeGone

pytestmark = pytest.mark.targets("qsm-washer")


def _session(uid: str):
    from pyocd.core.helpers import ConnectHelper

    session = ConnectHelper.session_with_chosen_probe(
        unique_id=uid, blocking=False, return_first=True, auto_open=False,
        options={"target_override": "cortex_m"})
    assert session is not None
    session.open()
    return session


def _program(session, image, progress=None) -> None:
    from pyocd.flash.file_programmer import FileProgrammer

    FileProgrammer(session, progress=progress).program(str(image.path), file_format="elf")


def _flash_holds(session, image) -> bool:
    seg = next(s for s in image.segments if s.data)
    return bytes(session.target.read_memory_block8(seg.address, len(seg.data))) == seg.data


def test_qemu_killed_mid_flash_is_an_error_naming_the_probe_and_the_chip_comes_back(
        env, chip, image):
    session = _session(chip.uid)
    killed: list[float] = []

    def progress(fraction: float) -> None:
        if fraction >= 0.3 and not killed:  # well inside the programming, every time
            killed.append(fraction)
            os.kill(chip.proc.pid, signal.SIGKILL)

    with pytest.raises(Exception) as e:  # noqa: PT011 - pyOCD wraps it; the text is checked
        _program(session, image, progress)
    assert killed, "programming ended before the chip was killed"
    chain, exc = [], e.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert any(isinstance(x, ProbeGone) for x in chain), [repr(x) for x in chain]
    text = " ".join(map(str, chain))
    assert chip.uid in text, text
    assert f"QEMU pid {chip.proc.pid} is no longer running" in text, text
    session.close()  # bounded: the probe knows its chip is gone

    chip.restart()  # a fresh QEMU behind the same probe id: blank flash
    again = _session(chip.uid)
    try:
        _program(again, image)
        assert _flash_holds(again, image)
    finally:
        again.close()
    chip.close()
    assert env.leaks() == []


class CuttingRelay:
    """A loopback TCP relay to a gdbstub unix socket that, once armed, forwards the first half
    of the next packet from the stub and then closes both sides."""

    def __init__(self, path: str) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.path = path
        self.armed = threading.Event()
        self.cut = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        client, _ = self.listener.accept()
        stub = socket.socket(socket.AF_UNIX)
        stub.connect(self.path)
        up = threading.Thread(target=self._pump, args=(client, stub), daemon=True)
        up.start()
        try:
            while True:
                data = stub.recv(65536)
                if not data:
                    break
                start = data.find(b"$")
                if self.armed.is_set() and start >= 0 and len(data) - start > 8:
                    client.sendall(data[:start + (len(data) - start) // 2])
                    self.cut.set()
                    break
                client.sendall(data)
        finally:
            for s in (client, stub):  # shutdown wakes the pump blocked in recv; close alone not
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            up.join(WAIT)

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass  # the other direction closed both

    def close(self) -> None:
        self.listener.close()
        self._thread.join(WAIT)


def test_gdbstub_link_cut_mid_packet_is_an_error_and_the_chip_answers_again(env, chip, image):
    relay = CuttingRelay(str(chip.gdb))
    uid = f"qemu:127.0.0.1:{relay.port}"
    session = _session(uid)
    try:
        _program(session, image)
        relay.armed.set()
        with pytest.raises(Exception) as e:  # noqa: PT011 - pyOCD wraps it; the text is checked
            session.target.read_memory_block8(0, 4096)
        assert relay.cut.is_set()
        text = f"{e.value} {e.value.__cause__ or ''}"
        assert uid in text and "closed" in text, text
    finally:
        session.close()
        relay.close()
    again = _session(chip.uid)  # QEMU lost only its client: the chip still holds the image
    try:
        assert _flash_holds(again, image)
    finally:
        again.close()
    chip.close()
    assert env.leaks() == []
