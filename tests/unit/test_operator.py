"""The ``operator`` fixture without a station: answers files, a terminal (a real pty), nobody
to answer; prompt names and answers as :class:`~harness.station.prompts.Prompt` checks them."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from harness.station.operator import slug
from harness.station.prompts import ENV_PROMPTS, Prompt

QUIET = ("-p", "no:harness-instruments", "-p", "no:harness-rtl", "-p", "no:cacheprovider")

INNER = """
    def test_assembly(operator):
        operator.confirm("Close the lid, then press OK")
        volts = operator.ask_number("Reading of the panel meter", "V", limits=(11.5, 12.5))
        assert operator.choose("LED?", ["green", "no"], name="led") == "no"
        assert volts == 12.1
"""


def test_prompt_names_are_slugs_of_their_text():
    assert slug("Close the lid, then press OK!") == "close-the-lid-then-press-ok"
    assert slug("  Température du four (°C)  ") == "temperature-du-four-c"
    assert slug("?!") == "prompt"
    long = slug("word " * 40)
    assert len(long) <= 64 and not long.endswith("-") and long.startswith("word-word")
    assert slug("A" * 80) == "a" * 64


def test_answers_are_checked_by_the_prompt():
    confirm = Prompt(kind="confirm", text="t", name="t", timeout=1)
    assert [confirm.check(a) for a in ("ok", "YES", " y ", True, "true")] == [True] * 5
    assert [confirm.check(a) for a in ("no", "False", False, "n")] == [False] * 4
    with pytest.raises(ValueError, match="OK or no"):
        confirm.check("maybe")
    number = Prompt(kind="number", text="t", name="t", timeout=1, unit="V", low=1, high=2)
    assert (number.check("12,5"), number.check(" 3 "), number.check(7)) == (12.5, 3.0, 7.0)
    for bad in ("abc", "inf", "nan", ""):
        with pytest.raises(ValueError, match="number"):
            number.check(bad)
    choose = Prompt(kind="choose", text="t", name="t", timeout=1, options=["a", "no"])
    assert choose.check("no") == "no"
    with pytest.raises(ValueError, match="not one of the options: 'c'"):
        choose.check("c")
    with pytest.raises(ValueError, match="options repeat"):
        Prompt(kind="choose", text="t", name="t", timeout=1, options=["a", "a"])
    with pytest.raises(ValueError, match="low 2 above high 1"):
        Prompt(kind="number", text="t", name="t", timeout=1, low=2, high=1)


def test_a_store_of_schema_2_is_refused_for_want_of_operator_prompts():
    from harness.station import records as R

    assert R.SCHEMA_VERSION == 3
    said = R.version_refused("x.db", "2")
    assert "x.db: record schema version 2, written by an older harness; this harness writes " \
           "version 3 (operator prompts) and does not migrate records" in said
    assert "version 3 (hash-chained rows, operator prompts)" in R.version_refused("x.db", "1")


def test_an_answers_file_answers_and_the_answers_go_to_junit(pytester):
    pytester.makefile(".yaml", answers="close-the-lid-then-press-ok: ok\n"
                                       "reading-of-the-panel-meter: 12.1\n"
                                       "led: no\n")  # read as the word, not as false
    pytester.makepyfile(INNER)
    res = pytester.runpytest(*QUIET, "--operator-answers=answers.yaml", "--junitxml=j.xml")
    res.assert_outcomes(passed=1)
    props = {p.get("name"): p.get("value")
             for p in ET.parse(pytester.path / "j.xml").iter("property")}
    assert props["prompt.close-the-lid-then-press-ok"] == "ok"
    assert props["prompt.reading-of-the-panel-meter"] == "12.1 V"
    assert props["measurement.reading-of-the-panel-meter"] == "12.1 V pass"
    assert props["prompt.led"] == "no"


def test_answers_that_fail_or_do_not_fit(pytester):
    pytester.makefile(".yaml", answers="operator: ann\nanswers:\n"
                                       "  close-the-lid-then-press-ok: no\n"
                                       "  reading-of-the-panel-meter: '13'\n"
                                       "  led: maybe\n"
                                       "  volts: twelve\n")
    pytester.makepyfile("""
        def test_declined(operator):
            operator.confirm("Close the lid, then press OK")
        def test_out_of_limits(operator):
            operator.ask_number("Reading of the panel meter", "V", limits=(11.5, 12.5))
        def test_not_an_option(operator):
            operator.choose("LED?", ["green", "red"], name="led")
        def test_not_a_number(operator):
            operator.ask_number("Volts?", "V", name="volts")
        def test_not_in_the_file(operator):
            operator.confirm("Anything else?")
    """)
    res = pytester.runpytest(*QUIET, "--operator-answers=answers.yaml", "-rA")
    res.assert_outcomes(failed=2, errors=3)
    out = res.stdout.str()
    for said in [
        "OperatorDeclined: operator declined: Close the lid, then press OK",
        "reading-of-the-panel-meter = 13 V: FAIL (limits 11.5..12.5 V",
        "answers.yaml: the answer to operator prompt 'led' does not fit: not one of the "
        "options: 'maybe'",
        "answers.yaml: the answer to operator prompt 'volts' does not fit: not a number: "
        "'twelve'",
        "answers.yaml: no answer to operator prompt 'anything-else' (\"Anything else?\")"]:
        assert said in out
    for nodeid in ("test_declined", "test_out_of_limits"):
        res.stdout.fnmatch_lines([f"FAILED *::{nodeid}*"])
    for nodeid in ("test_not_an_option", "test_not_a_number", "test_not_in_the_file"):
        res.stdout.fnmatch_lines([f"ERROR *::{nodeid}*"])


@pytest.mark.parametrize("content, why", [
    (None, "No such file or directory"),
    ("- ok\n- no\n", "not a mapping of prompt name to answer"),
    ("lid: [ok]\n", "the answer to ['lid'] is not a single value"),
    ("answers: {lid: ok}\nby: ann\n", "unknown keys ['by'] beside 'answers'"),
    ("lid: [unclosed\n", "not YAML"),
])
def test_a_bad_answers_file_is_a_usage_error(pytester, content, why):
    if content is not None:
        pytester.makefile(".yaml", answers=content)
    pytester.makepyfile("def test_x(operator):\n    operator.confirm('lid')\n")
    res = pytester.runpytest(*QUIET, "--operator-answers=answers.yaml")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    err = res.stderr.str()
    assert "--operator-answers answers.yaml: " in err and why in err, err


def test_bad_prompts_are_errors_of_the_test(pytester):
    pytester.makefile(".yaml", answers="x: 1\n")
    pytester.makepyfile("""
        def test_name(operator):
            operator.confirm("x", name="Not A Name")
        def test_options(operator):
            operator.choose("x", ["a", "a"])
        def test_limits(operator):
            operator.ask_number("x", "V", limits=(2, 1))
        def test_unit(operator):
            operator.ask_number("x", "", limits=(1, 2))
    """)
    res = pytester.runpytest(*QUIET, "--operator-answers=answers.yaml", "-rA")
    res.assert_outcomes(errors=4)
    out = res.stdout.str()
    for said in ["operator prompt name 'Not A Name': lower case letters",
                 "operator prompt 'x': options repeat", "operator prompt 'x': low 2 above high 1",
                 "operator prompt 'x': unit '': 1 to 16 characters"]:
        assert said in out


def _unit(pytester, *args: str, stdin=subprocess.DEVNULL, env=None, timeout: float = 60):
    return subprocess.run([sys.executable, "-m", "pytest", *QUIET, "-c", os.devnull,
                           "--rootdir", str(pytester.path), *args], cwd=pytester.path,
                          stdin=stdin, capture_output=True, text=True, timeout=timeout,
                          env=env or {k: v for k, v in os.environ.items() if k != ENV_PROMPTS})


def test_without_anyone_to_answer_the_test_errors_at_once(pytester):
    pytester.makepyfile("""
        def test_ci(operator):
            operator.confirm("Close the lid", timeout=600)
    """)
    # a station's variable without a station run (no --serial) does not make one
    env = dict(os.environ, **{ENV_PROMPTS: "1"})
    started = time.monotonic()
    res = _unit(pytester, env=env)
    assert time.monotonic() - started < 60
    assert res.returncode == 1, res.stdout + res.stderr
    assert "1 error" in res.stdout
    assert ("OperatorError: operator prompt 'close-the-lid' (\"Close the lid\") has no one to "
            "answer it: run on a terminal, under a station, or give --operator-answers FILE"
            in res.stdout)


def test_on_a_terminal_the_operator_answers_again_until_it_fits(pytester):
    pytester.makepyfile("""
        def test_asks(operator):
            operator.confirm("Close the lid")
            assert operator.ask_number("Volts?", "V", limits=(1, 20)) == 12.5
            assert operator.choose("LED?", ["green", "red"]) == "red"
        def test_nobody_types(operator):
            operator.confirm("Still there?", timeout=0.3)
    """)
    controller, terminal = pty.openpty()
    try:
        # typed ahead: the terminal keeps the lines until the test reads them
        os.write(controller, b"maybe\nok\ntwelve\n12,5\n3\n2\n")
        res = _unit(pytester, "-rA", "--junitxml=j.xml", stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)
    out = res.stdout
    assert res.returncode == 1, out + res.stderr
    assert "1 passed" in out and "1 error" in out
    assert "=== operator: Close the lid" in out and "answer OK or no" in out
    assert "not a number: 'twelve'" in out and "not one of the options: '3'" in out
    assert "    2) red" in out
    assert "OperatorTimeout: operator prompt 'still-there' (\"Still there?\"): not answered " \
           "within 0.3 s" in out
    props = {p.get("name"): p.get("value")
             for p in ET.parse(pytester.path / "j.xml").iter("property")}
    assert (props["prompt.volts"], props["prompt.led"]) == ("12.5 V", "red")
