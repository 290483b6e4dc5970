"""Render the package's Jinja2 templates (``dataset_card/templates``).

The prose of what a release says about itself (the dataset card today) lives in template files
next to this module, not in string literals; the modules that gather the numbers render them
with :func:`render`.

Escaping is chosen by the output's language.  Templates for HTML or XML (``*.html.j2``,
``*.htm.j2``, ``*.xml.j2``, or without the ``.j2``) are autoescaped.  Markdown is not HTML:
HTML-escaping it would turn ``&`` or ``<`` in a name into entities the card never had, so a
Markdown template is rendered as is and escapes where Markdown needs it: user text in prose goes
through the :func:`md_text` filter (a backslash before each character that would start HTML,
an entity, emphasis, code, a link or a block, so it shows as written), and table cells through
:func:`md_cell` (newlines become spaces and ``|`` is escaped), which :func:`md_table` applies to
every cell.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import jinja2

__all__ = [
    "TEMPLATES",
    "code",
    "count",
    "environment",
    "fmt",
    "md_cell",
    "md_table",
    "md_text",
    "render",
]

#: The package folder that holds the templates (shipped through package-data).
TEMPLATES = "templates"
_ESCAPED = ("html", "htm", "xml")


# Characters escaped wherever they are: HTML (<, >), a backslash, emphasis (*), code (`), links
# ([, ]) and strikethrough (~).  "_" only where it can open or close emphasis (not inside a
# word, as in use_camera_wb), "&" only where it would start an entity (&amp;, &#38;).
_MD_ALWAYS = re.compile(r"[\\<>*`\[\]~]")
_MD_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_MD_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
# What starts a block at the beginning of a line: a heading, a list item, a rule or a setext
# underline ("#", "- ", "+ ", "---", "==="; a quote's ">" is escaped everywhere), or an ordered
# list item ("1. ", "2) ").
_MD_BLOCK = re.compile(r"^([ \t]*)(#|[-+=](?=[ \t]|[-+=]*[ \t]*$))", re.M)
_MD_ORDERED = re.compile(r"^([ \t]*\d+)(?=[.)](?:[ \t]|$))", re.M)


def md_text(value: Any) -> str:
    """``value`` as Markdown prose that shows as written.

    A backslash goes before each backslash, ``<``, ``>``, ``*``, backtick, ``[``, ``]`` and
    ``~``; before an ``_`` that is not inside a word (``use_camera_wb`` stays); before an ``&``
    that would start an entity (``&amp;``; ``R&D`` stays); and before what would start a block
    at the beginning of a line (``#``, ``- ``, ``+ ``, ``---``, the ``.`` of ``1.``).  So
    ``<b>bulb</b>`` shows as typed rather than as HTML, and text without these characters is
    returned unchanged.
    """
    text = "" if value is None else str(value)
    text = _MD_ALWAYS.sub(lambda m: "\\" + m.group(0), text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    text = _MD_ENTITY.sub(r"\\&", text)
    text = _MD_BLOCK.sub(r"\1\\\2", text)
    return _MD_ORDERED.sub(r"\1\\", text)


def count(n: int, word: str, plural: str = "") -> str:
    """``n`` and ``word``, in the plural unless ``n`` is 1: ``{{ 1|count("session") }}`` is
    "1 session", ``{{ 2|count("session") }}`` "2 sessions" (``plural`` when it is not
    ``word + "s"``)."""
    return f"{n} {word if n == 1 else plural or word + 's'}"


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
    """``value`` as inline code: between backticks, or between a longer run of them (with a
    space inside) when ``value`` holds backticks, as CommonMark asks."""
    text = str(value)
    if "`" not in text:
        return f"`{text}`"
    fence = "`" * (max(len(r) for r in re.findall(r"`+", text)) + 1)
    return f"{fence} {text} {fence}"


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
    env.filters.update(code=code, count=count, fmt=fmt, md_text=md_text)
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
