"""Driver command building and response parsing, against pyvisa-sim instrument definitions
(static dialogues: what each dialect's driver sends, and what it makes of the answers)."""

import math

import pytest

from harness.bench import SupplyChannel
from harness.instruments import counter as counter_mod
from harness.instruments import dmm as dmm_mod
from harness.instruments import psu as psu_mod
from harness.instruments.drivers import driver_for
from harness.instruments.errors import InstrumentError, SafetyLimitError, UnknownInstrument
from harness.instruments.safety import SafetyLimits
from harness.instruments.scpi import Identity, ScpiSession, parse_error

SIM = r'''
spec: "1.1"
devices:
  e36312a:
    # an IEEE 488.2 instrument answers the queries of one message on one line, joined by ';'
    # (pyvisa-sim would answer each on a line of its own): messages are matched whole
    delimiter: ""
    eom: {TCPIP SOCKET: {q: "\n", r: "\n"}}
    error: '-113,"Undefined header"'
    dialogues:
      - {q: "*IDN?", r: "Keysight Technologies,E36312A,MY61000123,2.1.0-1.0.4-1.12"}
      - {q: "*CLS"}
      - {q: "*OPC?", r: "1"}
      - {q: "SYST:ERR?", r: '+0,"No error"'}
      - {q: "MEAS:VOLT? (@2)", r: "+1.200120000E+01"}
      - {q: "MEAS:CURR? (@2)", r: "+4.512000000E-02"}
      # apply(2, 12.0, 1.0): voltage and current limit in one setting, checked
      - {q: "APPL CH2,12.0000,1.0000;*ESR?", r: "+0"}
      - {q: "OUTP ON,(@2);*OPC?;*ESR?", r: "1;+0"}
    properties:
      volt2:
        default: 0.0
        getter: {q: "VOLT? (@2)", r: "{:+.9E}"}
        setter: {q: "VOLT {:.4f},(@2);*ESR?", r: "+0"}
  dp832:
    delimiter: ""
    eom: {TCPIP SOCKET: {q: "\n", r: "\n"}}
    error: '-113,"Undefined header"'
    dialogues:
      - {q: "*IDN?", r: "RIGOL TECHNOLOGIES,DP832,DP8C123456789,00.01.16"}
      - {q: "*CLS"}
      - {q: "*OPC?", r: "1"}
      - {q: "SYST:ERR?", r: '0,"No error"'}
      - {q: ":MEAS:VOLT? CH1", r: "11.998"}
      - {q: ":MEAS:CURR? CH1", r: "0.3975"}
      - {q: ":OUTP CH1,ON;*OPC?;*ESR?", r: "1;0"}
      - {q: ":OUTP? CH1", r: "ON"}
    properties:
      volt1:
        default: 0.0
        getter: {q: ":SOUR1:VOLT?", r: "{:.3f}"}
        setter: {q: ":SOUR1:VOLT {:.3f};*ESR?", r: "0"}
  dmm:
    delimiter: ""
    eom: {TCPIP SOCKET: {q: "\n", r: "\n"}}
    error: '-113,"Undefined header"'
    dialogues:
      - {q: "*IDN?", r: "Keysight Technologies,34461A,MY53200001,A.02.17-02.40-02.17-00.52-03-01"}
      - {q: "*CLS"}
      - {q: "SYST:ERR?", r: '+0,"No error"'}
      - {q: "CONF:VOLT:DC 10;*ESR?;:VOLT:DC:NPLC 1;*ESR?", r: "+0;+0"}
      - {q: "CONF:RES AUTO;*ESR?", r: "+0"}
      - {q: "READ?", r: "+9.90000000E+37"}
  counter:
    delimiter: ""
    eom: {TCPIP SOCKET: {q: "\n", r: "\n"}}
    error: '-113,"Undefined header"'
    dialogues:
      - {q: "*IDN?", r: "Agilent Technologies,53220A,MY50001234,02.05-1519.666-1.19"}
      - {q: "*CLS"}
      - {q: "SYST:ERR?", r: '+0,"No error"'}
      - {q: "SENS:FREQ:GATE:TIME 0.2;*ESR?", r: "+0"}
      - {q: "MEAS:FREQ? (@1)", r: "+1.200004100E+03"}
      - {q: "MEAS:DCYC? (@1)", r: "+9.91000000E+37"}
  e36312a-stuck:
    delimiter: ""
    eom: {TCPIP SOCKET: {q: "\n", r: "\n"}}
    error: '-113,"Undefined header"'
    dialogues:
      - {q: "*IDN?", r: "Keysight Technologies,E36312A,MY61000999,2.1.0-1.0.4-1.12"}
      - {q: "SYST:ERR?", r: '-222,"Data out of range"'}
      - {q: "VOLT 5.0000,(@2);*ESR?", r: "+16"}
resources:
  TCPIP::psu-stuck.lab::5025::SOCKET: {device: e36312a-stuck}
  TCPIP::psu-k.lab::5025::SOCKET: {device: e36312a}
  TCPIP::psu-r.lab::5025::SOCKET: {device: dp832}
  TCPIP::dmm.lab::5025::SOCKET: {device: dmm}
  TCPIP::counter.lab::5025::SOCKET: {device: counter}
'''
LIMITS = {1: SupplyChannel(max_voltage=13.2, max_current=1.2),
          2: SupplyChannel(max_voltage=13.2, max_current=1.2)}


