"""pyOCD's remote-probe client socket as the harness patches it: a server that goes away or
goes quiet ends the wait with an error instead of spinning or waiting for ever."""

from __future__ import annotations

import socket
import threading

import pytest

from harness.backends import pyocd_remote


@pytest.fixture
def server():
    """A listening socket whose one client gets ``behaviour(conn)``."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve(behaviour):
        def run():
            conn, _ = listener.accept()
            behaviour(conn)
            done.wait(5)
            conn.close()
        threading.Thread(target=run, daemon=True).start()
        return listener.getsockname()[1]

    yield serve
    done.set()
    listener.close()


def _client(port: int, timeout: float = 0.05):
    from pyocd.utility.sockets import ClientSocket

    pyocd_remote.patch()
    client = ClientSocket("127.0.0.1", port, timeout=timeout)
    client.connect()
    return client


def test_a_reply_is_read_line_by_line(server):
    port = server(lambda conn: conn.sendall(b'{"id": 1}\n{"id"'))
    assert _client(port).readline() == b'{"id": 1}\n'


def test_a_server_that_goes_away_is_an_error_not_a_spin(server):
    from pyocd.core import exceptions

    port = server(lambda conn: conn.shutdown(socket.SHUT_RDWR))
    with pytest.raises(exceptions.ProbeDisconnected, match="closed the connection"):
        _client(port).readline()


def test_a_server_that_never_answers_times_out(server, monkeypatch):
    from pyocd.core import exceptions

    monkeypatch.setattr("harness.patience.limit", lambda base, factor=None: 0.3)
    port = server(lambda conn: None)
    with pytest.raises(exceptions.TransferTimeoutError, match="no reply within"):
        _client(port).readline()
