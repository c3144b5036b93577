"""The backend a pooled Dut holds: the real one, handed back to its pool when the Dut closes."""

from __future__ import annotations


class PooledBackend:
    def __init__(self, pool, inner) -> None:
        self.pool = pool
        self.inner = inner
        self.world = inner.world
        self._returned = False

    def __getattr__(self, name):  # rsp, qmp, process, session, consoles...
        return getattr(self.inner, name)

    @property
    def alive(self) -> bool:
        return self.inner.alive

    def diagnosis(self) -> str:
        return self.inner.diagnosis()

    def power_on(self) -> None:
        self.inner.power_on()

    def close(self) -> None:
        if not self._returned:
            self._returned = True
            self.pool.release(self.inner)
