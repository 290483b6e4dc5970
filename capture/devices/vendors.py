"""How cameras spell their settings: matching a request to a camera's own choice strings.

Vendors spell one shutter speed ``"1/30"``, ``"0.0333s"`` or ``'30"'`` (Olympus ``'1"3'`` is
1.3 s), an aperture ``"f/4"`` or ``"4"``, an ISO ``"ISO 2000"``, a RAW format ``"NEF (Raw)"``;
libgphoto2 names one setting differently per vendor (:data:`ALIASES`).  These pure functions
do that work and need no camera and no libgphoto2: the driver
(:mod:`capture.devices.gphoto2_camera`) uses them, and they are tested with each vendor's
choice lists alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from fractions import Fraction

from capture.errors import SettingError
from capture.protocols import parse_shutter

__all__ = [
    "ALIASES",
    "SHUTTER_TOLERANCE",
    "bulb_choice",
    "iso_value",
    "match_aperture",
    "match_iso",
    "match_shutter",
    "pick_raw_format",
    "shutter_seconds",
]

#: Widget names tried, in order, for each setting (libgphoto2 ``camlibs/ptp2/config.c``).
ALIASES: dict[str, tuple[str, ...]] = {
    "iso": ("iso", "isospeed", "exposureisospeed"),
    "shutter": ("shutterspeed", "shutterspeed2", "exposuretime", "eos-shutterspeed"),
    "aperture": ("f-number", "aperture", "fnumber"),
    "format": ("imageformat", "imagequality", "imageformatsd"),
    "target": ("capturetarget",),
}

#: Relative difference accepted between a requested shutter speed and a camera's choice.
SHUTTER_TOLERANCE = 0.015

_RAW_WORD = re.compile(
    r"\b(raw|nef|nrw|arw|srf|sr2|cr2|cr3|crw|raf|orf|rw2|dng|pef|srw|3fr|iiq|x3f)\b", re.I
)
_NOT_RAW_ONLY = re.compile(r"\+|jpe?g|fine|normal|basic|heif|heic|tiff", re.I)


def shutter_seconds(text: str | float) -> Fraction | None:
    """The exposure time a camera's shutter-speed string stands for, or ``None``.

    Understands ``"1/30"``, ``"1/30s"``, ``"0.0333s"``, ``"30"``, ``'30"'`` and Olympus'
    ``'1"3'`` (1.3 s).  ``"Bulb"``, ``"Time"``, ``"x 1/250"`` (flash sync) and the like give
    ``None``: they are modes, not times.
    """
    if not isinstance(text, str):
        return parse_shutter(text)
    s = text.strip()
    olympus = re.fullmatch(r"(\d+)\"(\d+)", s)
    if olympus:
        s = f"{olympus.group(1)}.{olympus.group(2)}"
    try:
        return parse_shutter(s)
    except SettingError:
        return None


def _decimal_slack(text: str) -> float:
    """Half a unit in the last printed decimal place (``"0.0012s"`` stands for 1/800 too)."""
    s = text.strip().lower().rstrip("s").rstrip('"').strip()
    if "/" in s or "." not in s:
        return 0.0
    return 0.5 * 10.0 ** -len(s.split(".", 1)[1])


def match_shutter(
    requested: str | float, choices: Sequence[str], *, tolerance: float = SHUTTER_TOLERANCE
) -> str:
    """Find the camera's own spelling of a requested shutter speed.

    Parameters
    ----------
    requested : str or float
        Seconds, in any form :func:`capture.protocols.parse_shutter` reads (``"1/30"``,
        ``"0.0333s"``, ``'30"'``, ``2.5``).
    choices : sequence of str
        The camera's shutter-speed choices, as listed by its widget.
    tolerance : float, keyword-only
        Relative difference accepted between the two values.  A choice printed as a rounded
        decimal also matches anything it could be the rounding of.

    Returns
    -------
    str
        The nearest matching choice, exactly as the camera spells it.

    Raises
    ------
    SettingError
        If ``requested`` is not a time, or no choice is within tolerance; the message lists the
        valid choices.
    """
    want = float(parse_shutter(requested))

    def slack(choice: str) -> float:
        return max(tolerance * want, _decimal_slack(choice) * (1 + 1e-9))

    best = _nearest(choices, want, value_of=shutter_seconds, slack=slack)
    if best is None:
        raise SettingError(
            f"expected a shutter speed the camera offers, found {requested!r}; "
            f"valid choices: {', '.join(choices)}"
        )
    return best


def _nearest(
    choices: Sequence[str],
    want: float,
    *,
    value_of: Callable[[str], float | Fraction | None],
    slack: Callable[[str], float],
) -> str | None:
    """The first choice whose value (``value_of``: a number, or None to skip it) is nearest
    ``want``, among those within ``slack(choice)`` of it; None when none is."""
    best: tuple[float, str] | None = None
    for choice in choices:
        value = value_of(choice)
        if value is None:
            continue
        diff = abs(float(value) - want)
        if diff <= slack(choice) and (best is None or diff < best[0]):
            best = (diff, choice)
    return None if best is None else best[1]


def _fnumber(text: str) -> float | None:
    m = re.fullmatch(r"\s*(?:f\s*/?\s*)?(\d+(?:\.\d+)?)\s*", str(text), re.I)
    return float(m.group(1)) if m else None


def match_aperture(requested: str | float, choices: Sequence[str]) -> str:
    """Find the camera's spelling of an f-number: ``"f/4"``, ``"4"``, ``4.0`` and ``"F4"`` agree.

    Raises
    ------
    SettingError
        If ``requested`` is not an f-number or the camera does not list it.
    """
    want = _fnumber(str(requested))
    if want is None or want <= 0:
        raise SettingError(
            f"expected an f-number such as 'f/4' or '5.6', found {requested!r}; "
            f"valid choices: {', '.join(choices)}"
        )
    best = _nearest(choices, want, value_of=_fnumber, slack=lambda _: 0.01 * want)
    if best is None:
        raise SettingError(
            f"expected an aperture the camera offers, found {requested!r}; "
            f"valid choices: {', '.join(choices)}"
        )
    return best


def iso_value(text: str) -> int | None:
    """The ISO a camera's ISO string stands for (``"2000"``, ``"ISO 2000"``), or ``None``
    (``"Auto"``)."""
    m = re.fullmatch(r"\s*(?:iso\s*)?(\d+)\s*", str(text), re.I)
    return int(m.group(1)) if m else None


def match_iso(requested: int, choices: Sequence[str]) -> str:
    """Find the camera's spelling of an ISO value (``"2000"``, ``"ISO 2000"``).

    Raises
    ------
    SettingError
        If the camera does not list that ISO.
    """
    for choice in choices:
        if iso_value(choice) == int(requested):
            return choice
    raise SettingError(
        f"expected an ISO the camera offers, found {requested!r}; "
        f"valid choices: {', '.join(choices)}"
    )


def pick_raw_format(choices: Sequence[str]) -> str | None:
    """The RAW-only image format among a camera's choices, or ``None`` if it offers no RAW.

    Prefers a plain RAW (``"RAW"``, ``"NEF (Raw)"``) over RAW+JPEG; reduced-resolution
    ``sRAW``/``mRAW`` are not RAW here (they are demosaiced).
    """
    raw = [c for c in choices if _RAW_WORD.search(c)]
    if not raw:
        return None
    only = [c for c in raw if not _NOT_RAW_ONLY.search(c)]
    return (only or raw)[0]


def bulb_choice(choices: Sequence[str]) -> str | None:
    """The camera's spelling of Bulb among its shutter-speed choices, or ``None``."""
    return next((c for c in choices if c.strip().lower() == "bulb"), None)
