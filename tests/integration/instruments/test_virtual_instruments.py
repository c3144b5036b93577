"""Drivers against the virtual instruments through real PyVISA/pyvisa-py sockets."""

import contextlib
import math
import os
import re
import socket
import struct
import threading
import time

import pytest

from harness.instruments.errors import (
    InstrumentError,
    InstrumentTimeout,
    SafetyLimitError,
    ScpiError,
)
from harness.instruments.scpi import ScpiSession
from harness.instruments.virtual.lab import VirtualLab

from .conftest import INVENTORY


@pytest.mark.parametrize("key, driver, model", [
    ("keysight", "KeysightE36xx", "E36312A"), ("rigol", "RigolDP8xx", "DP832"),
    ("rigol-asrl", "RigolDP8xx", "DP832"),
    ("dmm", "Multimeter", "34461A"), ("counter", "Counter", "53220A"),
])
def test_identity_picks_the_driver(open_, key, driver, model):
    d = open_(key)
    assert type(d).__name__ == driver
    assert d.identity.model == model and d.identity.serial.startswith("VIRT")
    assert d.identity.firmware


@pytest.mark.parametrize("key", ["keysight", "rigol", "rigol-asrl"])
def test_supply_set_and_measure(open_, key):
    psu = open_(key)
    psu.apply(2, 5.0, 0.5)
    psu.output(2, True)
    assert psu.output_on(2)
    assert psu.measure_voltage(2) == pytest.approx(5.0, abs=0.01)
    assert abs(psu.measure_current(2)) < 0.002  # nothing coupled: no load
    psu.output(2, False)
    assert not psu.output_on(2)
    assert abs(psu.measure_voltage(2)) < 0.01


@pytest.mark.parametrize("key", ["keysight", "rigol", "rigol-asrl"])
def test_refusal_above_safety_limit_sends_nothing(open_, lab, key):
    psu = open_(key)
    psu.set_voltage(2, 3.0)
    with pytest.raises(SafetyLimitError, match=r"psu-.*channel 2: 20 V .*13.2 V"):
        psu.set_voltage(2, 20.0)
    with pytest.raises(SafetyLimitError, match="1.2 A"):
        psu.set_current_limit(2, 2.0)
    with pytest.raises(SafetyLimitError, match="channel 1 has no safety limits"):
        psu.set_voltage(1, 1.0)
    assert lab.instrument(INVENTORY[key].name).ch[2].volts == 3.0  # unchanged


@pytest.mark.parametrize("key", ["keysight", "rigol", "rigol-asrl"])
def test_error_queue_undefined_header_and_out_of_range(open_, key):
    psu = open_(key)
    with pytest.raises(ScpiError) as e:
        psu.session.write("VOLT:BOGUS 1")
    assert e.value.codes == [-113] and psu.resource in str(e.value)
    cmd = "VOLT 99,(@2)" if key == "keysight" else ":SOUR2:VOLT 99"  # Rigol dialect
    with pytest.raises(ScpiError) as e:
        psu.session.write(cmd)  # the instrument's own range check (beyond its rating)
    assert e.value.codes == [-222]
    # several errors queue up and are drained in order
    psu.session.write("NOPE1", check=False)
    psu.session.write("NOPE2", check=False)
    assert [c for c, _ in psu.session.errors()] == [-113, -113]
    assert psu.session.errors() == []


def test_meter_ranges_and_errors(open_):
    dmm = open_("dmm")
    assert abs(dmm.dc_voltage(range_=10, nplc=1)) < 0.001  # no DUT: speed reference 0 V
    assert math.isinf(dmm.resistance())                     # open leads: overload
    with pytest.raises(ScpiError) as e:
        dmm.dc_voltage(range_=5000)
    assert e.value.codes == [-222]
    with pytest.raises(ScpiError):
        dmm.dc_current(nplc=1000)


def test_counter_without_signal_reads_nan(open_):
    assert math.isnan(open_("counter").frequency(1, gate=0.01))


def test_timeout_names_the_resource(open_, lab):
    counter = open_("counter")
    lab.instrument("counter").stalled = True
    with pytest.raises(InstrumentTimeout, match=rf"{counter.resource}.*\*IDN\?.* within \d+ ms"):
        counter.session.query("*IDN?")
    lab.instrument("counter").stalled = False
    assert counter.session.query("*IDN?").startswith("Agilent")  # session usable again


