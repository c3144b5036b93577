"""The operator's panel in real Chromium (Debian's, driven by Playwright), as a line operator uses
it: start of shift, a hostile scan refused, 4 serials scanned into 4 slots, prompts answered (one
while the network is down), one unit aborted, the page reloaded mid-test, verdicts seen; then the
record store checked. Screenshots of each state go to ``results/panel-*.png``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import select

from harness import patience
from harness.station import records as R
from tests.integration.station.panel_server import QUICK, ROOT, PanelServer

SHOTS = ROOT / "results"
SERIALS = ["W2644000201", "W2644000202", "W2644000203", "W2644000204"]
HOSTILE = '<img src=x onerror="window.pwned=1">'
OPERATOR = "Ann <b>&amp; 7"


def ms(seconds: float) -> float:
    return patience.limit(seconds) * 1000


@pytest.fixture
def browser():
    exe = shutil.which("chromium")
    assert exe, "chromium not found: apt-get install -y --no-install-recommends chromium"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, headless=True,
                               args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"panel-{name}.png"), full_page=True)


def slot(page: Page, n: int):
    return page.locator(f"#slot-{n}")


def scan(page: Page, serial: str) -> None:
    field = page.locator("#serial")
    expect(field).to_be_focused()  # a scanner types into whatever has the focus
    page.keyboard.type(serial)
    page.keyboard.press("Enter")


def answer_prompts(page: Page, n: int) -> None:
    """Answer slot n's three operator steps as an operator does (one wrong entry first)."""
    card = slot(page, n)
    prompt = card.locator(".prompt")
    expect(prompt).to_be_visible(timeout=ms(90))
    expect(prompt.locator(".prompt-text")).to_contain_text("harness cable")
    picture = prompt.locator("img.prompt-image")  # the connector's picture, from the station
    expect(picture).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                           arg=picture.element_handle())
    card.get_by_role("button", name="OK").click()
    expect(prompt.locator(".prompt-text")).to_contain_text("Door-lock lamp", timeout=ms(60))
    card.get_by_role("button", name="off", exact=True).click()
    expect(prompt.locator(".prompt-text")).to_contain_text("Mains voltage", timeout=ms(60))
    number = prompt.locator("input.number")
    number.fill("two hundred")
    number.press("Enter")
    expect(prompt.locator(".prompt-error")).to_contain_text("not a number")
    number.fill("230,5")  # a decimal comma is a decimal point
    number.press("Enter")
    expect(prompt).to_be_hidden(timeout=ms(60))


def test_an_operator_runs_four_slots_from_the_panel(browser, tmp_path):
    with PanelServer(tmp_path, *QUICK) as server:
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(ms(30))  # clicks, fills, screenshots: scaled like every wait
        page.goto(server.url)

        # start of shift: the operator id, however odd, is text
        expect(page.locator("#shift-dialog")).to_be_visible()
        page.locator("#operator-id").fill(OPERATOR)
        page.keyboard.press("Enter")
        expect(page.locator("#operator")).to_have_text(OPERATOR)
        expect(page.locator("#serial")).to_be_focused()
        shot(page, "idle")

        # a hostile serial: refused with the reason, shown as text, nothing executed
        scan(page, HOSTILE)
        msg = page.locator("#scan-message")
        expect(msg).to_contain_text("REFUSED")
        expect(msg).to_contain_text(HOSTILE)
        expect(msg).to_contain_text("does not match the product's pattern")
        assert page.evaluate("window.pwned") is None
        assert page.locator("img[src=x]").count() == 0

        for sn in SERIALS:
            scan(page, sn)
        for n, sn in enumerate(SERIALS, 1):
            expect(slot(page, n).locator(".serial")).to_have_text(sn)
        scan(page, SERIALS[0])  # the same unit again, while it tests
        expect(msg).to_contain_text("already testing in slot 1")

        # running: live steps and measurements against their limits
        expect(slot(page, 1).locator(".measurements")).to_contain_text("boot_to_ready",
                                                                        timeout=ms(90))
        expect(slot(page, 1).locator(".step")).not_to_be_empty()
        shot(page, "running")

        # abort slot 4: a second press confirms
        abort = slot(page, 4).get_by_role("button", name="Abort")
        abort.click()
        slot(page, 4).get_by_role("button", name="Confirm abort").click()
        expect(slot(page, 4).locator(".verdict")).to_have_text("ABORTED", timeout=ms(60))

        # a prompt, then a reload while it is open: the page comes back with it
        expect(slot(page, 1).locator(".prompt")).to_be_visible(timeout=ms(90))
        shot(page, "prompt")
        page.reload()
        expect(page.locator("#operator")).to_have_text(OPERATOR)
        for n, sn in enumerate(SERIALS, 1):
            expect(slot(page, n).locator(".serial")).to_have_text(sn)
        expect(slot(page, 1).locator(".prompt")).to_be_visible()

        answer_prompts(page, 1)
        # slot 3 next: its first prompt has been open since the slots started, and the
        # operator has 120 s of it (not scaled by the machine's load)
        answer_prompts(page, 3)
        # the network drops while the operator answers: the answer arrives once it is back
        expect(slot(page, 2).locator(".prompt")).to_be_visible(timeout=ms(90))
        context.set_offline(True)
        slot(page, 2).get_by_role("button", name="OK").click()
        page.wait_for_timeout(1500)
        context.set_offline(False)
        expect(slot(page, 2).locator(".prompt-text")).to_contain_text("Door-lock lamp",
                                                                       timeout=ms(60))
        expect(page.locator("#link")).to_have_text("live", timeout=ms(30))
        slot(page, 2).get_by_role("button", name="off", exact=True).click()
        number = slot(page, 2).locator("input.number")
        expect(number).to_be_visible(timeout=ms(60))
        number.fill("229")
        number.press("Enter")

        for n in (1, 2, 3):
            expect(slot(page, n).locator(".verdict")).to_have_text("PASS", timeout=ms(120))
        expect(page.locator("#c-units")).to_have_text("4")
        expect(page.locator("#c-pass")).to_have_text("3")
        expect(page.locator("#last tbody tr")).to_have_count(4)
        expect(page.locator("#capability")).to_contain_text("boot_to_ready")
        shot(page, "verdict")
        context.close()
        assert server.stop() == 0  # nothing was running: a clean stop
    check_records(server)