@pytest.fixture(scope="module")
def rm(tmp_path_factory):
    import pyvisa

    path = tmp_path_factory.mktemp("sim") / "bench.yaml"
    path.write_text(SIM)
    rm = pyvisa.ResourceManager(f"{path}@sim")
    yield rm
    rm.close()


def session(rm, host):
    return ScpiSession(f"TCPIP::{host}.lab::5025::SOCKET", rm=rm, timeout_ms=500)


def test_identity_parsed_and_driver_chosen(rm):
    s = session(rm, "psu-k")
    assert s.identity == Identity("Keysight Technologies", "E36312A", "MY61000123",
                                  "2.1.0-1.0.4-1.12")
    assert driver_for(s.identity) is psu_mod.KeysightE36xx
    assert driver_for(session(rm, "psu-r").identity) is psu_mod.RigolDP8xx
    assert driver_for(session(rm, "dmm").identity) is dmm_mod.Multimeter
    assert driver_for(session(rm, "counter").identity) is counter_mod.Counter
    with pytest.raises(UnknownInstrument, match="no driver for ACME X1"):
        driver_for(Identity("ACME", "X1", "1", "1"), "TCPIP::x::SOCKET")


def test_keysight_supply_commands(rm):
    psu = psu_mod.KeysightE36xx(session(rm, "psu-k"), SafetyLimits("psu-k", LIMITS))
    psu.apply(2, 12.0, 1.0)  # any other text than the dialogue's is an error answer
    psu.output(2, True)
    psu.set_voltage(2, 11.5)
    assert psu.session.query_float("VOLT? (@2)") == 11.5
    assert psu.measure_voltage(2) == pytest.approx(12.0012)
    assert psu.measure_current(2) == pytest.approx(0.04512)


def test_rigol_supply_commands(rm):
    psu = psu_mod.RigolDP8xx(session(rm, "psu-r"), SafetyLimits("psu-r", LIMITS))
    assert psu.channels == 3
    psu.set_voltage(1, 12.0)
    assert psu.session.query_float(":SOUR1:VOLT?") == 12.0
    psu.output(1, True)
    assert psu.output_on(1)  # "ON" parsed
    assert psu.measure_current(1) == pytest.approx(0.3975)


def test_error_queue_that_never_empties_is_an_error_naming_resource(rm):
    s = session(rm, "psu-stuck")
    psu = psu_mod.KeysightE36xx(s, SafetyLimits("psu-stuck", LIMITS))
    with pytest.raises(InstrumentError, match=r"psu-stuck\.lab.*did not empty.*-222"):
        psu.set_voltage(2, 5.0)


def test_safety_limits_refuse_before_sending():
    lim = SafetyLimits("psu-x", {2: SupplyChannel(max_voltage=13.2, max_current=1.2)})
    lim.check_voltage(2, 13.2)
    with pytest.raises(SafetyLimitError, match="13.3 V is beyond the safety limit of 13.2 V"):
        lim.check_voltage(2, 13.3)
    with pytest.raises(SafetyLimitError, match="-1 V"):
        lim.check_voltage(2, -1)
    with pytest.raises(SafetyLimitError, match="channel 1 has no safety limits"):
        lim.check_current(1, 0.1)


def test_meter_overload_is_inf(rm):
    dmm = dmm_mod.Multimeter(session(rm, "dmm"))
    assert dmm.dc_voltage(range_=10, nplc=1) == math.inf
    assert dmm.resistance() == math.inf


def test_counter_parses_frequency_and_no_value(rm):
    c = counter_mod.Counter(session(rm, "counter"))
    assert c.frequency(1, gate=0.2) == pytest.approx(1200.0041)
    assert math.isnan(c.duty_cycle(1))


def test_parse_error_and_bad_identity():
    assert parse_error('-222,"Data out of range"') == (-222, "Data out of range")
    assert parse_error('0,"No error"') == (0, "No error")
    with pytest.raises(InstrumentError, match="expected 'maker,model,serial,firmware'"):
        Identity.parse("garbage", "TCPIP::x::SOCKET")
