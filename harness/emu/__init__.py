"""The bottom layer for QEMU: what both the qemu world (:mod:`harness.backends`) and the ``qemu:``
pyOCD probe (:mod:`harness.probes`) build on. It imports neither.

Modules, one idea each:

* :mod:`~harness.emu.process` — start and stop one QEMU; its run dir and the unix sockets it
  connects to;
* :mod:`~harness.emu.qmp` — the QEMU Machine Protocol client (``dump`` reads guest memory into
  the run dir with ``pmemsave``);
* :mod:`~harness.emu.rsp_wire` — GDB remote protocol framing;
* :mod:`~harness.emu.rsp` — the GDB remote client; it alone knows whether the core runs
  (``running``, ``poll_stop``, ``reset_halted``);
* :mod:`~harness.emu.store` — device-register writes by a store planted in scratch RAM;
* :mod:`~harness.emu.sockets` — what is still in flight on a socket (``FIONREAD``/``SIOCOUTQ``).
"""
