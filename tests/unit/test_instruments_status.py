"""IEEE 488.2 status reporting of the virtual instruments, and settings checked through it
(``*ESR?`` in the setting's own message), against a virtual instrument served on loopback TCP
through real PyVISA/pyvisa-py sessions.

A supply is driven into its current limit by a resistor across its terminals (the virtual
supply's ``resistors``), no chip needed.
"""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

from harness.bench import Instrument, SupplyChannel
from harness.instruments.drivers import open_instrument
from harness.instruments.errors import InstrumentError, ScpiError
from harness.instruments.scpi import ScpiSession, resource_manager
from harness.instruments.virtual import status
from harness.instruments.virtual.counters import Keysight53220A
from harness.instruments.virtual.meters import Keysight34461A
from harness.instruments.virtual.server import ScpiServer
from harness.instruments.virtual.supplies import KeysightE36312A, RigolDP832
from harness.instruments.visa_socket import nodelay_of, socket_of

MODELS = {"keysight": KeysightE36312A, "rigol": RigolDP832}
# beyond the instruments' own ratings (E36312A ch2: 1.03 A, DP832: 3.2 A), within these
WIDE = {2: SupplyChannel(max_voltage=13.2, max_current=5.0)}


@pytest.fixture(params=sorted(MODELS))
def served(request):
    """(virtual supply, its server) on loopback TCP."""
    with ScpiServer(MODELS[request.param](serial="VIRT00042")) as server:
        yield server.instrument, server


@pytest.fixture
def session(served):
    _, server = served
    s = ScpiSession(server.resource, timeout_ms=2000, name="psu-x")
    yield s
    s.close()


def nr1(session: ScpiSession, query: str) -> int:
    return int(session.query(query))


# -- the status model ------------------------------------------------------------------------
def test_power_on_sets_pon_and_reading_esr_clears_it(session):
    assert nr1(session, "*ESR?") == status.PON
    assert nr1(session, "*ESR?") == 0


@pytest.mark.parametrize("command, bit", [
    ("BOGUS:HEADER 1", status.CME),      # -113 undefined header: a command error
    ("*ESE", status.CME),                # -109 missing parameter
    ("APPL CH2,99", status.EXE),         # -222 data out of range: an execution error
    ("INST:NSEL 7", status.EXE),
])
def test_each_error_class_sets_its_esr_bit(session, command, bit):
    session.clear()
    session.write(command, check=False)
    assert nr1(session, "*ESR?") == bit
    assert nr1(session, "*ESR?") == 0  # cleared on read; the error stays queued
    assert nr1(session, "SYST:ERR:COUNT?") == 1
    assert len(session.errors()) == 1
    assert nr1(session, "SYST:ERR:COUN?") == 0


def test_device_dependent_and_query_errors(served, session):
    virt, _ = served
    session.clear()
    session.opc()                                 # *CLS taken: nothing clears what follows
    with virt.lock:                               # what the instrument's I/O layer reports
        virt.errors.push(-410, "Query INTERRUPTED")
    assert nr1(session, "*ESR?") == status.QYE
    for _ in range(25):                           # overflow: -350 is device-dependent
        session.write("NOPE", check=False)
    assert nr1(session, "*ESR?") == status.CME | status.DDE
    assert nr1(session, "SYST:ERR:COUN?") == 20
    assert session.errors()[-1][0] == -350
    assert [status.esr_bit(c) for c in (-100, -222, -321, -410, 7)] == [
        status.CME, status.EXE, status.DDE, status.QYE, status.DDE]


def test_status_byte_summaries_and_service_request(session):
    session.clear()
    assert nr1(session, "*STB?") == 0
    session.write("*ESE 60;*SRE 32", check=False)  # any error → ESB → request service
    assert session.query("*ESE?;*SRE?").replace("+", "") == "60;32"
    session.write("BOGUS", check=False)
    assert nr1(session, "*STB?") == status.EAV | status.ESB | status.MSS
    assert nr1(session, "*STB?") == status.EAV | status.ESB | status.MSS  # not cleared by reading
    nr1(session, "*ESR?")                          # ESB goes with the event register ...
    assert nr1(session, "*STB?") == status.EAV     # ... EAV with the error queue
    session.errors()
    assert nr1(session, "*STB?") == 0
    session.write("*SRE 255", check=False)         # bit 6 cannot be enabled
    assert nr1(session, "*SRE?") == 255 - status.MSS


