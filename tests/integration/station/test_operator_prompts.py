"""The ``operator`` fixture in a real unit run (``--serial``, a real record store): answered
from an answers file, answered through the prompt files by a station (a thread here), not
answered in time, and stopped while waiting; every prompt is a row of the run's hash chain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness.station import prompts
from harness.station import records as R
from harness.station.operator import inline_limit, limit_sha256

ROOT = Path(__file__).resolve().parents[3]

INNER = '''
def test_assembly(operator):
    operator.confirm("Close the lid, then press OK")
    volts = operator.ask_number("Reading of the panel meter", "V", limits=(11.5, 12.5))
    colour = operator.choose("Colour of the status LED?", ["green", "red", "off"],
                             name="led-colour")
    assert (volts, colour) == (12.1, "green")

def test_out_of_limits(operator):
    operator.ask_number("Fill level", "mm", limits=(30, None))
'''

SLOW = '''
def test_nobody_answers(operator):
    operator.confirm("Is anybody there?", timeout=0.5)
'''

WAITS = '''
def test_waits(operator):
    operator.choose("Which fixture?", ["a", "b"], timeout=60)
'''

ANSWERS = {"close-the-lid-then-press-ok": "yes", "reading-of-the-panel-meter": "12.1",
           "led-colour": "green", "fill-level": "12"}


def _start(tmp_path: Path, inner: str, *args: str, prompted: bool = False,
           serial: str = "W2644000900") -> tuple[subprocess.Popen, str, Path]:
    (tmp_path / "test_inner.py").write_text(inner)
    url = f"sqlite:///{tmp_path / 'records.db'}"
    results = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if k != prompts.ENV_PROMPTS}
    if prompted:
        env[prompts.ENV_PROMPTS] = "1"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "test_inner.py", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, f"--serial={serial}", f"--db={url}",
         f"--results={results}", "--operator=bob", "--slot=3", "-rA", *args],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    return proc, url, results


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=120)
    return out


def _record(url: str) -> tuple[dict, list[dict]]:
    engine = R.open_store(url)
    with engine.connect() as conn:
        (run,) = R.run_rows(conn)
        rec = R.record(conn, run["id"])
    engine.dispose()
    asked = [p for s in rec["steps"] for p in s["prompts"]] + rec["run_prompts"]
    return rec, asked


def _events(results: Path) -> list[dict]:
    path = results / "progress.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.endswith("}")]


def _verify(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.station.records_cli", "verify",
                           "--db", url], cwd=ROOT, capture_output=True, text=True)


def _check_assembly(rec: dict, asked: list[dict], operator: str) -> None:
    rows = [(p["name"], p["kind"], p["answer_text"], p["value"], p["outcome"], p["operator"])
            for p in asked]
    assert rows == [
        ("close-the-lid-then-press-ok", "confirm", "ok", None, "answered", operator),
        ("reading-of-the-panel-meter", "number", "12.1 V", 12.1, "answered", operator),
        ("led-colour", "choose", "green", None, "answered", operator),
        ("fill-level", "number", "12.0 mm", 12.0, "answered", operator)]
    number = asked[1]
    assert (number["unit"], number["low"], number["high"]) == ("V", 11.5, 12.5)
    assert asked[3]["high"] is None and asked[3]["low"] == 30.0
    assert all(p["answered_ms"] >= p["asked_ms"] for p in asked)
    assert asked[0]["text"] == "Close the lid, then press OK"
    # a number is a measurement too, judged against the limits the test gave
    ms = [(m["name"], m["value"], m["outcome"]) for s in rec["steps"] for m in s["measurements"]]
    assert ms == [("reading-of-the-panel-meter", 12.1, "pass"), ("fill-level", 12.0, "fail")]
    inline = inline_limit("reading-of-the-panel-meter", "V", 11.5, 12.5)
    assert rec["steps"][0]["measurements"][0]["limits_sha256"] == limit_sha256(inline)
    assert [s["outcome"] for s in rec["steps"]] == ["passed", "failed"]
    assert "fill-level = 12 mm: FAIL (limits 30..+inf mm" in rec["steps"][1]["message"]


def test_answered_from_an_answers_file(store_url, tmp_path: Path):
    answers = tmp_path / "answers.yaml"
    answers.write_text("operator: ann\nanswers:\n" +
                       "".join(f"  {k}: {v}\n" for k, v in ANSWERS.items()))
    (tmp_path / "test_inner.py").write_text(INNER)
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "test_inner.py", "-p", "no:cacheprovider",
         "--rootdir", str(tmp_path), "-c", os.devnull, "--serial=W2644000901",
         f"--db={store_url}", f"--results={tmp_path / 'results'}",
         f"--operator-answers={answers}"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        env={k: v for k, v in os.environ.items() if k != prompts.ENV_PROMPTS})
    assert res.returncode == 1, res.stdout + res.stderr
    assert "1 failed, 1 passed" in res.stdout
    rec, asked = _record(store_url)
    _check_assembly(rec, asked, "ann")
    assert rec["outcome"] == "fail"
    # the file answered: nothing was shown to a station
    assert not [e for e in _events(tmp_path / "results") if e["event"].startswith("prompt")]
    ok = _verify(store_url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "no edited, deleted or inserted row" in ok.stdout


def _station(results: Path, answers: dict[str, str], stop: threading.Event,
             seen: list[dict]) -> None:
    """What a station does for its unit: show each prompt and write the operator's answer."""
    done: set[str] = set()
    while not stop.is_set():
        for event in _events(results):
            if event["event"] == "prompt" and event["id"] not in done:
                done.add(event["id"])
                seen.append(event)
                prompt = prompts.Prompt.from_event(event)
                prompts.write_answer(results, prompt, answers[prompt.name], "carol")
        time.sleep(0.02)