@pytest.mark.parametrize("key", ["dmm", "rigol-asrl"])
def test_closed_port_is_an_error_naming_the_resource(lab, key):
    server = lab.start(INVENTORY[key])
    resource = server.resource
    with contextlib.ExitStack() as held:
        if resource.startswith("ASRL"):
            # A closed pty's number is free for the next one anybody opens: another test's
            # serial instrument, whose bytes this open would then take. Holding an end of it
            # keeps the number taken, and the path is still gone once the server closes.
            fd = os.open(resource[len("ASRL"):-len("::INSTR")], os.O_RDWR | os.O_NOCTTY)
            held.callback(os.close, fd)
        lab.close()
        with pytest.raises(InstrumentError, match=re.escape(resource)):
            ScpiSession(resource, timeout_ms=500)


def test_kind_mismatch_is_an_error(lab):
    from harness.bench import Instrument
    from harness.instruments.drivers import open_instrument

    wrong = Instrument(name="x", kind="psu", resource="virtual:keysight-34461a",
                       channels=INVENTORY["keysight"].channels)
    with pytest.raises(InstrumentError, match="listed as a psu.*34461A"):
        open_instrument(wrong, lab.resource(wrong))


def test_serial_instrument_is_reached_through_a_serial_port(open_, lab):
    psu = open_("rigol-asrl")
    assert psu.resource.startswith("ASRL/dev/") and psu.resource.endswith("::INSTR")
    assert type(psu.session._res).__name__ == "SerialInstrument"
    assert psu.session._res.baud_rate == 9600
    lab.instrument("psu-rs").stalled = True
    with pytest.raises(InstrumentTimeout, match=rf"{psu.resource}.*\*IDN\?.* within \d+ ms"):
        psu.session.query("*IDN?")
    lab.instrument("psu-rs").stalled = False
    assert psu.session.query("*IDN?").startswith("RIGOL")  # session usable again


def test_serial_settings_need_a_serial_resource():
    from pydantic import ValidationError

    from harness.bench import Instrument, SerialSettings

    with pytest.raises(ValidationError, match="'serial' settings need a serial resource"):
        Instrument(name="x", kind="dmm", resource="TCPIP::1.2.3.4::5025::SOCKET",
                   serial=SerialSettings())
    attrs = SerialSettings(baud_rate=115200, parity="even", stop_bits=2,
                           flow_control="rts_cts").visa_attributes()
    assert attrs["baud_rate"] == 115200 and attrs["parity"].name == "even"
    assert attrs["stop_bits"].name == "two" and attrs["flow_control"].name == "rts_cts"


def _held_query(server, command: bytes) -> socket.socket:
    """A raw client that sends ``command`` and goes away before the (delayed) answer."""
    client = socket.create_connection((server.host, server.port), timeout=5)
    client.sendall(command + b"\n")
    return client


def test_tcp_server_survives_a_client_gone_mid_query(lab):
    server = lab.start(INVENTORY["keysight"])
    server.instrument.answer_delay = 0.3
    for how in ("close", "reset"):
        client = _held_query(server, b"*IDN?")
        if how == "reset":  # an RST instead of a FIN: the answer meets a dead connection
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
    server.instrument.answer_delay = 0.0
    session = ScpiSession(server.resource, timeout_ms=2000)
    try:
        assert session.identity.model == "E36312A"  # the server still answers
    finally:
        session.close()
    deadline = time.monotonic() + 10
    while server.clients and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.clients == 0  # every connection ended with its client


def test_serial_server_survives_a_session_gone_mid_query(lab):
    inst = INVENTORY["rigol-asrl"]
    resource = lab.resource(inst)
    virt = lab.instrument(inst.name)
    first = ScpiSession(resource, timeout_ms=2000)
    virt.answer_delay = 0.3
    with pytest.MonkeyPatch.context() as mp, pytest.raises(InstrumentTimeout):
        mp.setenv("HARNESS_FIXED_TIMEOUTS", "1")  # this query must time out, whatever the load
        first.query("*IDN?", timeout_ms=100)
    first.close()  # gone before the answer: it lands in the port's buffer, unread
    virt.answer_delay = 0.0
    time.sleep(0.4)
    second = ScpiSession(resource, timeout_ms=2000)  # starts clean and in step
    try:
        assert second.query(":OUTP? CH1") == "OFF"
    finally:
        second.close()


