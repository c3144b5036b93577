"""The virtual instruments' SCPI parser and error queue (no sockets)."""

import pytest

from harness.instruments.virtual.scpi import (
    ErrorQueue,
    ScpiFault,
    channel_list,
    header_regex,
    split_params,
    split_units,
)
from harness.instruments.virtual.supplies import KeysightE36312A, RigolDP832


@pytest.mark.parametrize("text, ok", [
    ("VOLT", True), ("VOLTAGE", True), ("volt:lev", True), ("SOUR:VOLT:LEV:IMM:AMPL", True),
    ("VOLTA", False), ("SOURCE:VOLTAGE", True), ("SOU:VOLT", False),
])
def test_header_long_short_and_optional_nodes(text, ok):
    rx = header_regex("[SOURce:]VOLTage[:LEVel][:IMMediate][:AMPLitude]")
    assert bool(rx.fullmatch(text)) is ok


def test_numeric_suffix_and_params():
    m = header_regex("SOURce#:VOLTage").fullmatch("SOUR2:VOLT")
    assert m and m.group(1) == "2"
    assert split_params("ON,(@1,2)") == ["ON", "(@1,2)"]
    assert channel_list("(@1:3)") == [1, 2, 3]
    assert split_units("VOLT 1;:CURR 2;*OPC?") == ["VOLT 1", ":CURR 2", "*OPC?"]


def test_error_queue_order_and_overflow():
    q = ErrorQueue()
    for i in range(25):
        q.push(-113, f"e{i}")
    drained = [q.pop() for _ in range(21)]
    assert drained[0] == (-113, "e0") and drained[19][0] == -350
    assert drained[20] == (0, "No error")


def test_supply_dialects_answer_and_queue_errors():
    k = KeysightE36312A()
    assert k.handle("VOLT 12,(@2);VOLT? (@2)") == "+1.200000000E+01"
    assert k.handle("VOLT 30,(@2)") is None
    assert k.handle("BOGUS") is None
    assert k.handle("SYST:ERR?").startswith("-222,")
    assert k.handle("SYST:ERR?").startswith("-113,")
    assert k.handle("SYST:ERR?") == '+0,"No error"'
    r = RigolDP832()
    r.handle(":OUTP CH2,ON")
    assert r.handle(":OUTP? CH2") == "ON" and r.handle(":OUTP? CH1") == "OFF"
    assert r.handle(":SOUR1:VOLT 5;:SOUR1:VOLT?") == "5.000"
    assert r.handle("SYST:ERR?") == '0,"No error"'
    with pytest.raises(ScpiFault):
        channel_list("CH1")