def test_answered_through_the_station_prompt_files(tmp_path: Path):
    proc, url, results = _start(tmp_path, INNER, prompted=True)
    stop, seen = threading.Event(), []
    station = threading.Thread(target=_station, args=(results, ANSWERS, stop, seen))
    station.start()
    try:
        out = _finish(proc)
    finally:
        stop.set()
        station.join()
    assert proc.returncode == 1, out
    assert "1 failed, 1 passed" in out
    rec, asked = _record(url)
    _check_assembly(rec, asked, "carol")
    assert [e["name"] for e in seen] == [p["name"] for p in asked]
    assert seen[2]["options"] == ["green", "red", "off"] and seen[1]["unit"] == "V"
    assert all(e["nodeid"].startswith("test_inner.py::") for e in seen)
    closed = [e for e in _events(results) if e["event"] == "prompt-closed"]
    assert [(e["id"], e["outcome"], e["answer"]) for e in closed] == [
        (seen[0]["id"], "answered", True), (seen[1]["id"], "answered", 12.1),
        (seen[2]["id"], "answered", "green"), (seen[3]["id"], "answered", 12.0)]
    ok = _verify(url)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_prompt_not_answered_in_time_errors_the_test(tmp_path: Path):
    proc, url, results = _start(tmp_path, SLOW, prompted=True)
    out = _finish(proc)
    assert proc.returncode == 1, out
    assert "1 error" in out
    assert "OperatorTimeout: operator prompt 'is-anybody-there' (\"Is anybody there?\") on " \
           "slot 3: not answered within 0.5 s" in out
    rec, asked = _record(url)
    assert [(p["name"], p["outcome"], p["answer_text"], p["operator"], p["answered_ms"])
            for p in asked] == [("is-anybody-there", "timeout", "", "", None)]
    assert rec["outcome"] == "error" and rec["steps"][0]["outcome"] == "error"
    events = _events(results)
    (shown,) = [e for e in events if e["event"] == "prompt"]
    (closed,) = [e for e in events if e["event"] == "prompt-closed"]
    assert (closed["id"], closed["outcome"], closed["answer"]) == (shown["id"], "timeout", None)
    ok = _verify(url)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_a_unit_stopped_while_a_prompt_waits_records_it_stopped(tmp_path: Path):
    proc, url, results = _start(tmp_path, WAITS, prompted=True)
    try:
        deadline = time.monotonic() + 60
        while not [e for e in _events(results) if e["event"] == "prompt"]:
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out = _finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, out  # interrupted
    rec, asked = _record(url)
    assert [(p["name"], p["outcome"], p["answered_ms"]) for p in asked] == \
        [("which-fixture", "stopped", None)]
    assert rec["outcome"] == "aborted" and "SIGTERM" in rec["reason"]
    (closed,) = [e for e in _events(results) if e["event"] == "prompt-closed"]
    assert closed["outcome"] == "stopped"
    ok = _verify(url)
    assert ok.returncode == 0, ok.stdout + ok.stderr
