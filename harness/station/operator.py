"""The ``operator`` fixture: a test asks the person at the station, and the answer is recorded.

::

    def test_assembly(operator):
        operator.confirm("Close the lid, then press OK")
        operator.ask_number("Reading of the panel meter", "V", limits=(11.5, 12.5))
        operator.choose("Colour of the status LED?", ["green", "red", "off"])

Each question has a name (``name=``, else a slug of its text) that names its answer in the
record and in an answers file. The answer comes from, the first that applies:

1. ``--operator-answers FILE``: a YAML mapping of prompt name to answer (every scalar read as
   text, so ``no`` stays the word ``no``), or ``{operator: NAME, answers: {...}}`` to say who
   gave them. A prompt the file does not answer, or an answer that does not fit, errors the test
   at once, naming the file and the prompt.
2. A station that answers prompts (it sets :data:`~harness.station.prompts.ENV_PROMPTS` for the
   unit, which runs with ``--serial``): the prompt goes out in ``progress.jsonl`` and the
   answer comes back as a file (:mod:`harness.station.prompts`).
3. A terminal: the question is asked there (pytest's capture suspended meanwhile), again after
   an answer that does not fit.
4. Nobody: the test errors at once.

``confirm`` answered no fails the test (:class:`OperatorDeclined`); ``ask_number`` is also a
measurement against its inline limits and fails the test out of them, like ``measure``; a
prompt not answered in time errors it (:class:`OperatorTimeout`). With ``--serial`` every
prompt is a row of the run's record (``prompts``: answered, declined, timeout or stopped);
always, an answer is a property of the test (``prompt.<name>``) in the JUnit XML.

Only pytest is imported at start-up: the limits' pydantic loads with the first number asked.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import DutFailure, HarnessError
from .prompts import ENV_PROMPTS, Prompt, ask_on_terminal, read_answer

if TYPE_CHECKING:
    from .limits import Limit
    from .run import StationRun

DEFAULT_TIMEOUT = 120.0  # s the operator has to answer
POLL = 0.05  # s between looks for a station's answer
MAX_NAME = 64
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_ANSWERS = pytest.StashKey["AnswersFile | None"]()
Value = bool | float | str


class OperatorError(HarnessError):
    """A prompt that could not be put or answered: the test errors."""


class OperatorTimeout(OperatorError):
    """The operator did not answer in time."""


class OperatorDeclined(DutFailure):
    """The operator answered no to a confirmation: the test fails."""


def slug(text: str) -> str:
    """A prompt's default name: its text in lower case, runs of anything but ``[a-z0-9]`` as one
    ``-`` (accents dropped), at most :data:`MAX_NAME` characters."""
    plain = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    name = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")[:MAX_NAME].rstrip("-")
    return name or "prompt"


# -- the answers file ------------------------------------------------------------------------
@dataclass(frozen=True)
class AnswersFile:
    path: Path
    answers: dict[str, str]
    operator: str | None = None  # who gave the answers, when the file says

    @property
    def who(self) -> str:
        return self.operator or f"answers file {self.path}"

    @classmethod
    def load(cls, path: Path) -> AnswersFile:
        """Read ``path``; ``ValueError`` says what is wrong with it, naming it."""
        import yaml

        try:
            doc = yaml.load(Path(path).read_text(), Loader=yaml.BaseLoader)  # scalars as text
        except OSError as exc:
            raise ValueError(f"--operator-answers {path}: {exc.strerror or exc}") from None
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ValueError(f"--operator-answers {path}: not YAML: {exc}") from None
        operator = None
        if isinstance(doc, dict) and isinstance(doc.get("answers"), dict):
            extra = sorted(set(doc) - {"answers", "operator"})
            if extra:
                raise ValueError(f"--operator-answers {path}: unknown keys {extra} beside "
                                 f"'answers' (only 'operator' may go with it)")
            operator = doc.get("operator")
            if operator is not None and (not isinstance(operator, str) or not operator.strip()):
                raise ValueError(f"--operator-answers {path}: 'operator' must be a name")
            doc = doc["answers"]
        if not isinstance(doc, dict):
            raise ValueError(f"--operator-answers {path}: not a mapping of prompt name to "
                             f"answer")
        bad = sorted(str(k) for k, v in doc.items() if not isinstance(v, str))
        if bad:
            raise ValueError(f"--operator-answers {path}: the answer to {bad} is not a single "
                             f"value")
        return cls(Path(path), {str(k): v for k, v in doc.items()}, operator)


def configure(config: pytest.Config) -> None:
    """Load ``--operator-answers`` (at configure time: a bad file is a usage error)."""
    given = config.getoption("operator_answers", None)
    if given is None:
        config.stash[_ANSWERS] = None
        return
    try:
        config.stash[_ANSWERS] = AnswersFile.load(Path(given))
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


# -- inline limits of a number ---------------------------------------------------------------
@functools.cache
def _inline_limit_type() -> type[Limit]:
    from pydantic import Field

    from .limits import Limit

    class InlineLimit(Limit):
        """A limit given by a prompt: named like the prompt, both ends may be open."""

        name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=128)

        def model_post_init(self, context: object) -> None:
            if self.low is not None or self.high is not None:
                super().model_post_init(context)

    return InlineLimit


def inline_limit(name: str, unit: str, low: float | None, high: float | None) -> Limit:
    return _inline_limit_type()(name=name, unit=unit, low=low, high=high)


def limit_sha256(limit: Limit) -> str:
    """sha256 of the inline limit's canonical JSON (keys sorted, no spaces)."""
    text = json.dumps(limit.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- the fixture -----------------------------------------------------------------------------
class Operator:
    """Questions to the operator from a test (module docstring)."""

    def __init__(self, request: pytest.FixtureRequest, run: StationRun | None = None) -> None:
        self._item = request.node
        self._config = request.config
        self._station = run  # the unit's run with --serial: prompts are recorded

    def confirm(self, text: str, image: str | None = None, *, name: str | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> None:
        """The operator presses OK; an operator who declines fails the test."""
        __tracebackhide__ = True
        prompt = self._prompt("confirm", text, name, timeout, image=image)
        if self._ask(prompt) is False:
            raise OperatorDeclined(f"operator declined: {prompt.text}")

    def ask_number(self, text: str, unit: str,
                   limits: tuple[float | None, float | None] | None = None, *,
                   name: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> float:
        """A number the operator reads or enters; judged (and recorded) against ``limits``,
        out of them the test fails."""
        __tracebackhide__ = True
        from .limits import MeasurementFailure

        low, high = limits if limits is not None else (None, None)
        prompt = self._prompt("number", text, name, timeout, unit=unit, low=low, high=high)
        if not isinstance(unit, str) or not 1 <= len(unit) <= 16:
            raise OperatorError(f"operator prompt {prompt.name!r}: unit {unit!r}: 1 to 16 "
                                f"characters")
        try:
            limit = inline_limit(prompt.name, unit, low, high)
        except ValueError as exc:
            raise OperatorError(f"operator prompt {prompt.name!r}: {_why(exc)}") from None
        value = float(self._ask(prompt))
        verdict = limit.judge(value, unit)
        run = self._run()
        if run is not None:
            run.measurement(self._item, verdict, limit_sha256(limit))
        self._item.user_properties.append(
            (f"measurement.{limit.name}", f"{verdict.value!r} {unit} {verdict.outcome}"))
        if not verdict.passed:
            raise MeasurementFailure(verdict)
        return value

    def choose(self, text: str, options: list[str] | tuple[str, ...], *,
               name: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> str:
        """One of ``options``, as the operator picked it."""
        __tracebackhide__ = True
        return str(self._ask(self._prompt("choose", text, name, timeout,
                                          options=list(options))))

    # -- asking ------------------------------------------------------------------------------
    def _prompt(self, kind: str, text: str, name: str | None, timeout: float,
                **more: Any) -> Prompt:
        __tracebackhide__ = True
        if name is None:
            name = slug(text)
        elif not isinstance(name, str) or not NAME.fullmatch(name):
            raise OperatorError(f"operator prompt name {name!r}: lower case letters, digits, "
                                f"'-', '_' and '.', at most {MAX_NAME} characters")
        if not timeout > 0:
            raise OperatorError(f"operator prompt {name!r}: timeout {timeout!r} s, give more "
                                f"than 0")
        try:
            return Prompt(kind=kind, text=text, name=name, timeout=float(timeout), **more)
        except (ValueError, TypeError) as exc:  # Prompt's own messages name the prompt
            why = str(exc)
            raise OperatorError(f"operator {why}" if why.startswith("prompt ")
                                else f"operator prompt {name!r}: {why}") from None

    def _run(self) -> StationRun | None:
        return self._station

    def _ask(self, prompt: Prompt) -> Value:
        """The answer, recorded; a timeout or a stop is recorded as such, then raised."""
        __tracebackhide__ = True
        asked = _now_ms()
        run = self._run()
        try:
            value, who = self._answer(prompt, run)
        except OperatorTimeout:
            self._record(run, prompt, "timeout", None, "", asked, quiet=False)
            raise
        except KeyboardInterrupt:  # stopped (a station's SIGTERM) while the operator thought
            self._record(run, prompt, "stopped", None, "", asked, quiet=True)
            raise
        outcome = "declined" if value is False else "answered"
        self._record(run, prompt, outcome, value, who, asked, quiet=False)
        self._item.user_properties.append((f"prompt.{prompt.name}", _text(prompt, value)))
        return value

    def _answer(self, prompt: Prompt, run: StationRun | None) -> tuple[Value, str]:
        __tracebackhide__ = True
        answers = self._config.stash.get(_ANSWERS, None)
        if answers is not None:
            return self._from_file(answers, prompt)
        if run is not None and os.environ.get(ENV_PROMPTS, "") not in ("", "0"):
            return self._from_station(run, prompt)
        found = self._from_terminal(prompt)
        if found is not None:
            return found
        raise OperatorError(f"operator prompt {prompt.name!r} (\"{prompt.text}\") has no one to "
                            f"answer it: run on a terminal, under a station, or give "
                            f"--operator-answers FILE")

    def _from_file(self, answers: AnswersFile, prompt: Prompt) -> tuple[Value, str]:
        __tracebackhide__ = True
        if prompt.name not in answers.answers:
            raise OperatorError(f"{answers.path}: no answer to operator prompt {prompt.name!r} "
                                f"(\"{prompt.text}\")")
        try:
            return prompt.check(answers.answers[prompt.name]), answers.who
        except ValueError as exc:
            raise OperatorError(f"{answers.path}: the answer to operator prompt "
                                f"{prompt.name!r} does not fit: {exc}") from None

    def _from_station(self, run: StationRun, prompt: Prompt) -> tuple[Value, str]:
        """Ask through the unit's results directory (:mod:`.prompts`) and wait for the file."""
        __tracebackhide__ = True
        run.prompt_event(self._item, prompt.as_event())
        outcome, answer = "error", None
        try:
            deadline = time.monotonic() + prompt.timeout
            while True:
                data = read_answer(run.results, prompt.id)
                if data is not None:
                    try:
                        value = prompt.check(data["answer"])
                    except ValueError as exc:
                        raise OperatorError(f"operator prompt {prompt.name!r}: the station's "
                                            f"answer does not fit: {exc}") from None
                    outcome, answer = "answered", value
                    return value, str(data.get("operator") or self._config.getoption(
                        "operator", "unknown"))
                left = deadline - time.monotonic()
                if left <= 0:
                    outcome = "timeout"
                    raise self._timeout(prompt)
                time.sleep(min(POLL, left))  # a stop signal raises out of here
        except KeyboardInterrupt:
            outcome = "stopped"
            raise
        finally:
            run.prompt_event(self._item, {"event": "prompt-closed", "id": prompt.id,
                                          "name": prompt.name, "outcome": outcome,
                                          "answer": answer})

    def _from_terminal(self, prompt: Prompt) -> tuple[Value, str] | None:
        """Ask on the terminal, when stdin is one; None when it is not."""
        __tracebackhide__ = True
        with _uncaptured(self._config):
            stdin = sys.stdin
            try:
                if stdin is None or not stdin.isatty():
                    return None
                fd = stdin.fileno()
            except (ValueError, OSError):  # closed, or not a real file
                return None
            return _ask_terminal(prompt, fd, self._timeout(prompt)), str(
                self._config.getoption("operator", "unknown"))

    def _timeout(self, prompt: Prompt) -> OperatorTimeout:
        slot = self._config.getoption("slot", None)
        where = f" on slot {slot}" if slot is not None else ""
        return OperatorTimeout(f"operator prompt {prompt.name!r} (\"{prompt.text}\"){where}: "
                               f"not answered within {prompt.timeout:g} s")

    def _record(self, run: StationRun | None, prompt: Prompt, outcome: str,
                value: Value | None, who: str, asked_ms: int, *, quiet: bool) -> None:
        """The prompt's row in the run's record (with ``--serial``); ``quiet``: a failure to
        write it does not replace the exception under way (the run is lost and says why)."""
        if run is None:
            return
        from .records import RecordError

        row = dict(name=prompt.name, kind=prompt.kind, text=prompt.text,
                   answer_text=_text(prompt, value) if value is not None else "",
                   value=float(value) if prompt.kind == "number" and value is not None
                   else None,
                   unit=prompt.unit, low=prompt.low, high=prompt.high, outcome=outcome,
                   operator=who, asked_ms=asked_ms,
                   answered_ms=_now_ms() if value is not None else None)
        try:
            run.prompt(self._item, **row)
        except (RecordError, OSError):
            if not quiet:
                raise


def _why(exc: ValueError) -> str:
    """A limit's validation error in one line."""
    errors = getattr(exc, "errors", None)  # pydantic's ValidationError
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
                         for e in errors())
    return str(exc)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(prompt: Prompt, value: Value) -> str:
    """An answer as the record and the JUnit XML keep it."""
    if prompt.kind == "confirm":
        return "ok" if value else "no"
    if prompt.kind == "number":
        return f"{float(value)!r} {prompt.unit}".rstrip()
    return str(value)


# -- the terminal ----------------------------------------------------------------------------
@contextmanager
def _uncaptured(config: pytest.Config) -> Iterator[None]:
    """pytest's capture suspended, stdin's too (as for a debugger), then resumed."""
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is None or not capman.is_capturing():
        yield
        return
    capman.suspend(in_=True)
    try:
        yield
    finally:
        capman.resume()


def _ask_terminal(prompt: Prompt, fd: int, timeout: OperatorTimeout) -> Value:
    """Ask until an answer fits, at most ``prompt.timeout`` s (then ``timeout`` is raised)."""
    try:
        value = ask_on_terminal(prompt, fd, sys.stdout, time.monotonic() + prompt.timeout)
    except EOFError:
        raise OperatorError("the terminal's input ended while an operator prompt waited"
                            ) from None
    if value is None:
        raise timeout
    return value
