"""The rule for the names a session carries into a release: scene names and session ids.

A session id starts with the scene name (``desk-20261207T072019-2bcb38``) and names the
session's HDF5 group in a release (``/sessions/<session_id>``), so neither may be empty, hold a
``/`` (a group path separator) or be ``.`` or ``..``.  ``dataset publish`` applies this rule to
every session it packs (:mod:`dataset_card.h5writer`); ``capture`` applies the same one to the
scene a new session is given, up front, so a name publish would refuse is refused when it is
typed, not days later.
"""

from __future__ import annotations

__all__ = ["NAME_RULE", "name_problem"]

#: The rule, in words, for messages.
NAME_RULE = "a non-empty name without '/', not '.' or '..'"


def name_problem(value: object) -> str | None:
    """Why ``value`` cannot be a scene name or a session id, or None when it can.

    Parameters
    ----------
    value : object
        The name to check (anything: a non-string is refused).

    Returns
    -------
    str or None
        What is wrong, in a few words to follow "found ...": ``"it is empty"``, ``"it holds
        '/'"``, ...; None for a good name.

    Examples
    --------
    >>> name_problem("desk") is None
    True
    >>> name_problem("a/b")
    "it holds '/'"
    """
    if not isinstance(value, str):
        return f"it is not text ({type(value).__name__})"
    if not value:
        return "it is empty"
    if "/" in value:
        return "it holds '/'"
    if value in (".", ".."):
        return f"it is {value!r}"
    return None