@pytest.mark.parametrize("key", ["keysight", "rigol-asrl"])
def test_server_close_does_not_wait_for_a_held_answer(key):
    """A slow instrument holding an answer back does not hold up its server's close."""
    threads = set(threading.enumerate())
    lab = VirtualLab()
    inst = INVENTORY[key]
    resource = lab.resource(inst)
    lab.instrument(inst.name).answer_delay = 60.0
    with contextlib.ExitStack() as stack:
        if resource.startswith("TCPIP"):
            stack.enter_context(_held_query(lab.servers[inst.name], b"*IDN?"))
        else:  # the serial port's own end, raw bytes
            fd = os.open(resource[len("ASRL"):-len("::INSTR")], os.O_RDWR | os.O_NOCTTY)
            stack.callback(os.close, fd)
            os.write(fd, b"*IDN?\n")
        time.sleep(0.2)  # the server now holds the answer back
        started = time.monotonic()
        lab.close()
        took = time.monotonic() - started
    assert took < 5, f"close took {took:.1f} s"
    assert [t.name for t in threading.enumerate() if t not in threads] == []


@pytest.mark.parametrize("key", ["keysight", "rigol", "rigol-asrl"])
def test_an_error_in_a_setting_is_reported_at_that_setting(lab, key):
    """A setting shares its message with its error check (one round trip), and a rejected
    one is still the exception at the call that made it, naming setting, instrument and
    resource."""
    from harness.bench import SupplyChannel
    from harness.instruments.drivers import open_instrument

    # safety limits wider than the instrument's ratings (E36312A ch2 1.03 A, DP832 3.2 A):
    # the instrument itself refuses 4 A
    inst = INVENTORY[key].model_copy(update={"channels": {
        2: SupplyChannel(max_voltage=13.2, max_current=5.0)}})
    psu = open_instrument(inst, lab.resource(inst))
    virt = lab.instrument(inst.name)
    try:
        psu.apply(2, 5.0, 0.5)
        with pytest.raises(ScpiError) as e:
            psu.apply(2, 6.0, 4.0)               # 4 A refused: nothing of it taken
        wrong = psu._apply(2, 6.0, 4.0)
        assert e.value.command == wrong and e.value.codes == [-222] and e.value.also == []
        message = str(e.value)
        assert message.startswith(f"{psu.resource}: {wrong!r} raised -222,")
        assert f"[{inst.name}, {psu.identity.maker} {psu.identity.model}]" in message
        assert virt.ch[2].amps == 0.5 and virt.ch[2].volts == 5.0
        with pytest.raises(ScpiError) as e:
            psu.set_current_limit(2, 4.0)
        assert e.value.command == psu._set_current(2, 4.0)
        psu.set_voltage(2, 5.0)                  # in step, nothing left in the queue
        psu.output(2, True)
        assert psu.output_on(2) and psu.session.errors() == []
        with pytest.raises(ScpiError) as e:
            psu.session.write("OUTP:BOGUS 1", opc=True)
        assert e.value.command == "OUTP:BOGUS 1" and e.value.codes == [-113]
        psu.output(2, False)
    finally:
        psu.close()


def test_meter_settings_share_a_message_and_keep_their_errors_apart(open_, lab):
    dmm = open_("dmm")
    virt = lab.instrument("dmm")
    with pytest.raises(ScpiError) as e:
        dmm.dc_voltage(range_=10, nplc=1000)
    assert e.value.command == "VOLT:DC:NPLC 1000" and e.value.codes == [-222]
    assert virt.range["VOLT"] == 10.0                 # the CONF before it did run
    dmm.session.query("*OPC?")
    assert "CONF:VOLT:DC 10;*ESR?;:VOLT:DC:NPLC 1000;*ESR?" in virt.heard
    assert abs(dmm.dc_voltage(range_=10, nplc=1)) < 0.001
