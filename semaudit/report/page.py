"""The report page's skeleton: the shared template, stylesheet and script, and small parts.

Every page semaudit writes (the audit's report, a training run's report) is one file built from
``templates/report.html.tmpl``, ``report.css`` and ``report.js``, with the script allowed by its
SHA-256 in a Content-Security-Policy. Text goes through ``esc``.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Sequence
from importlib import resources
from string import Template
from typing import Any

__all__ = ["data_uri", "esc", "figure", "numbers", "page", "paragraph", "section", "simple_table"]


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


def asset(name: str) -> str:
    """A file of ``semaudit/report/templates``."""
    return (resources.files("semaudit.report") / "templates" / name).read_text(encoding="utf-8")


def paragraph(text: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<p{attr}>{esc(text)}</p>"


def section(sid: str, title: str, *parts: str) -> str:
    heading = f'<h2 id="{sid}-h">{esc(title)}</h2>'
    return f'<section id="{sid}" aria-labelledby="{sid}-h">{heading}{"".join(parts)}</section>'


def data_uri(mime: str, data: bytes) -> str:
    """``data`` inlined as a ``data:`` URI (the page loads nothing from elsewhere)."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def figure(key: str, png: bytes, alt: str, caption: str) -> str:
    """A PNG inlined as a data URI, with alt text and a caption saying how to read it."""
    src = data_uri("image/png", png)
    return (
        f'<figure class="chart" id="fig-{esc(key)}"><img src="{src}" alt="{esc(alt)}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def numbers(items: Iterable[tuple[str, str, str]]) -> str:
    """Headline numbers ``(label, value, hint)`` as the page's grid of tiles."""
    tiles = "".join(
        f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd><p class=hint>{esc(h)}</p></div>"
        for k, v, h in items
    )
    return f'<dl class="numbers">{tiles}</dl>'


def simple_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, tid: str = "", text_cols: int = 1
) -> str:
    """A table in the page's style; the first ``text_cols`` columns are left-aligned text."""

    def cell(i: int, value: str, tag: str) -> str:
        cls = ' class="name"' if i < text_cols else ""
        return f"<{tag}{cls}>{esc(value)}</{tag}>"

    head = "".join(cell(i, h, "th") for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(cell(i, v, "td") for i, v in enumerate(r)) + "</tr>" for r in rows
    )
    ident = f' id="{esc(tid)}"' if tid else ""
    return (
        f'<div class="table-wrap compact"><table class="compact"{ident}><thead><tr>{head}</tr>'
        f"</thead><tbody>{body}</tbody></table></div>"
    )


def page(
    *, title: str, header: str, sections: Sequence[tuple[str, str, str]], footer: str, version: str
) -> str:
    """The whole page: ``sections`` are ``(id, title, body HTML)``, listed in the navigation."""
    nav = (
        "<ul>" + "".join(f'<li><a href="#{s}">{esc(t)}</a></li>' for s, t, _ in sections) + "</ul>"
    )
    script = asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    return Template(asset("report.html.tmpl")).substitute(
        csp=csp,
        version=esc(version),
        title=esc(title),
        css=asset("report.css"),
        header=header,
        nav=nav,
        sections="\n".join(section(s, t, body) for s, t, body in sections),
        footer=footer,
        js=script,
    )
