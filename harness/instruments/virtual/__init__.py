"""Virtual LXI instruments: SCPI servers on loopback TCP (port 0) speaking real dialects.

``scpi`` parses headers and keeps the error queue, ``status`` the IEEE 488.2 status registers
fed by it, ``server`` serves them over TCP or on a serial pty paced at the line's baud rate,
the model modules (``supplies``, ``meters``, ``counters``) hold instrument state, ``coupling``
reads the running emulated chip, and ``lab`` starts the instruments a bench inventory lists as
``virtual:<model>``.
"""
