"""An emulated lab on labgrid's coordinator: ``harness lab up N``, ``status``, ``down``.

``up`` starts, each in its own session with its output in a log file of the lab directory:

* one ``labgrid-coordinator`` on loopback, on the port the kernel gives it (asked for port 0;
  its places.yaml/resources.yaml in the lab directory);
* per bench, an emulated chip (``python -m harness.probes.launch --console-pty``: QEMU behind
  the ``qemu:`` probe, UART0 relayed to a pseudo-terminal) and ``pyocd server`` for its probe;
* per host, a ``labgrid-exporter`` named ``host-<n>`` (``LG_HOSTNAME`` set to the same),
  publishing ``127.0.0.1`` as the address of its resources — the hosts share the loopback
  interface and differ by port, so nothing needs network namespaces or root.

Resource and tag schema (what a client needs to build a bench from a place)
--------------------------------------------------------------------------

Exporter ``host-<n>``, group ``bench-<n>-<b>``, one place of the same name matching
``host-<n>/bench-<n>-<b>/*`` with the tags ``chip=<target> product=<target> host=host-<n>
bench=<b>``. The group holds:

``console`` — exported as ``RawSerialPort {port: /dev/pts/N, speed: 115200}``. The exporter
    turns it into a ``NetworkSerialPort`` for clients: params ``host`` (the exporter's published
    hostname), ``port`` (None until the place is acquired: the exporter starts ser2net, telnet
    with RFC 2217, on acquire and stops it on release), ``speed`` and ``extra.path``. Open it
    with ``serial.serial_for_url(f"rfc2217://{host}:{port}")``.
``probe`` — class ``PyOCDServer``, params ``host``, ``port`` (of ``pyocd server``) and ``uid``
    (the probe id that server serves). labgrid has no class of that name: its exporter looks
    the class up with ``exports.get(cls, ResourceEntry)`` and publishes an unknown one as a
    generic resource, always available, its params passed through unchanged (ints stay ints)
    plus ``extra: {proxy, proxy_required}``; clients see it in the coordinator's resource
    list and, once the place is acquired, as acquired by it. labgrid's own target factory
    cannot instantiate it (no driver claims it): a client reads its params and opens
    ``remote:<host>:<port>`` with pyOCD (``pyocd commander -u remote:127.0.0.1:PORT -t
    cortex_m``). Acquiring the place does not guard the pyOCD server: anyone who knows its
    port can connect; the place is the lab's agreement, as with every labgrid network resource.

On real hosts the same YAML names ``USBSerialPort`` (by udev match) or ``RawSerialPort`` for
the console and a ``PyOCDServer`` per probe (``pyocd server --allow-remote -u <probe uid>``).
"""
