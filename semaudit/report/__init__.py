"""``semaudit report``: a self-contained HTML report, PNG figures and a Markdown summary.

Reads an audit directory only; never imports torch. matplotlib loads (Agg, no pyplot) when a
figure is drawn.
"""

from semaudit.report.render import FORMATS, ReportResult, parse_formats, render_report

__all__ = ["FORMATS", "ReportResult", "parse_formats", "render_report"]
