"""Operator prompts between a unit's pytest and the station that runs it.

A test asks through the ``operator`` fixture (:mod:`harness.station.operator`). Under a station
that can answer (``harness station serve``, or ``harness station run`` on a terminal: the
station sets :data:`ENV_PROMPTS`), the unit appends the prompt to its ``progress.jsonl`` as
``{"event": "prompt", ...}`` (:meth:`Prompt.as_event`) and waits for the file
``answers/<id>.json`` in its results directory. The station writes that file whole
(:func:`write_answer`, a rename) once the operator has answered; the unit then appends
``{"event": "prompt-closed", "id": ..., "outcome": ...}`` so every view of the slot closes the
dialog, whether it was answered, timed out or the unit was stopped.

Files rather than a socket: the unit already speaks to its station through its results
directory (progress, stop reason, result), which survives either side restarting, and the
prompt with its answer stays there to read after the fact.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import select
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

KINDS = ("confirm", "number", "choose")
ANSWERS_DIR = "answers"
# set by a station for its units: it shows prompts to an operator and writes the answers
ENV_PROMPTS = "HARNESS_STATION_PROMPTS"
MAX_TEXT = 2000  # characters of a prompt's text kept (and shown)
MAX_ANSWER = 200  # characters of an answer


@dataclass
class Prompt:
    """One question to the operator of a slot."""

    kind: str  # confirm | number | choose
    text: str
    name: str  # the answer's name in the record and in an answers file
    timeout: float  # seconds the operator has
    unit: str = ""  # number: the unit of the value asked for
    low: float | None = None  # number: limits (inclusive), None: open
    high: float | None = None
    options: list[str] = field(default_factory=list)  # choose
    image: str | None = None  # a picture to show with it (a path on the station's machine)
    id: str = field(default_factory=lambda: secrets.token_hex(8))

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"prompt kind {self.kind!r}: one of {', '.join(KINDS)}")
        self.text = str(self.text)[:MAX_TEXT]
        if self.kind == "choose":
            self.options = [str(o) for o in self.options]
            if not self.options:
                raise ValueError(f"prompt {self.name!r}: choose needs at least one option")
            if len(set(self.options)) != len(self.options):
                raise ValueError(f"prompt {self.name!r}: options repeat: {self.options}")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"prompt {self.name!r}: low {self.low} above high {self.high}")
        if not re.fullmatch(r"[0-9a-f]{16}", self.id):
            raise ValueError(f"prompt id {self.id!r}: 16 hex digits")

    def as_event(self) -> dict:
        return {"event": "prompt", **asdict(self)}

    @classmethod
    def from_event(cls, event: dict) -> Prompt:
        keys = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in event.items() if k in keys})

    def check(self, raw: object) -> bool | float | str:
        """The operator's raw answer as the value the test gets; ``ValueError`` says why it
        is not one (shown to the operator, who answers again)."""
        if self.kind == "confirm":
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word in ("ok", "yes", "y", "true", "1", "confirm", "confirmed"):
                return True
            if word in ("no", "n", "false", "0", "cancel", "refuse", "refused", "fail"):
                return False
            raise ValueError("answer OK or no")
        if self.kind == "number":
            text = str(raw).strip().replace(",", ".") if not isinstance(raw, (int, float)) \
                else raw
            try:
                value = float(text)
            except (TypeError, ValueError):
                raise ValueError(f"not a number: {str(raw)[:40]!r}") from None
            if not math.isfinite(value):
                raise ValueError("not a finite number")
            return value
        answer = str(raw)
        if answer not in self.options:
            raise ValueError(f"not one of the options: {answer[:MAX_ANSWER]!r}")
        return answer


def answers_dir(unit_dir: Path) -> Path:
    return Path(unit_dir) / ANSWERS_DIR


def answer_path(unit_dir: Path, prompt_id: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{16}", prompt_id):
        raise ValueError(f"prompt id {prompt_id!r}: 16 hex digits")
    return answers_dir(unit_dir) / f"{prompt_id}.json"


def write_answer(unit_dir: Path, prompt: Prompt, raw: object, operator: str) -> bool | float | str:
    """Check ``raw`` against ``prompt`` and write it for the unit, whole (a rename); returns
    the value. ``ValueError``: not an answer to this prompt; ``FileExistsError``: answered
    already (by another view of the same slot)."""
    value = prompt.check(raw)
    path = answer_path(unit_dir, prompt.id)
    path.parent.mkdir(exist_ok=True)
    if path.exists():
        raise FileExistsError(f"prompt {prompt.name!r} answered already")
    tmp = path.with_suffix(f".{os.getpid()}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps({"id": prompt.id, "answer": value,
                               "operator": str(operator)[:MAX_ANSWER]}))
    try:
        os.link(tmp, path)  # fails if another answer got there first
    finally:
        tmp.unlink()
    return value


def read_answer(unit_dir: Path, prompt_id: str) -> dict | None:
    """The answer the station wrote for ``prompt_id``, or None while there is none."""
    try:
        data = json.loads(answer_path(unit_dir, prompt_id).read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        return None  # not whole yet cannot happen (rename), but a hand-edited file can
    return data if isinstance(data, dict) and "answer" in data else None


# -- asking on a terminal (a unit's own pytest, or the CLI station for its units) -------------
def ask_on_terminal(prompt: Prompt, fd: int, out, deadline: float, *,
                    cancelled: Callable[[], bool] | None = None,
                    label: str = "") -> bool | float | str | None:
    """Ask ``prompt`` on the terminal (read from ``fd``, written to ``out``) until an answer
    fits; None when ``deadline`` (``time.monotonic()``) passes or ``cancelled()`` says the
    prompt closed first. ``EOFError``: the input ended. ``label`` names the slot and unit
    when several may ask."""
    out.write(f"\n=== operator{' ' + label if label else ''}: {prompt.text}\n")
    if prompt.image:
        out.write(f"    (picture: {prompt.image})\n")
    if prompt.kind == "choose":
        for n, option in enumerate(prompt.options, 1):
            out.write(f"    {n}) {option}\n")
    hint = {"confirm": "ok / no", "choose": "option or its number",
            "number": f"number{' in ' + prompt.unit if prompt.unit else ''}"}[prompt.kind]
    while True:
        out.write(f"[{prompt.name}] {hint} ({prompt.timeout:g} s)> ")
        out.flush()
        line = _read_line(fd, deadline, cancelled)
        if line is None:
            out.write("\n    not answered in time\n" if time.monotonic() >= deadline
                      else "\n    closed (the unit no longer waits for it)\n")
            out.flush()
            return None
        raw = line.strip()
        if prompt.kind == "choose" and raw not in prompt.options and raw.isdigit() \
                and 1 <= int(raw) <= len(prompt.options):
            raw = prompt.options[int(raw) - 1]
        try:
            return prompt.check(raw)
        except ValueError as exc:
            out.write(f"    {exc}\n")


def _read_line(fd: int, deadline: float, cancelled: Callable[[], bool] | None) -> str | None:
    """One line from ``fd``; None when ``deadline`` passes or ``cancelled()`` first."""
    got = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or (cancelled is not None and cancelled()):
            return None
        ready, _, _ = select.select([fd], [], [], min(left, 0.2))
        if not ready:
            continue
        byte = os.read(fd, 1)  # one at a time: nothing read past the line stays unseen
        if not byte:
            raise EOFError("the terminal's input ended while an operator prompt waited")
        if byte == b"\n":
            return got.decode("utf-8", "replace")
        got += byte
