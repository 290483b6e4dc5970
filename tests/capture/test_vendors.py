"""Vendor spellings of camera settings (capture.devices.vendors), without libgphoto2: each
vendor's choice lists alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from capture.devices import vendors
from capture.errors import SettingError


def test_vendor_matching_needs_no_gphoto2():
    code = "import sys, capture.devices.vendors; print('gphoto2' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


NIKON = ["1/8000", "1/4000", "1/60", "1/50", "1/40", "1/30", "1/25", "1/2", "1", "30", "Bulb"]
CANON = ["30", "25", "1", "0.8", "0.3", "1/4", "1/30", "1/40", "bulb"]
VIRTUAL = ["1.0000s", "0.1000s", "0.0500s", "0.0200s", "0.0100s", "0.0012s", "0.0001s"]
OLYMPUS = ['60"', '1"3', "1/30", "1/8000"]


@pytest.mark.parametrize(
    ("requested", "choices", "expected"),
    [
        ("1/30", NIKON, "1/30"),
        ("1/30s", NIKON, "1/30"),
        ("0.0333s", NIKON, "1/30"),  # rounded decimal against the fraction
        (1 / 30, NIKON, "1/30"),
        ('30"', NIKON, "30"),
        ("30", NIKON, "30"),
        ("1/3", CANON, "0.3"),  # Canon prints 1/3 s rounded to one decimal
        ("0.8", CANON, "0.8"),
        ("1/10", VIRTUAL, "0.1000s"),
        ("1/800", VIRTUAL, "0.0012s"),  # 0.00125 printed with four decimals
        ("0.05", VIRTUAL, "0.0500s"),
        ("1.3", OLYMPUS, '1"3'),
        ("1/8000", OLYMPUS, "1/8000"),
    ],
)
def test_shutter_matches_vendor_spellings(requested, choices, expected):
    assert vendors.match_shutter(requested, choices) == expected


@pytest.mark.parametrize(
    ("requested", "choices"),
    [
        ("1/30", VIRTUAL),  # between 1/50 and 1/20: never snapped silently
        ("1/35", NIKON),  # 14% off 1/30 and 1/40
        ("1/29", ["1/25", "1/40"]),
        ("bulb", NIKON),  # a mode, not a time
        ("fast", NIKON),
    ],
)
def test_shutter_without_a_match_lists_the_choices(requested, choices):
    with pytest.raises(SettingError) as info:
        vendors.match_shutter(requested, choices)
    assert isinstance(info.value, ValueError)
    if requested not in ("bulb", "fast"):
        assert ", ".join(choices) in str(info.value)


def test_shutter_tolerance_is_about_one_and_a_half_percent():
    assert vendors.match_shutter(1 / 30 * 1.014, ["1/30"]) == "1/30"
    with pytest.raises(SettingError):
        vendors.match_shutter(1 / 30 * 1.02, ["1/30"])


def test_shutter_picks_the_nearest_of_two_close_choices():
    assert vendors.match_shutter("0.0335", ["1/30", "0.0336s"]) == "0.0336s"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1/30", 1 / 30),
        ("0.0012s", 0.0012),
        ('30"', 30),
        ('1"3', 1.3),
        ("Bulb", None),
        ("x 1/250", None),
        ("Time", None),
    ],
)
def test_shutter_seconds(text, seconds):
    value = vendors.shutter_seconds(text)
    assert (value is None) if seconds is None else float(value) == pytest.approx(seconds)


@pytest.mark.parametrize("requested", ["f/4", "4", "4.0", "F4", 4.0, "f4"])
def test_aperture_spellings(requested):
    assert vendors.match_aperture(requested, ["f/2.8", "f/3.5", "f/4", "f/4.5"]) == "f/4"
    assert vendors.match_aperture(requested, ["2.8", "3.5", "4", "implicit auto"]) == "4"


def test_aperture_not_offered():
    with pytest.raises(SettingError, match=r"f/2\.8, f/3\.5"):
        vendors.match_aperture("f/3.2", ["f/2.8", "f/3.5"])


def test_iso_spellings():
    assert vendors.match_iso(2000, ["Auto", "100", "1600", "2000"]) == "2000"
    assert vendors.match_iso(2000, ["ISO 1600", "ISO 2000"]) == "ISO 2000"
    with pytest.raises(SettingError, match="Auto, 100"):
        vendors.match_iso(2000, ["Auto", "100"])


@pytest.mark.parametrize(
    ("choices", "expected"),
    [
        (["Large Fine JPEG", "RAW + Large Fine JPEG", "sRAW", "RAW"], "RAW"),
        (["JPEG Basic", "JPEG Fine", "NEF+Fine", "NEF (Raw)"], "NEF (Raw)"),
        (["Standard", "Fine", "RAW+JPEG"], "RAW+JPEG"),
        (["Standard", "Fine", "Extra Fine"], None),
        (["sRAW", "mRAW", "Large Fine JPEG"], None),
    ],
)
def test_pick_raw_format(choices, expected):
    assert vendors.pick_raw_format(choices) == expected