def test_cls_clears_queue_and_events_not_enables(session):
    session.write("*ESE 16;BOGUS;APPL CH2,99", check=False)
    session.clear()
    assert nr1(session, "SYST:ERR:COUN?") == 0
    assert nr1(session, "*ESR?") == 0 and nr1(session, "*STB?") == 0
    assert nr1(session, "*ESE?") == 16
    session.write("*OPC", check=False)
    assert nr1(session, "*ESR?") == status.OPC


def test_questionable_status_when_the_supply_is_in_current_limit(served, session):
    virt, _ = served
    session.clear()
    ch = "(@2)" if isinstance(virt, KeysightE36312A) else "CH2"
    output = "OUTP {},(@2)" if isinstance(virt, KeysightE36312A) else ":OUTP CH2,{}"
    virt.resistors[2] = 16.0                                      # 0.75 A at 12 V
    session.write("APPL CH2,12,0.2", check=False)                 # limit 0.2 A
    session.write("STAT:QUES:ENAB 1", check=False)
    assert nr1(session, "STAT:QUES:ENAB?") == 1
    assert nr1(session, "STAT:QUES:COND?") == 0                   # output off
    session.write(output.format("ON"), check=False)
    for _ in range(400):  # the board's input capacitance charges: wait for the limit
        if nr1(session, "STAT:QUES:COND?") & status.QUES_VOLTAGE:
            break
        time.sleep(0.005)
    assert nr1(session, "STAT:QUES:INST:ISUM2:COND?") == 1       # constant current
    assert nr1(session, "*STB?") & status.QSB
    assert float(session.query(f":MEAS:CURR? {ch}")) == pytest.approx(0.2, abs=0.01)
    assert float(session.query(f":MEAS:VOLT? {ch}")) < 11.0      # the voltage gave way
    session.write(output.format("OFF"), check=False)
    assert nr1(session, "STAT:QUES:COND?") == 0
    assert nr1(session, "STAT:QUES:INST:ISUM2:COND?") == 0
    assert nr1(session, "STAT:QUES?") == status.QUES_VOLTAGE      # latched ...
    assert nr1(session, "STAT:QUES?") == 0                        # ... cleared by reading


def test_supply_in_regulation_is_cv_and_not_questionable(served, session):
    virt, _ = served
    virt.resistors[2] = 270.0  # 44 mA at 12 V
    session.write("APPL CH2,12,1;:OUTP" + (" ON,(@2)" if isinstance(virt, KeysightE36312A)
                                           else " CH2,ON"), check=False)
    assert nr1(session, "STAT:QUES:INST:ISUM2:COND?") == 2
    assert nr1(session, "STAT:QUES?") == 0


def test_rigol_apply_query():
    virt = RigolDP832()
    virt.handle("*CLS")
    assert virt.handle(":APPL CH2,5,1.5;:APPL?") == "CH2,5.000,1.5000"  # CH2 now selected
    assert virt.handle(":APPL? CH2,VOLT;:APPL? CH2,CURR") == "5.000;1.5000"
    assert virt.handle(":APPL 3;:APPL? CH2,VOLTAGE") == "3.000"
    assert virt.handle(":APPL? CH1") == "CH1,0.000,0.1000"
    assert virt.handle(":APPL? CH2,BOGUS;*ESR?") == "16"
    assert virt.handle(":APPL? CH9;SYST:ERR:COUN?;*ESR?") == "2;16"
    k = KeysightE36312A()
    assert k.handle("APPL CH3,24,0.5;APPL? CH3") == '"+2.400000E+01,+5.000000E-01"'


@pytest.mark.parametrize("model", [Keysight34461A, Keysight53220A])
def test_every_model_has_the_status_model(model):
    virt = model()
    assert virt.handle("*ESR?;*ESR?") == f"+{status.PON};+0"
    assert virt.handle("*ESE 4;*ESE?;*STB?;STAT:QUES?;STAT:OPER?;SYST:ERR:COUN?") == \
        "+4;+0;+0;+0;+0"


# -- settings checked through the status model -----------------------------------------------
def _psu(server, name: str = "psu-x"):
    inst = Instrument(name=name, kind="psu", resource=server.resource, channels=WIDE)
    return open_instrument(inst)


