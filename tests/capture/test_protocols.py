"""Shutter speeds as cameras spell them."""

from fractions import Fraction

import pytest

from capture.errors import SettingError
from capture.protocols import format_shutter, parse_shutter


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1/30", Fraction(1, 30)),
        ("10", 10),
        ("0.5", Fraction(1, 2)),
        ("2.5s", Fraction(5, 2)),
        ('30"', 30),
        ("1/1.3", Fraction(10, 13)),
        (" 1/8000 ", Fraction(1, 8000)),
        (0.25, Fraction(1, 4)),
    ],
)
def test_parse_shutter(text, seconds):
    assert parse_shutter(text) == seconds


@pytest.mark.parametrize("text", ["bulb", "", "fast", "-1/30", "0", "1/0"])
def test_parse_shutter_rejects(text):
    with pytest.raises(SettingError, match="shutter"):
        parse_shutter(text)


@pytest.mark.parametrize(
    ("seconds", "text"), [(Fraction(1, 30), "1/30"), (10, "10"), (0.5, "1/2"), (2.5, "2.5")]
)
def test_format_shutter(seconds, text):
    assert format_shutter(seconds) == text
    assert parse_shutter(format_shutter(seconds)) == Fraction(seconds)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(1 / 30, "1/30 s"), (0.0334, "1/30 s"), (0.3, "0.3 s"), (4, "4 s"), (2.5, "2.5 s")],
)
def test_format_shutter_with_unit_is_what_a_card_prints(seconds, text):
    assert format_shutter(seconds, unit=True) == text
