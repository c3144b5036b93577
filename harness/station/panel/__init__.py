"""The operator's panel: ``harness station serve`` — a web page driving the station engine.

* :mod:`.shift`  the live state of the shift (slots, counters, last results), one snapshot that
  every view of the page gets whole, versioned;
* :mod:`.line`   the line behind it: scans start units on free slots (the same
  :class:`~harness.station.station.Station` as ``harness station run``), aborts, prompt answers;
* :mod:`.app`    the FastAPI application (JSON API, server-sent events, the page's files) and
  its guards (loopback, token, host check, CSRF header, escaping by construction);
* :mod:`.serve`  the command: binds, prints the URL, stops the line on SIGTERM/SIGINT.
"""
