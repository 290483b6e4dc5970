"""curate's HTML templates (``curate/templates``): one Jinja2 environment for every page.

The curation report (``report.html.j2``, :func:`curate.report.write_report`) and the review
page (``review.html.j2``, :class:`curate.review_server.ReviewServer`) are rendered here, with
autoescaping: every value from a result, a session or a decision is text, and the markup is
all in the templates.  Python gathers the values; the templates say them.
"""

from __future__ import annotations

import base64
import functools

import jinja2

__all__ = ["TEMPLATES", "datauri", "environment"]

#: The package folder that holds the templates (shipped through package-data).
TEMPLATES = "templates"


def datauri(png: bytes) -> str:
    """``png`` as a ``data:image/png;base64,...`` URI (the ``datauri`` filter)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@functools.cache
def environment() -> jinja2.Environment:
    """The package's template environment (one, built on first use), autoescaped.

    Block tags take their own line (``trim_blocks``, ``lstrip_blocks``), a template's last
    newline is kept, and an undefined name is an error rather than "".  Filters: ``datauri``.

    Returns
    -------
    jinja2.Environment
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("curate", TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["datauri"] = datauri
    return env
