"""A console flooded with 1 MB of line noise: nothing lost, nothing hangs, errors stay readable.

The chip is tinyrepl (tests/foreign), a firmware not written for the harness, whose ``noise``
command prints pseudo-random bytes of every value — NUL, CR, LF, ESC, invalid UTF-8 — from a
seed, so the test knows every byte that must arrive.
"""

from pathlib import Path

import pytest

FOREIGN = Path(__file__).resolve().parents[1] / "foreign"

INNER = r'''
import re

import pytest

from harness.errors import ConsoleTimeout

SIZE, SEED = 1 << 20, 12345


def noise(n, seed):
    x, out = seed, bytearray()
    for _ in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out.append(x >> 24)
    return bytes(out)


def test_flood(dut):
    con = dut.console
    mark = con.mark()
    con.sendline(f"noise {SIZE} {SEED}")
    # the unique line after the flood: the console is back in step whatever the noise held
    con.sendline("echo end-of-noise")
    con.expect(r"^end-of-noise$", timeout=60)
    got = con.read_since(mark)
    sent = noise(SIZE, SEED).decode("utf-8", "replace").replace("\r\n", "\n")
    assert sent in got, "bytes of the flood were lost or changed"
    assert dut.command("add 2 40") == "42"  # the shell still works
    with pytest.raises(ConsoleTimeout) as e:
        con.expect("^never printed$", timeout=0.2, since=mark)
    msg = str(e.value)
    # the error shows the last lines, each cut short, control characters escaped
    assert len(msg) < 4000, len(msg)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", msg), msg[:400]
    assert "42" in msg
    log = con.log.path.read_text(encoding="utf-8")
    assert "end-of-noise" in log and len(log) > SIZE
    assert not con.closed  # the reader lives on
'''


@pytest.mark.parametrize("world", ["qemu", "pyocd"])
def test_a_megabyte_of_line_noise_is_kept_whole_and_the_shell_goes_on(pytester, world):
    pytester.makeini(f"""
        [pytest]
        harness_targets_dir = {FOREIGN / 'targets'}
    """)
    pytester.makepyfile(test_flood=INNER)
    args = ["--probe", "qemu:auto"] if world == "pyocd" else []
    result = pytester.runpytest_subprocess("--target", "foreign-repl", "--world", world, *args,
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
