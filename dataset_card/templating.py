"""Render the package's Jinja2 templates (``dataset_card/templates``).

The prose of what a release says about itself (the dataset card today) lives in template files
next to this module, not in string literals; the modules that gather the numbers render them
with :func:`render`.

Escaping is chosen by the output's language.  Templates for HTML or XML (``*.html.j2``,
``*.htm.j2``, ``*.xml.j2``, or without the ``.j2``) are autoescaped.  Markdown is not HTML:
HTML-escaping it would turn ``&`` or ``<`` in a name into entities the card never had, so a
Markdown template is rendered as is and escapes where Markdown needs it, through the
:func:`md_cell` filter (a table cell: newlines become spaces and ``|`` is escaped), which
:func:`md_table` applies to every cell.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jinja2

__all__ = ["TEMPLATES", "code", "environment", "fmt", "md_cell", "md_table", "render"]

#: The package folder that holds the templates (shipped through package-data).
TEMPLATES = "templates"
_ESCAPED = ("html", "htm", "xml")


def md_cell(value: Any) -> str:
    """``value`` as one Markdown table cell: newlines become spaces, ``|`` is escaped, and an
    empty value is shown as "–"."""
    text = "" if value is None else str(value)
    return text.replace("\n", " ").replace("|", "\\|").strip() or "–"


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table: ``header`` as given, every cell of ``rows`` through :func:`md_cell`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(md_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def code(value: Any) -> str:
    """``value`` as inline code (between backticks)."""
    return f"`{value}`"


def fmt(value: Any, spec: str) -> str:
    """``format(value, spec)``: ``{{ ratio|fmt(".0f") }}`` as ``f"{ratio:.0f}"`` writes it."""
    return format(value, spec)


@functools.cache
def environment() -> jinja2.Environment:
    """The package's template environment (one, built on first use).

    Block tags take their own line (``trim_blocks``, ``lstrip_blocks``; end a tag with ``+%}``
    where the newline after it is text), a template's last newline is dropped (so an included
    section ends where its text does), and an undefined name is an error rather than "".
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("dataset_card", TEMPLATES),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=(*_ESCAPED, *(f"{ext}.j2" for ext in _ESCAPED)),
            default_for_string=False,
            default=False,
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(code=code, fmt=fmt, md_cell=md_cell)
    env.globals.update(md_table=md_table)
    return env


def render(name: str, /, **context: Any) -> str:
    """Render the template ``name`` (a path under ``dataset_card/templates``) with ``context``.

    Parameters
    ----------
    name
        The template's path, such as ``"card/card.md.j2"``.
    **context
        The names the template reads.

    Returns
    -------
    str
        The rendered text.
    """
    return environment().get_template(name).render(**context)
