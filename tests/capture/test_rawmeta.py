"""CR3 and RAF metadata (capture.rawmeta): a real Canon CR3's CMT boxes, a RAF built to the
format's published layout, and `capture import` taking the exposure from them."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from capture.cli import app
from capture.importer import probe_raw
from capture.rawmeta import (
    CANON_UUID,
    RECOPY,
    box_overrun,
    container_exif,
    container_truncation,
    quiet_tifffile,
    truncated,
)
from capture.session import open_session

CR3 = Path(__file__).parents[1] / "data" / "raw" / "truncated" / "canon-eos-r-truncated.cr3"
runner = CliRunner()


def _whole_boxes(data: bytes) -> bytes:
    """The real CR3 cut consistently: its top-level boxes up to the one the cut runs through,
    which is left out (the file ends where a box ends, as a whole file does)."""
    off = 0
    while off + 8 <= len(data):
        size, header = struct.unpack(">I", data[off : off + 4])[0], 8
        if size == 1:
            size = struct.unpack(">Q", data[off + 8 : off + 16])[0]
        assert size >= header
        if off + size > len(data):
            break
        off += size
    assert 0 < off < len(data)
    return data[:off]


WHOLE_CR3 = _whole_boxes(CR3.read_bytes())


@pytest.fixture
def whole_cr3(tmp_path) -> Path:
    path = tmp_path / "whole" / "IMG_0001.CR3"
    path.parent.mkdir()
    path.write_bytes(WHOLE_CR3)
    return path


def _tiff(ifd0: list[tuple], exif: list[tuple]) -> bytes:
    """A big-endian TIFF: IFD0 (``ifd0`` entries + an ExifTag pointer) and an EXIF IFD.

    Entries are ``(tag, type, values)`` with type 2 (ASCII: a str), 3 (SHORT) or 5 (RATIONAL:
    (num, den) pairs).
    """
    out = bytearray(b"MM\0*" + struct.pack(">I", 8))

    def ifd(entries: list[tuple], at: int, extra_pointer: int | None) -> bytes:
        entries = sorted(entries + ([(34665, 4, [extra_pointer])] if extra_pointer else []))
        n = len(entries)
        data_at = at + 2 + 12 * n + 4
        head, data = struct.pack(">H", n), b""
        for tag, typ, values in entries:
            if typ == 2:
                raw = values.encode() + b"\0"
                count = len(raw)
            elif typ == 3:
                raw, count = struct.pack(f">{len(values)}H", *values), len(values)
            elif typ == 4:
                raw, count = struct.pack(f">{len(values)}I", *values), len(values)
            else:
                raw = b"".join(struct.pack(">II", *v) for v in values)
                count = len(values)
            if len(raw) <= 4:
                head += struct.pack(">HHI", tag, typ, count) + raw.ljust(4, b"\0")
            else:
                head += struct.pack(">HHII", tag, typ, count, data_at + len(data))
                data += raw + (b"\0" if len(raw) % 2 else b"")
        return head + b"\0\0\0\0" + data

    first = ifd(ifd0, 8, extra_pointer=1)  # sized with a placeholder pointer
    exif_at = 8 + len(first)
    out += ifd(ifd0, 8, extra_pointer=exif_at) + ifd(exif, exif_at, extra_pointer=None)
    return bytes(out)


def _raf(tiff: bytes, *, cfa: int = 0, cfa_len: int | None = None) -> bytes:
    """A RAF: the 84-byte header, the JPEG directory, a JPEG whose APP1 carries the EXIF, and
    ``cfa`` bytes of raw data after it (the header says ``cfa_len``, by default ``cfa``)."""
    app1 = b"Exif\0\0" + tiff
    jpeg = b"\xff\xd8" + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + b"\xff\xd9"
    header = b"FUJIFILMCCD-RAW " + b"0201" + b"FF129502" + b"X-T3".ljust(32, b"\0")
    header += b"0100" + b"\0" * 20
    jpeg_at = 160
    cfa_at = jpeg_at + len(jpeg) + 64
    cfa_len = cfa if cfa_len is None else cfa_len
    header += struct.pack(">IIIIII", jpeg_at, len(jpeg), 0, 0, cfa_at if cfa_len else 0, cfa_len)
    return header.ljust(jpeg_at, b"\0") + jpeg + b"\0" * 64 + b"\x01" * cfa


FUJI = _tiff(
    [(271, 2, "FUJIFILM"), (272, 2, "X-T3")],
    [
        (33434, 5, [(1, 30)]),  # ExposureTime
        (33437, 5, [(28, 10)]),  # FNumber
        (34855, 3, [3200]),  # ISOSpeedRatings
        (36867, 2, "2024:01:02 03:04:05"),  # DateTimeOriginal
        (36881, 2, "+01:00"),  # OffsetTimeOriginal
        (42033, 2, "1AB23456"),  # BodySerialNumber
    ],
)


def test_a_real_cr3s_canon_boxes_give_make_model_and_exposure():
    ifd0, exif = container_exif(CR3)
    assert (ifd0["Make"], ifd0["Model"]) == ("Canon", "Canon EOS R")
    assert exif["ExposureTime"] == (1, 125) and exif["ISOSpeedRatings"] == 100


def test_probe_raw_reads_a_cr3s_exif(whole_cr3):
    info = probe_raw(whole_cr3)
    assert (info.make, info.model, info.serial) == ("Canon", "Canon EOS R", "085023000606")
    assert info.iso == 100 and info.exposure_s == pytest.approx(1 / 125)
    assert info.aperture == "4"
    when = dt.datetime(2019, 12, 5, 13, 32, 49, 540000, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert info.taken == pytest.approx(when.timestamp())
    assert (info.width, info.height) == (None, None)  # not read for CR3: curation checks sizes


def test_probe_raw_reads_a_rafs_exif(tmp_path):
    path = tmp_path / "DSCF0001.RAF"
    path.write_bytes(_raf(FUJI))
    info = probe_raw(path)
    assert (info.make, info.model, info.serial) == ("FUJIFILM", "X-T3", "1AB23456")
    assert info.iso == 3200 and info.exposure_s == pytest.approx(1 / 30)
    assert info.aperture == "2.8"
    when = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert info.taken == pytest.approx(when.timestamp())


def test_a_cr3_without_canons_box_has_no_metadata(tmp_path):
    data = bytearray(WHOLE_CR3)
    at = data.find(CANON_UUID)
    data[at : at + 16] = b"\0" * 16  # another vendor's uuid: nothing of Canon's to read
    path = tmp_path / "IMG_0001.CR3"
    path.write_bytes(bytes(data))
    assert container_exif(path) is None
    info = probe_raw(path)
    assert info.exposure_s is None and info.iso is None and info.make == ""


def test_a_raf_whose_preview_has_no_exif_has_no_metadata(tmp_path):
    path = tmp_path / "DSCF0001.RAF"
    raf = bytearray(_raf(FUJI))
    at = raf.find(b"Exif\0\0")
    raf[at : at + 6] = b"JFIF\0\0"
    path.write_bytes(bytes(raf))
    assert container_exif(path) is None
    assert probe_raw(path).exposure_s is None


def test_import_takes_a_cr3s_exposure_from_its_metadata(tmp_path):
    card = tmp_path / "card"
    card.mkdir()
    (card / "IMG_0001.CR3").write_bytes(WHOLE_CR3)
    s = tmp_path / "s"
    r = runner.invoke(
        app,
        ["import", "--session", str(s), "--scene", "street", "--dark", str(card)],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    sess = open_session(s)
    (f,) = sess.frames("dark")
    assert f.iso == 100 and f.shutter_s == pytest.approx(1 / 125)
    assert sess.meta["camera"]["make"] == "Canon"
    rec = next(r for r in sess.records if r.get("type") == "frame")
    assert rec["imported"]["exposure_from"] == "metadata"


# -- truncated files: refused at import with the reason -------------------------------------
def test_the_real_truncated_cr3_is_refused_at_import(tmp_path):
    card = tmp_path / "cr3"
    card.mkdir()
    shutil.copy(CR3, card / "IMG_0001.CR3")
    s = tmp_path / "s"
    r = runner.invoke(app, ["import", "--session", str(s), "--scene", "x", "--dark", str(card)])
    assert r.exit_code == 2, r.output
    said = " ".join(r.output.split())  # as Rich wrapped it, unwrapped
    assert "IMG_0001.CR3: truncated: its" in said and "the file has 131072" in said
    assert "copy it from the camera's card again" in said
    assert not s.exists()


def test_a_truncated_cr3_beside_whole_ones_is_journalled_as_skipped(tmp_path):
    card = tmp_path / "cr3"
    card.mkdir()
    (card / "IMG_0001.CR3").write_bytes(WHOLE_CR3)
    shutil.copy(CR3, card / "IMG_0002.CR3")
    s = tmp_path / "s"
    r = runner.invoke(app, ["import", "--session", str(s), "--scene", "x", "--dark", str(card)])
    assert r.exit_code == 0, r.output
    assert "skipped dark/IMG_0002.CR3: truncated" in " ".join(r.output.split())
    sess = open_session(s)
    assert [f.camera_name for f in sess.frames("dark")] == ["IMG_0001.CR3"]
    skipped = {r["file"]: r["reason"] for r in sess.records if r.get("what") == "import_skipped"}
    assert list(skipped) == ["IMG_0002.CR3"] and skipped["IMG_0002.CR3"].startswith("truncated")


def test_the_whole_boxes_of_the_real_cr3_pass_the_rule(whole_cr3):
    assert container_truncation(whole_cr3) is None
    cut = container_truncation(CR3)
    assert cut is not None and cut.startswith("truncated: its '")


@pytest.mark.parametrize(
    ("boxes", "size", "said"),
    [
        ([(b"ftyp", 0, 24), (b"moov", 24, 1000), (b"mdat", 1000, 5000)], 5000, None),
        ([(b"ftyp", 0, 24), (b"moov", 24, 1000), (b"mdat", 1000, 9000)], 5000,
         "truncated: its 'mdat' box ends at byte 9000, the file has 5000"),
        ([(b"ftyp", 0, 24), (b"moov", 24, 26)], 26,
         "damaged ISO-BMFF structure: the 'moov' box at byte 24 has size 2"),
    ],
)  # fmt: skip
def test_the_box_rule_on_synthetic_box_lists(boxes, size, said):
    found = box_overrun(boxes, size)
    assert found == said if said is None else found.startswith(said)


def test_a_cr3_cut_inside_a_box_header_is_truncated(tmp_path):
    path = tmp_path / "IMG_0001.CR3"
    path.write_bytes(WHOLE_CR3 + b"\0\0\0")  # three bytes of a next box's header
    assert container_truncation(path).startswith("truncated")


def test_a_raf_whose_raw_data_lies_past_its_end_is_refused(tmp_path):
    whole = tmp_path / "whole" / "DSCF0001.RAF"
    whole.parent.mkdir()
    whole.write_bytes(_raf(FUJI, cfa=4096))
    assert container_truncation(whole) is None
    assert probe_raw(whole).iso == 3200
    cut = tmp_path / "cut"
    cut.mkdir()
    data = _raf(FUJI, cfa=4096)
    (cut / "DSCF0001.RAF").write_bytes(data[:-1000])
    assert container_truncation(cut / "DSCF0001.RAF") == (
        f"truncated: its raw data ends at byte {len(data)}, the file has {len(data) - 1000}; "
        f"{RECOPY}"
    )
    s = tmp_path / "s"
    r = runner.invoke(app, ["import", "--session", str(s), "--scene", "x", "--dark", str(cut)])
    assert r.exit_code == 2, r.output
    assert "DSCF0001.RAF: truncated: its raw data" in " ".join(r.output.split())
    assert not s.exists()


def test_truncated_says_the_same_words_for_every_format():
    assert truncated("image data", 5000, 4000) == (
        f"truncated: its image data ends at byte 5000, the file has 4000; {RECOPY}"
    )
    assert truncated("raw image directory (SubIFD)", 9, 8, where="lies at") == (
        f"truncated: its raw image directory (SubIFD) lies at byte 9, the file has 8; {RECOPY}"
    )


def test_quiet_tifffile_silences_the_logger_and_restores_its_level_even_on_error():
    logger = logging.getLogger("tifffile")
    before = logger.level
    logger.setLevel(logging.INFO)
    try:
        with pytest.raises(RuntimeError), quiet_tifffile():
            assert logger.level == logging.CRITICAL
            raise RuntimeError("a damaged file")
        assert logger.level == logging.INFO
    finally:
        logger.setLevel(before)
