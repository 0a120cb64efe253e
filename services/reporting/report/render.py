"""The quarterly report as HTML (Jinja2, `templates/quarterly.html`) and as PDF (WeasyPrint,
from the same HTML: the charts are inline SVG, so the PDF needs no browser)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from .export import CSV_MEDIA_TYPE, XLSX_MEDIA_TYPE, data_uri, report_workbook, table_csv, tables_xlsx
from .model import QuarterlyReport, Table

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["long_date"] = lambda d: f"{d.day} {d:%B %Y}"
    env.filters["svg"] = Markup  # charts.bar_chart escapes every piece of text it writes
    env.filters["csv_href"] = csv_href  # download links: the exports inlined, so the file needs no server
    env.filters["xlsx_href"] = xlsx_href
    env.filters["workbook_href"] = workbook_href
    return env


def csv_href(table: Table) -> str:
    return data_uri(CSV_MEDIA_TYPE, table_csv(table))


def xlsx_href(table: Table) -> str:
    return data_uri(XLSX_MEDIA_TYPE, tables_xlsx([table]))


def workbook_href(report: QuarterlyReport) -> str:
    return data_uri(XLSX_MEDIA_TYPE, report_workbook(report))


def render_html(report: QuarterlyReport) -> str:
    return _environment().get_template("quarterly.html").render(report=report)


class PdfUnavailable(RuntimeError):
    """WeasyPrint cannot run here: the Pango library is missing."""


def render_pdf(html: str) -> bytes:
    """PDF from the report's HTML. CPU-bound (seconds): call it off the event loop.

    Raises `PdfUnavailable` where the system has no Pango (WeasyPrint loads it at import).
    """
    try:
        import weasyprint  # imported here: it loads Pango, which only the PDF needs
        from weasyprint.urls import URLFetcher
    except OSError as exc:
        raise PdfUnavailable(
            "PDF output needs the Pango library (Debian: apt-get install libpango-1.0-0 libpangoft2-1.0-0); "
            f"the HTML report works without it ({exc})"
        ) from None

    # The report is self-contained (inline CSS and SVG): it loads no file and no URL, whatever
    # text a commentary or a "you said, we did" item holds.
    fetch_nothing = URLFetcher(allowed_protocols=())
    pdf = weasyprint.HTML(string=html, base_url=str(TEMPLATES), url_fetcher=fetch_nothing).write_pdf()
    assert pdf is not None
    return bytes(pdf)
