"""The report: one self-contained HTML file, plus JSON and CSV of every figure."""

from crowdcensus.report.html import render_html, write_report

__all__ = ["render_html", "write_report"]
