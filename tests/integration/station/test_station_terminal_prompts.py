"""``harness station run`` on a terminal asks its units' operator prompts there (a real pty, a
real unit on QEMU), labelled with slot and serial, and records the answers with the run."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time

from sqlalchemy import select as sql_select

from harness import patience
from harness.station import records as R
from tests.integration.station.panel_server import ROOT

ANSWERS = [(b"[harness-cable] ok / no", b"ok\n"),
           (b"[door-lock-lamp] option or its number", b"1\n"),
           (b"[mains-voltage] number in V", b"lots\n"),
           (b"not a number", b"231.5\n")]


def test_the_cli_station_asks_on_its_terminal(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "station", "run", "--product=qsm-washer-line",
         "--slots=1", f"--db={db}", "--create", f"--results={tmp_path / 'results'}",
         "--operator=op-term", "--pytest-arg=-k", "--pytest-arg=operator_steps",
         "W2644000401"],
        cwd=ROOT, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        env=dict(os.environ, HARNESS_LEASE_DIR=str(tmp_path / "leases")))
    os.close(slave)
    seen = b""
    todo = list(ANSWERS)
    deadline = time.monotonic() + patience.limit(180)
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the station ended and closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            if todo and todo[0][0] in seen:
                seen = seen.replace(todo[0][0], b"<asked>", 1)
                os.write(master, todo.pop(0)[1])
            if proc.poll() is not None and not ready:
                break
        proc.wait(patience.limit(60))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    text = seen.decode(errors="replace")
    assert not todo, f"not asked: {todo[0][0]!r}\n{text}"
    assert proc.returncode == 0, text
    assert re.search(r"=== operator slot 1 \(W2644000401\): Fit the harness cable", text), text
    engine = R.make_engine(db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sql_select(R.prompts.c.name, R.prompts.c.answer_text,
                                           R.prompts.c.outcome, R.prompts.c.operator)
                                .order_by(R.prompts.c.id)).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("harness-cable", "ok", "answered", "op-term"),
        ("door-lock-lamp", "off", "answered", "op-term"),
        ("mains-voltage", "231.5 V", "answered", "op-term")]
