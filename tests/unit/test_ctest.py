"""harness.ctest without an emulator: result parsing, manifests, and the runner's recovery
(against a fake chip: the layer below the runner)."""

import re

import pytest

from harness.ctest.image import CCase
from harness.ctest.manifest import load_manifest
from harness.ctest.results import ProtocolError, parse_run
from harness.ctest.runner import CtestRunner
from harness.errors import ConfigError, ConsoleTimeout, DutFault, HarnessError


def test_parse_pass_fail_skip():
    assert parse_run("a.b", "QTEST CASE a.b\r\nQTEST PASS a.b\r\n").outcome == "passed"
    r = parse_run("a.b", "QTEST CASE a.b\nQTEST FAIL a.b tv/x.c:12: expected v == 2: 3 vs 2\n")
    assert (r.outcome, r.file, r.line, r.message) == ("failed", "tv/x.c", 12,
                                                      "expected v == 2: 3 vs 2")
    assert r.location == "tv/x.c:12"
    r = parse_run("a.b", "QTEST CASE a.b\nQTEST SKIP a.b x.c:3: no IR: here\n")
    assert (r.outcome, r.message) == ("skipped", "no IR: here")


def test_parse_crash_and_incomplete():
    text = "QTEST CASE a.b\n*** HARDFAULT pc=0x00000010 lr=0x1 cfsr=0x0 hfsr=0x0\n"
    r = parse_run("a.b", text)
    assert r.outcome == "crashed" and r.message.startswith("*** HARDFAULT pc=0x00000010")
    assert parse_run("a.b", "QTEST CASE a.b\n") is None
    # a fault before the test started is not this test's
    assert parse_run("a.b", "*** HARDFAULT pc=0x0 lr=0x0 cfsr=0x0 hfsr=0x0\n") is None


def test_parse_protocol_errors():
    with pytest.raises(ProtocolError, match="result for 'x.y'"):
        parse_run("a.b", "QTEST CASE a.b\nQTEST PASS x.y\n")
    with pytest.raises(ProtocolError, match="without file:line"):
        parse_run("a.b", "QTEST CASE a.b\nQTEST FAIL a.b\n")


def test_manifest_errors_name_file_and_field(tmp_path):
    p = tmp_path / "ctest.yaml"
    p.write_text("target: qsm-tv\nbuild: [make]\nelf: x.elf\ntimout: 3\n")
    with pytest.raises(ConfigError, match=re.escape(f"{p}: invalid ctest manifest")) as e:
        load_manifest(p)
    assert "field 'timout': unknown field (typo?)" in str(e.value)
    p.write_text("target: qsm-tv\n")
    with pytest.raises(ConfigError, match="field 'build'"):
        load_manifest(p)
    p.write_text("- a list\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_manifest(p)
    p.write_text("target: qsm-tv\nbuild: [make]\nelf: x.elf\n")
    m = load_manifest(p)
    assert (m.target, m.timeout, str(m.source_dir)) == ("qsm-tv", 10.0, "firmware")


class FakeConsole:
    """Answers ``run <id>`` from a script of console texts (one per run)."""

    def __init__(self, script):
        self.script = list(script)
        self.text = ""
        self.sent = []

    def mark(self):
        return len(self.text)

    def sendline(self, line):
        self.sent.append(line)
        self.text += self.script.pop(0)

    def read_since(self, mark):
        return self.text[mark:]

    def expect(self, pattern, timeout, since):
        chunk = self.text[since:]
        if "*** HARDFAULT" in chunk:
            raise DutFault("fault")
        m = re.search(pattern, chunk, re.MULTILINE)
        if m is None:
            raise ConsoleTimeout("no answer")
        return m


class FakeExecution:
    pass


class FakeDut:
    def __init__(self, script):
        self.console = FakeConsole(script)
        self.execution = FakeExecution()
        self.alive = True
        self.resets = 0
        self.closed = False
        self.name = "fake"
        self.step = ""

    def reset(self):
        self.resets += 1

    def close(self):
        self.closed = True


CASE = CCase("s", "t", "x/test.c", 7)
OK = "OK total=1 passed=1 failed=0 skipped=0\n"


def test_runner_boots_once_and_reuses_the_chip():
    dut = FakeDut(["QTEST CASE s.t\nQTEST PASS s.t\n" + OK] * 2)
    runner = CtestRunner(lambda: dut, timeout=1.0)
    assert runner.run(CASE).outcome == "passed"
    assert runner.run(CASE).outcome == "passed"
    assert runner.boots == 1 and dut.console.sent == ["run s.t", "run s.t"]


def test_runner_resets_after_crash_and_hang():
    dut = FakeDut(["QTEST CASE s.t\n*** HARDFAULT pc=0x1 lr=0x2 cfsr=0x3 hfsr=0x4\n",
                   "QTEST CASE s.t\n"])
    runner = CtestRunner(lambda: dut, timeout=1.0)
    assert runner.run(CASE).outcome == "crashed"
    assert dut.resets == 1
    r = runner.run(CASE)
    assert r.outcome == "crashed" and "hung" in r.message
    assert dut.resets == 2


def test_runner_replaces_a_chip_that_cannot_reset():
    chips = []

    scripts = [["QTEST CASE s.t\n*** HARDFAULT pc=0x1 lr=0x2 cfsr=0x3 hfsr=0x4\n"],
               ["QTEST CASE s.t\nQTEST PASS s.t\n" + OK]]

    def open_dut():
        d = FakeDut(scripts.pop(0))
        d.execution = None
        chips.append(d)
        return d

    runner = CtestRunner(open_dut, timeout=1.0)
    assert runner.run(CASE).outcome == "crashed"
    assert chips[0].closed
    assert runner.run(CASE).outcome == "passed"
    assert runner.boots == 2


def test_unknown_test_is_a_harness_error():
    dut = FakeDut(["ERR 2 no test matches s.t\n"])
    with pytest.raises(HarnessError, match="does not know 's.t'"):
        CtestRunner(lambda: dut, timeout=1.0).run(CASE)
