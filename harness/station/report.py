"""Reports of the record store: one self-contained HTML page, and JSON export of one run.

The page has the first-pass yield (a serial number counts only if its first run — aborted ones
included — passed); per serial number, every run (attempts included) with its steps, failure
messages, measurements against their limits and attachments; per measurement, Cp/Cpk across
units (each unit's latest run that was not aborted) and a trend plot over runs (PNG, embedded
as a data URI; aborted runs left out, a tick per run). Cp/Cpk from fewer than
:data:`~harness.station.stats.MIN_UNITS` units carry a warning, and with no spread (σ = 0) they
are "n/a", never infinite. Every text from the records is escaped, and long ones (node ids,
messages, hashes, serial numbers) wrap: the page fits a 1280 px wide screen.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections import defaultdict
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from sqlalchemy import Engine

from . import records as R
from .stats import MIN_UNITS, capability, first_outcomes, first_pass_yield


def export_json(engine: Engine, run_id: int) -> str:
    with engine.connect() as conn:
        rec = R.record(conn, run_id)
    return json.dumps(rec, indent=1, sort_keys=True, default=str, allow_nan=True)


def _ts(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"


def _num(v: float | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)  # a measured inf or nan, as measured: 'inf', '-inf', 'nan'
    return f"{v:.6g}"


def _aborted(outcome: str | None) -> bool:
    """``aborted``, ``aborted (lost)``...: a run that did not end by itself."""
    return (outcome or "aborted").startswith("aborted")


def _limits(m: dict) -> str:
    return f"{_num(m['low'])} … {_num(m['high'])}"


def trend_points(recs: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """Per measurement name, (run number, value) over the runs that were not aborted, the runs
    numbered 1, 2, ... in the order they started (among those that took this measurement);
    values that are not finite are left out of the plot (they are in the tables)."""
    by_name: dict[str, dict[int, list[tuple[int, float]]]] = defaultdict(dict)
    started: dict[int, tuple[int, int]] = {}
    for rec in recs:
        if _aborted(rec["outcome"]):
            continue
        started[rec["id"]] = (rec["started_ms"], rec["id"])
        for m in _all_measurements(rec):
            if m["value"] is not None and math.isfinite(m["value"]):
                by_name[m["name"]].setdefault(rec["id"], []).append((m["taken_ms"], m["value"]))
    out: dict[str, list[tuple[int, float]]] = {}
    for name, per_run in by_name.items():
        order = sorted(per_run, key=lambda rid: started[rid])
        out[name] = [(i, v) for i, rid in enumerate(order, 1)
                     for _, v in sorted(per_run[rid])]
    return out


def trend_figure(name: str, points: list[tuple[int, float]], low, high, unit: str):
    """The trend plot of one measurement: a matplotlib Figure, integer run ticks."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(6, 2.4), dpi=80)
    ax = fig.add_subplot()
    ax.plot([x for x, _ in points], [v for _, v in points], marker="o", lw=1)
    for bound in (low, high):
        if bound is not None:
            ax.axhline(bound, color="red", ls="--", lw=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if points:
        last = max(x for x, _ in points)
        ax.set_xlim(0.5, last + 0.5)
    ax.set_title(f"{name} [{unit}]", fontsize=9)
    ax.set_xlabel("run (in time order; aborted runs left out)", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def _trend_png(name: str, points: list[tuple[int, float]], low, high, unit: str) -> str:
    fig = trend_figure(name, points, low, high, unit)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


_CSS = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.4em 0;
max-width:100%}td,th{border:1px solid #bbb;padding:2px 6px;font-size:13px;text-align:left;
vertical-align:top}h1,h2,h3,h4,p,li,summary,code,.run-info td,.steps td.nodeid{
overflow-wrap:anywhere}.steps th,.steps td{white-space:nowrap}.steps td.nodeid{white-space:normal}
pre.message{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;max-height:16em;overflow-y:auto;
font-size:12px}img{max-width:100%;height:auto}.warn{color:#a60}
.pass,.passed{color:#070}.fail,.failed{color:#b00;font-weight:bold}.marginal{color:#a60}
.error,.aborted{color:#808}code{font-size:12px}"""


def build_html(engine: Engine, serial: str | None = None, product: str | None = None) -> str:
    with engine.connect() as conn:
        runs = [r for r in R.run_rows(conn, serial=serial)
                if product is None or r["product"] == product]
        recs = [R.record(conn, r["id"]) for r in runs]
    by_serial: dict[str, list[dict]] = defaultdict(list)
    for rec in recs:
        by_serial[rec["serial"]].append(rec)
    # capability across units: each unit's latest run that ended by itself
    latest = [done[-1] for done in ([r for r in rs if not _aborted(r["outcome"])]
                                    for rs in by_serial.values()) if done]

    per_name: dict[str, dict] = {}
    for rec in recs:
        for m in _all_measurements(rec):
            per_name.setdefault(m["name"], {"unit": m["unit"], "low": m["low"],
                                            "high": m["high"], "unit_values": []})
    for rec in latest:
        for m in _all_measurements(rec):
            per_name[m["name"]]["unit_values"].append(m["value"])
    trends = trend_points(recs)

    first = first_outcomes((r["serial"], r["id"], r["outcome"]) for r in runs)
    passed, units = first_pass_yield(first)
    fpy = f"{passed * 100 / units:.1f} %" if units else "-"
    out = ["<!doctype html><html><head><meta charset='utf-8'><title>QSM Harness records"
           f"</title><style>{_CSS}</style></head><body>",
           "<h1>QSM Harness — production records</h1>",
           f"<p id='totals'>{len(by_serial)} units, {len(recs)} runs</p>",
           f"<p id='fpy'>first-pass yield: <b>{fpy}</b> ({passed} of {units} serial numbers "
           f"passed their first run; an aborted or errored first run counts as not passed)</p>"]
    out.append("<h2>Capability per measurement</h2>"
               f"<p class='warn'>Cp/Cpk across units, each unit's latest run that was not "
               f"aborted. Below {MIN_UNITS} units they are an estimate, not a capability: "
               f"marked as too few.</p>"
               "<table id='capability'><tr><th>measurement</th><th>unit</th><th>limits</th>"
               "<th>n</th><th>mean</th><th>σ</th><th>Cp</th><th>Cpk</th><th>note</th></tr>")
    for name, d in sorted(per_name.items()):
        cap = capability(d["unit_values"], d["low"], d["high"])
        if cap is None:
            cells = [str(len(d["unit_values"])), "-", "-", "n/a", "n/a",
                     "fewer than 2 finite values"]
        elif cap.no_spread:
            cells = [str(cap.n), _num(cap.mean), _num(cap.stdev), "n/a (no spread)",
                     "n/a (no spread)", cap.note]
        else:
            cells = [str(cap.n), _num(cap.mean), _num(cap.stdev), _num(cap.cp),
                     _num(cap.cpk), cap.note]
        warn = cap is None or bool(cap.note)
        out.append(f"<tr data-name='{escape(name)}'><td>{escape(name)}</td>"
                   f"<td>{escape(d['unit'])}</td><td>{_limits(d)}</td>"
                   + "".join(f"<td>{escape(c)}</td>" for c in cells[:-1])
                   + f"<td{' class=warn' if warn else ''}>{escape(cells[-1])}</td></tr>")
    out.append("</table><h2>Trends</h2>")
    for name, d in sorted(per_name.items()):
        src = _trend_png(name, trends.get(name, []), d["low"], d["high"], d["unit"])
        out.append(f"<figure><img alt='trend {escape(name)}' src='{src}'></figure>")
    out.append("<h2>Units</h2>")
    for sn, rs in by_serial.items():
        out.append(f"<section class='unit'><h3>Serial number <code>{escape(sn)}</code> — "
                   f"<span class='{escape(rs[-1]['outcome'])}'>{escape(rs[-1]['outcome'])}"
                   f"</span></h3>")
        for rec in rs:
            out.append(_run_html(rec))
        out.append("</section>")
    out.append("</body></html>")
    return "\n".join(out)


def _all_measurements(rec: dict) -> list[dict]:
    ms = list(rec["run_measurements"])
    for s in rec["steps"]:
        ms += s["measurements"]
    return ms


def _run_html(rec: dict) -> str:
    o = rec["outcome"]
    inst = ", ".join(f"{k}: {v}" for k, v in sorted(rec["instruments"].items())) or "-"
    head = [
        f"<div class='run' id='run-{rec['id']}'><h4>Run {rec['id']} (attempt {rec['attempt']})"
        f" — <span class='{escape(o)}'>{escape(o)}</span></h4><table class='run-info'>",
        *(f"<tr><th>{k}</th><td>{escape(str(v))}</td></tr>" for k, v in [
            ("product / part number", f"{rec['product']} / {rec['part_number']}"),
            ("station / slot / operator", f"{rec['station']} / {rec['slot']} / "
                                          f"{rec['operator']}"),
            ("firmware sha256", rec["firmware_sha256"] or "-"),
            ("firmware version (read back)", rec["firmware_version"] or "-"),
            ("harness", f"{rec['harness_version']} ({rec['harness_git']})"),
            ("limits", f"{rec['limits_path']} v{rec['limits_version']} "
                       f"sha256 {rec['limits_sha256']}"),
            ("instruments", inst),
            ("start / end", f"{_ts(rec['started_ms'])} / {_ts(rec['ended_ms'])}"),
            *([("reason", rec["reason"])] if rec.get("reason") else [])]),
        "</table><table class='steps'><tr><th>step</th><th>attempt</th><th>outcome</th>"
        "<th>measurement</th><th>value</th><th>unit</th><th>limits</th><th>verdict</th></tr>"]
    rows = []
    for s in rec["steps"]:
        ms = s["measurements"] or [None]
        for i, m in enumerate(ms):
            step_cells = (f"<td class='nodeid'>{escape(s['nodeid'])}</td><td>{s['attempt']}</td>"
                          f"<td class='{escape(s['outcome'])}'>{escape(s['outcome'])}</td>"
                          if i == 0 else "<td class='nodeid'></td><td></td><td></td>")
            if m is None:
                rows.append(f"<tr>{step_cells}<td colspan=5></td></tr>")
            else:
                rows.append(
                    f"<tr class='measurement' data-name='{escape(m['name'])}'>{step_cells}"
                    f"<td>{escape(m['name'])}</td><td class='value'>{_num(m['value'])}</td>"
                    f"<td>{escape(m['unit'])}</td><td>{_limits(m)}</td>"
                    f"<td class='{escape(m['outcome'])}'>{escape(m['outcome'])}</td></tr>")
        for q in s.get("prompts", []):
            took = (f", {(q['answered_ms'] - q['asked_ms']) / 1000:.1f} s"
                    if q.get("answered_ms") else "")
            rows.append(f"<tr class='prompt'><td colspan=8>operator asked "
                        f"<q>{escape(q['text'])}</q>: <b>{escape(q['answer_text'] or '-')}</b>"
                        f" ({escape(q['outcome'])}, {escape(q['operator'] or 'nobody')}"
                        f"{took})</td></tr>")
        if s.get("message") and s["outcome"] not in ("passed", "skipped"):
            rows.append(f"<tr class='message'><td colspan=8><pre class='message'>"
                        f"{escape(s['message'])}</pre></td></tr>")
    att = [a for s in rec["steps"] for a in s["attachments"]] + rec["run_attachments"]
    links = "".join(f"<li><a href='file://{escape(a['path'])}'>{escape(a['name'])}</a> "
                    f"({a['size']} bytes, sha256 {a['sha256'][:16]}…)</li>" for a in att)
    tail = f"</table><details><summary>{len(att)} attachments</summary><ul>{links}</ul>" \
           "</details></div>"
    return "\n".join(head + rows) + tail


def write_html(engine: Engine, out: Path, serial: str | None = None,
               product: str | None = None) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_html(engine, serial=serial, product=product), encoding="utf-8")
    return out
