"""The "which tests covered this line" page: a static view of a :class:`LineMap`.

gcovr's report has the counts; this page adds what gcovr cannot know — the tests behind each
line. Lines every test ran (start-up, the main loop) are marked as such; for the others the
tests are listed, and each test's lines that no other test ran are listed with it.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from .by_line import LineMap

STYLE = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}
td,th{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
code{white-space:pre}.all{color:#888}details{margin:0}summary{cursor:pointer}"""


def _source(root: Path, rel: str) -> list[str]:
    try:
        return (root / rel).read_text(errors="replace").splitlines()
    except OSError:
        return []


def render(lines: LineMap, root: Path, title: str, report: str = "index.html") -> str:
    total = len(lines.tests)
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>",
           f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>",
           f"<p>{total} tests; line counts in <a href='{escape(report)}'>the coverage "
           f"report</a>.</p>", "<h2>Tests</h2><table><tr><th>test</th><th>lines</th>"
           "<th>lines no other test ran</th></tr>"]
    per_test: list[list[tuple[str, int]]] = [[] for _ in lines.tests]
    only: list[list[tuple[str, int]]] = [[] for _ in lines.tests]
    for f, by_line in sorted(lines.files.items()):
        for n, who in sorted(by_line.items()):
            for i in who:
                per_test[i].append((f, n))
            if len(who) == 1:
                only[who[0]].append((f, n))
    for i, test in enumerate(lines.tests):
        unique = ", ".join(f"{escape(f)}:{n}" for f, n in only[i][:200])
        out.append(f"<tr><td><code>{escape(test)}</code></td><td>{len(per_test[i])}</td>"
                   f"<td>{len(only[i])}" + (f"<details><summary>which</summary>{unique}"
                                            "</details>" if only[i] else "") + "</td></tr>")
    out.append("</table><h2>Lines</h2>")
    for f, by_line in sorted(lines.files.items()):
        text = _source(root, f)
        out.append(f"<h3>{escape(f)}</h3><table><tr><th>line</th><th>source</th>"
                   "<th>tests</th></tr>")
        for n, who in sorted(by_line.items()):
            src = escape(text[n - 1]) if 0 < n <= len(text) else ""
            if len(who) == total and total > 1:
                cell = f"<span class='all'>every test ({total})</span>"
            else:
                names = "<br>".join(f"<code>{escape(lines.tests[i])}</code>" for i in who)
                cell = names if len(who) <= 3 else \
                    f"<details><summary>{len(who)} tests</summary>{names}</details>"
            out.append(f"<tr><td>{n}</td><td><code>{src}</code></td><td>{cell}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)