def check_records(server: PanelServer) -> None:
    engine = R.make_engine(server.db)
    try:
        with engine.connect() as conn:
            runs = conn.execute(select(R.runs.c.id, R.runs.c.serial, R.runs.c.operator,
                                       R.runs.c.station, R.run_ends.c.outcome,
                                       R.run_ends.c.reason)
                                .select_from(R.runs.outerjoin(
                                    R.run_ends, R.run_ends.c.run_id == R.runs.c.id))).all()
            prompts = conn.execute(select(R.prompts.c.run_id, R.prompts.c.name,
                                          R.prompts.c.answer_text, R.prompts.c.outcome,
                                          R.prompts.c.operator)).all()
    finally:
        engine.dispose()
    by_serial = {r.serial: r for r in runs}
    assert sorted(by_serial) == SERIALS and len(runs) == 4, runs  # no run lost or doubled
    assert {r.operator for r in runs} == {OPERATOR}
    assert {r.station for r in runs} == {"line-7"}
    assert [by_serial[s].outcome for s in SERIALS] == ["pass", "pass", "pass", "aborted"]
    assert "aborted by operator" in by_serial[SERIALS[3]].reason
    answered = [(p.name, p.answer_text, p.outcome) for p in prompts
                if p.run_id == by_serial[SERIALS[1]].id]
    assert answered == [("harness-cable", "ok", "answered"), ("door-lock-lamp", "off",
                                                                "answered"),
                        ("mains-voltage", "229.0 V", "answered")], answered
    assert {p.operator for p in prompts if p.outcome == "answered"} == {OPERATOR}
    verify = subprocess.run([sys.executable, "-m", "harness", "records", "verify",
                             f"--db={server.db}"], capture_output=True, text=True, cwd=ROOT,
                            timeout=patience.limit(60))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    report = server.results / "report.html"
    subprocess.run([sys.executable, "-m", "harness", "report", f"--db={server.db}",
                    f"--out={report}"], check=True, cwd=ROOT, timeout=patience.limit(120))
    html = report.read_text()
    assert "operator asked <q>Fit the harness cable to the motor connector X3" in html
    assert f"<b>ok</b> (answered, {escape(OPERATOR)}, " in html  # the operator's id as text


def test_the_panel_refuses_what_a_browser_of_another_site_or_name_sends(tmp_path):
    """CSRF header, host check, token: with real HTTP requests against the real server."""
    import urllib.error
    import urllib.request

    def call(url: str, data: dict | None = None, headers: dict | None = None):
        req = urllib.request.Request(url, data=json.dumps(data).encode() if data else None,
                                     headers=headers or {}, method="POST" if data else "GET")
        try:
            with urllib.request.urlopen(req, timeout=patience.limit(10)) as r:
                return r.status, json.loads(r.read() or b"{}") if data else r.read()
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    with PanelServer(tmp_path, slots=1) as server:
        base = server.url
        status, body = call(base + "api/shift", {"operator": "x"})
        assert status == 403 and "x-harness-panel" in body["reason"]
        status, body = call(base + "api/state", headers={"Host": "attacker.example"})
        assert status == 421
        status, body = call(base + "api/scan", {"serial": "W2644000301", "request_id": "r"},
                            headers={"X-Harness-Panel": "1"})
        assert status == 400 and "request id" in body["reason"]
        status, body = call(base + "api/scan", {"serial": "W2644000301",
                                                "request_id": "req-00000001"},
                            headers={"X-Harness-Panel": "1"})
        assert status == 409 and body["reason"] == "enter your operator id first"
    assert server.proc is not None and server.proc.returncode == 0


@pytest.fixture
def no_token_env(monkeypatch):
    monkeypatch.delenv("HARNESS_PANEL_TOKEN", raising=False)


def _started(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                          timeout=patience.limit(60), stdin=subprocess.DEVNULL)


def test_binding_beyond_loopback_needs_a_token(tmp_path, no_token_env):
    argv = PanelServer(tmp_path, "--host=0.0.0.0", slots=1).argv
    res = _started(argv)
    assert res.returncode == 2
    assert "--token" in res.stderr and "0.0.0.0" in res.stderr
    assert not Path(tmp_path / "records.db").exists()  # refused before anything was made


def test_with_a_token_every_request_carries_it(tmp_path, browser):
    import urllib.error
    import urllib.request

    with PanelServer(tmp_path, "--token=s3cret-line-7", slots=1) as server:
        assert server.url.endswith("?token=s3cret-line-7")
        bare = server.url.split("?")[0]
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bare + "api/state", timeout=patience.limit(10))
        assert refused.value.code == 401
        req = urllib.request.Request(bare + "api/state",
                                     headers={"Authorization": "Bearer s3cret-line-7"})
        with urllib.request.urlopen(req, timeout=patience.limit(10)) as r:
            assert json.loads(r.read())["station"] == "line-7"
        page = browser.new_page()
        page.goto(server.url)  # the token once, then a cookie
        assert page.url == bare
        expect(page.locator("#station")).to_have_text("line-7")
        expect(page.locator("#link")).to_have_text("live")
        page.close()
