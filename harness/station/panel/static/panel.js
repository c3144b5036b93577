// The operator's panel. Every text from the station goes through textContent: a serial number
// or an answer can hold anything, and none of it is ever parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const VERDICTS = ["pass", "fail", "error", "aborted"];
const BUSY = ["testing", "stopping"];

let snap = null;          // the latest snapshot
let offset = 0;           // server clock - this clock, ms
let lastScan = null;      // the scan answer shown (every view shows the latest)
const cards = new Map();  // slot number -> card element
const shownPrompts = new Map();  // slot -> prompt id whose inputs are built

function post(path, body) {
  return fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Harness-Panel": "1"},
    body: JSON.stringify(body || {}),
  }).then(async (r) => {
    let data = {};
    try { data = await r.json(); } catch (e) { data = {ok: false, reason: `HTTP ${r.status}`}; }
    return {status: r.status, data};
  });
}

// A change sent again after a network drop carries the same request id: the station answers
// it once (a scan never starts two runs).
async function postRetrying(path, body, tries = 30) {
  for (let i = 0; ; i++) {
    try { return await post(path, body); } catch (e) {
      if (i >= tries) throw e;
      setLink(false);
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  }
}

function requestId() {
  const a = new Uint8Array(12);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
}

function setText(el, text) { if (el.textContent !== text) el.textContent = text; }
function num(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3)
    : String(Number(v.toPrecision(6)));
}
function limits(lo, hi, unit) {
  const u = unit ? ` ${unit}` : "";
  if (lo === null && hi === null) return "";
  if (lo === null) return `≤ ${num(hi)}${u}`;
  if (hi === null) return `≥ ${num(lo)}${u}`;
  return `${num(lo)} … ${num(hi)}${u}`;
}
function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(r).padStart(2, "0")}`;
}
function now() { return Date.now() + offset; }

// -- focus: the serial field has it unless the operator is answering something --------------
function focusSerial() {
  const a = document.activeElement;
  if (!$("shift-dialog").hidden) return;
  if (a && a !== document.body && a.closest && a.closest(".prompt, .dialog")) return;
  $("serial").focus();
}
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") { $("serial").focus(); }
});
setInterval(() => {
  const a = document.activeElement;
  if (!a || a === document.body) focusSerial();
}, 300);

// -- scanning ---------------------------------------------------------------------------------
$("scan-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const serial = $("serial").value;
  $("serial").value = "";
  if (!serial.trim()) return;
  const msg = $("scan-message");
  try {
    const {data} = await postRetrying("/api/scan", {serial, request_id: requestId()});
    showScan(data);
  } catch (err) {
    msg.className = "scan-message refused";
    setText(msg, `not sent: the station cannot be reached (${err})`);
  }
  focusSerial();
});

let scanShown = 0;  // when the scan message was set: it clears after a while
setInterval(() => {
  if (scanShown && Date.now() - scanShown > 30000) {
    scanShown = 0;
    $("scan-message").className = "scan-message";
    setText($("scan-message"), "");
  }
}, 1000);

function showScan(a) {
  if (!a) return;
  scanShown = Date.now();
  const msg = $("scan-message");
  msg.className = "scan-message " + (a.ok ? "started" : "refused");
  setText(msg, a.ok ? `${a.shown} → slot ${a.slot}`
    : `REFUSED ${a.shown === undefined ? "" : a.shown}: ${a.reason}`);
}

// -- the shift --------------------------------------------------------------------------------
function askOperator() {
  $("shift-dialog").hidden = false;
  $("operator-id").value = snap && snap.operator ? snap.operator : "";
  $("operator-id").focus();
}
$("change-operator").addEventListener("click", askOperator);
$("shift-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const {status, data} = await postRetrying("/api/shift", {operator: $("operator-id").value});
  if (status === 200) {
    $("shift-dialog").hidden = true;
    setText($("shift-error"), "");
    $("serial").focus();
  } else {
    setText($("shift-error"), data.reason || `refused (${status})`);
  }
});

// -- slots ------------------------------------------------------------------------------------
function card(slot) {
  let el = cards.get(slot);
  if (el) return el;
  el = $("slot-template").content.firstElementChild.cloneNode(true);
  el.dataset.slot = String(slot);
  el.id = `slot-${slot}`;
  setText(el.querySelector(".slot-name"), `Slot ${slot}`);
  const abort = el.querySelector(".abort");
  abort.addEventListener("click", () => {
    if (!abort.classList.contains("armed")) {  // a second press within 4 s aborts
      abort.classList.add("armed");
      setText(abort, "Confirm abort");
      setTimeout(() => { abort.classList.remove("armed"); setText(abort, "Abort"); }, 4000);
      return;
    }
    abort.classList.remove("armed");
    setText(abort, "Abort");
    postRetrying(`/api/slots/${slot}/abort`, {});
    focusSerial();
  });
  el.querySelector(".prompt").addEventListener("submit", (e) => e.preventDefault());
  $("slots").appendChild(el);
  cards.set(slot, el);
  return el;
}

function renderSlot(s) {
  const el = card(s.slot);
  el.className = `slot ${s.state}`;
  setText(el.querySelector(".state"), s.state);
  setText(el.querySelector(".serial"), s.serial || "—");
  setText(el.querySelector(".step"), s.step ? `▶ ${s.step}` : "");
  const pct = s.total ? Math.round((100 * s.done) / s.total) : 0;
  el.querySelector(".fill").style.width = `${pct}%`;
  setText(el.querySelector(".count"), s.total ? `${s.done} / ${s.total} tests` : "");
  el.querySelector(".abort").hidden = s.state !== "testing";
  const v = el.querySelector(".verdict");
  v.hidden = !VERDICTS.includes(s.state);
  setText(v, VERDICTS.includes(s.state) ? s.state.toUpperCase() : "");
  const why = s.failed_steps.length ? `failed: ${s.failed_steps.join(", ")}` : "";
  setText(el.querySelector(".reason"), [why, s.reason].filter(Boolean).join(" — "));
  renderMeasurements(el.querySelector(".measurements tbody"), s.measurements);
  renderPrompt(el, s);
}

function renderMeasurements(body, ms) {
  while (body.rows.length > ms.length) body.deleteRow(-1);
  ms.forEach((m, i) => {
    const row = body.rows[i] || body.insertRow();
    while (row.cells.length < 4) row.insertCell();
    row.className = m.outcome;
    row.cells[0].className = "name"; setText(row.cells[0], m.name);
    row.cells[1].className = "value"; setText(row.cells[1], `${num(m.value)} ${m.unit}`);
    row.cells[2].className = "limits"; setText(row.cells[2], limits(m.low, m.high, m.unit));
    row.cells[3].className = "outcome"; setText(row.cells[3], m.outcome.toUpperCase());
  });
}

function button(text, cls, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function renderPrompt(el, s) {
  const form = el.querySelector(".prompt");
  const p = s.prompt;
  form.hidden = !p;
  if (!p) { shownPrompts.delete(s.slot); return; }
  setText(form.querySelector(".prompt-error"), s.prompt_error || "");
  const left = (p.since_ms || now()) + p.timeout * 1000 - now();
  setText(form.querySelector(".prompt-time"), `time left ${clock(left)}`);
  if (shownPrompts.get(s.slot) === p.id) return;  // built already: keep what is typed
  shownPrompts.set(s.slot, p.id);
  setText(form.querySelector(".prompt-text"), p.text);
  const img = form.querySelector(".prompt-image");
  img.hidden = !p.image;
  if (p.image) img.src = `/api/slots/${s.slot}/image?prompt=${encodeURIComponent(p.id)}`;
  const inputs = form.querySelector(".prompt-inputs");
  inputs.replaceChildren();
  const send = async (answer) => {
    const {status, data} = await postRetrying(`/api/slots/${s.slot}/answer`,
      {prompt_id: p.id, answer});
    if (status !== 200) setText(form.querySelector(".prompt-error"), data.reason || `${status}`);
    else focusSerial();
  };
  if (p.kind === "confirm") {
    inputs.append(button("OK", "primary", () => send(true)),
      button("Cannot", "decline", () => send(false)));
  } else if (p.kind === "number") {
    const input = document.createElement("input");
    input.type = "text";
    input.inputMode = "decimal";
    input.className = "number";
    const unit = document.createElement("span");
    unit.textContent = `${p.unit || ""}  ${limits(p.low, p.high, p.unit)}`;
    const ok = button("Enter", "primary", () => send(input.value));
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); ok.click(); } });
    inputs.append(input, unit, ok);
    if (!$("serial").value) input.focus();
  } else {
    p.options.forEach((o) => inputs.append(button(o, "option", () => send(o))));
  }
}

// -- shift figures ----------------------------------------------------------------------------
function renderShift(sn) {
  const c = sn.counters;
  setText($("c-units"), String(c.units));
  setText($("c-fpy"), c.fpy === null ? "–" : `${(100 * c.fpy).toFixed(1)} %`);
  setText($("c-uph"), c.uph === null ? "–" : String(Math.round(c.uph)));
  setText($("c-pass"), String(c.passed));
  setText($("c-fail"), String(c.failed));
  setText($("c-error"), String(c.errors));
  const body = $("last").tBodies[0];
  body.replaceChildren();
  sn.last.forEach((r) => {
    const row = body.insertRow();
    const cells = [r.serial, String(r.slot), r.outcome.toUpperCase(),
      r.seconds === null ? "" : `${r.seconds.toFixed(1)} s`, r.run_id === null ? "–" : String(r.run_id)];
    cells.forEach((t, i) => { const td = row.insertCell(); td.textContent = t; });
    row.cells[0].className = "serial";
    row.cells[2].className = `v-${r.outcome}`;
    if (r.reason) row.title = r.reason;
  });
  const cap = $("capability").tBodies[0];
  cap.replaceChildren();
  sn.capability.forEach((m) => {
    const row = cap.insertRow();
    row.insertCell().textContent = `${m.name} [${m.unit}]`;
    row.insertCell().textContent = String(m.n);
    row.insertCell().textContent = m.cp === null ? "–" : m.cp.toFixed(2);
    row.insertCell().textContent = m.cpk === null ? "–" : m.cpk.toFixed(2);
    const td = row.insertCell();
    td.append(spark(m.trend, m.low, m.high));
    if (m.note) { const n = document.createElement("div"); n.className = "note"; n.textContent = m.note; td.append(n); }
  });
}

function spark(values, lo, hi) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 120 26");
  const xs = values.filter((v) => Number.isFinite(v));
  if (xs.length < 2) return svg;
  let min = Math.min(...xs), max = Math.max(...xs);
  if (max === min) { min -= 1; max += 1; }
  const y = (v) => 24 - ((v - min) / (max - min)) * 22;
  const line = document.createElementNS(SVG, "polyline");
  line.setAttribute("points", xs.map((v, i) => `${(i * 118) / (xs.length - 1) + 1},${y(v).toFixed(1)}`).join(" "));
  svg.append(line);
  [lo, hi].forEach((l) => {
    if (l === null || l < min || l > max) return;
    const ln = document.createElementNS(SVG, "line");
    ln.setAttribute("x1", "0"); ln.setAttribute("x2", "120");
    ln.setAttribute("y1", y(l).toFixed(1)); ln.setAttribute("y2", y(l).toFixed(1));
    svg.append(ln);
  });
  return svg;
}

// -- the whole page from one snapshot -----------------------------------------------------------
function render(sn) {
  snap = sn;
  offset = sn.now_ms - Date.now();
  setText($("station"), sn.station);
  setText($("product"), `${sn.product.name} · ${sn.product.part_number}`);
  setText($("operator"), sn.operator || "—");
  document.title = `${sn.station} · station panel`;
  if (!sn.operator && $("shift-dialog").hidden) askOperator();
  sn.slots.forEach(renderSlot);
  renderShift(sn);
  if (sn.scan && sn.scan.at_ms !== lastScan && now() - sn.scan.at_ms < 30000) {
    lastScan = sn.scan.at_ms;
    showScan(sn.scan);
  }
  const notice = sn.closed ? `station stopped — ${sn.notice}` : sn.notice;
  $("notice").hidden = !notice;
  setText($("notice"), notice || "");
  $("serial").disabled = sn.closed;
  document.body.dataset.version = String(sn.version);
}

function tick() {
  if (!snap) return;
  snap.slots.forEach((s) => {
    const el = cards.get(s.slot);
    if (!el) return;
    const t = BUSY.includes(s.state) && s.started_ms ? now() - s.started_ms
      : s.seconds !== null ? s.seconds * 1000 : null;
    setText(el.querySelector(".elapsed"), t === null ? "" : clock(t));
    if (s.prompt) {
      const left = (s.prompt.since_ms || now()) + s.prompt.timeout * 1000 - now();
      setText(el.querySelector(".prompt-time"), `time left ${clock(left)}`);
    }
  });
}
setInterval(tick, 250);

function setLink(up) {
  const l = $("link");
  l.className = `link ${up ? "ok" : "down"}`;
  setText(l, up ? "live" : "reconnecting…");
  document.body.dataset.link = up ? "up" : "down";
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("snapshot", (e) => { setLink(true); render(JSON.parse(e.data)); });
  es.onopen = () => setLink(true);
  es.onerror = () => setLink(false);  // the browser reconnects by itself
}

fetch("/api/state", {credentials: "same-origin"}).then((r) => r.json()).then(render)
  .catch(() => setLink(false));
connect();
focusSerial();