def test_a_setting_and_its_check_are_one_message(served):
    virt, server = served
    psu = _psu(server)
    try:
        psu.session.opc()  # the *CLS sent at open has been taken
        virt.heard.clear()
        psu.set_voltage(2, 5.0)
        psu.apply(2, 6.0, 0.5)
        psu.output(2, True)
        psu.all_off()
        assert [m.count("*ESR?") for m in virt.heard] == [1, 1, 1, 1]
        assert "APPL CH2,6.0" in virt.heard[1]
        assert "*OPC?;*ESR?" in virt.heard[2] and "*OPC?;*ESR?" in virt.heard[3]
        assert "SYST:ERR?" not in " ".join(virt.heard)  # no error: the queue is not read
        assert virt.ch[2].volts == 6.0 and virt.ch[2].amps == 0.5 and not virt.ch[2].on
    finally:
        psu.close()


@pytest.mark.parametrize("bad", [0, 1])
def test_an_error_is_pinned_on_the_setting_that_raised_it(served, bad):
    virt, server = served
    psu = _psu(server)
    try:
        good, wrong = (psu._set_current(2, 0.5), psu._set_current(2, 4.0))
        commands = [wrong, psu._set_voltage(2, 5.0)] if bad == 0 else [good, wrong]
        with pytest.raises(ScpiError) as e:
            psu.session.write_all(commands)
        err = e.value
        assert err.command == wrong and err.also == [] and err.codes == [-222]
        assert err.esr == status.EXE
        message = str(err)
        assert message.startswith(f"{server.resource}: {wrong!r} raised -222,")
        assert f"[psu-x, {virt.maker} {virt.model}]" in message
        assert virt.ch[2].volts == 5.0 or bad == 1   # the other setting did run
        assert psu.session.in_step and psu.session.errors() == []
        assert nr1(psu.session, "*ESR?") == 0
    finally:
        psu.close()


def test_several_failing_settings_in_one_message_are_all_named(served):
    virt, server = served
    psu = _psu(server)
    try:
        first, second = psu._set_current(2, 4.0), psu._set_voltage(2, 40.0)
        with pytest.raises(ScpiError) as e:
            psu.session.write_all([first, psu._set_voltage(2, 1.0), second], opc=True)
        assert e.value.command == first and e.value.also == [second]
        assert e.value.codes == [-222, -222]
        assert f"(and {second!r} after it)" in str(e.value)
    finally:
        psu.close()


def test_an_earlier_unchecked_error_surfaces_at_the_next_checked_setting(served):
    _, server = served
    psu = _psu(server)
    try:
        psu.session.write("NOT:A:COMMAND", check=False)
        with pytest.raises(ScpiError) as e:
            psu.set_voltage(2, 1.0)
        assert e.value.codes == [-113]
        psu.set_voltage(2, 1.0)  # and only there
    finally:
        psu.close()


@contextlib.contextmanager
def answering(virt, header: str, answer: str):
    """The instrument answers ``header`` with ``answer`` (its own handler found first)."""
    virt.commands.add(header, lambda call: answer)
    virt.commands._entries.insert(0, virt.commands._entries.pop())
    try:
        yield
    finally:
        virt.commands._entries.pop(0)


def test_an_answer_that_is_no_status_is_an_error_and_the_session_resyncs(served):
    virt, server = served
    psu = _psu(server)
    try:
        with answering(virt, "*ESR?", "garbage"), pytest.raises(
                InstrumentError, match=r"answered 'garbage', expected 1 integer"):
            psu.set_voltage(2, 1.0)
        assert not psu.session.in_step
        psu.set_voltage(2, 2.0)
        assert psu.session.in_step and virt.ch[2].volts == 2.0
    finally:
        psu.close()


def test_an_error_bit_without_a_queued_error_is_still_an_error(served):
    virt, server = served
    psu = _psu(server)
    try:
        with answering(virt, "*ESR?", "+16"), pytest.raises(ScpiError) as e:
            psu.set_voltage(2, 1.0)
        assert e.value.errors == [] and "*ESR? 16 (execution error) with an empty error " \
            "queue" in str(e.value)
    finally:
        psu.close()


# -- TCP_NODELAY -----------------------------------------------------------------------------
def test_nodelay_on_every_socket_resource(served):
    _, server = served
    s = ScpiSession(server.resource, timeout_ms=2000)
    try:
        assert nodelay_of(s._res) is True
    finally:
        s.close()
    # also where the session cannot read the socket itself (no read termination)
    raw = resource_manager().open_resource(server.resource, timeout=2000)
    try:
        visa = raw.visalib.sessions[raw.session]
        assert visa.interface.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        assert socket_of(raw, b"") == (None, None)
        assert nodelay_of(raw) is True
    finally:
        raw.close()
