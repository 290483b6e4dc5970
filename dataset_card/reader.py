"""Read a sublux release into NumPy arrays: lazily, and safely in DataLoader worker processes.

>>> rel = open_release("drv-like-1.0.0")                         # doctest: +SKIP
>>> train = rel.split("train")                                   # doctest: +SKIP
>>> for sid, i, k in pairs(train):                               # doctest: +SKIP
...     sd = train.session(sid)
...     dark = sd.short[i, 100:612, 200:712]    # reads only the chunks under the crop
...     bright = sd.long[k, 100:612, 200:712]
...     x = apply_gain(pack_raw(dark, black=sd.attrs["black_level"],
...                             white=sd.attrs["white_level"], cfa=sd.attrs["cfa"]),
...                    sd.short_frames["exposure_ratio"][i])

A :class:`SplitReader` opens its HDF5 files on first use in the process that uses it, and
opens them again when it finds itself in a different process (a forked DataLoader worker),
so one reader built before the workers start serves them all; it pickles without its file
handles (for ``spawn``).  Arrays come back as NumPy; nothing here needs torch.

The preprocessing helpers are DRV's and SID's: black subtraction to [0, 1], packing into four
half-resolution planes, 2x2 binning to raw RGB with the greens averaged, and the exposure-ratio
gain with clipping.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from curate.bayer import check_levels, pack_rggb
from dataset_card.errors import BadRelease, CorruptFile, DatasetError, UnknownSplit
from dataset_card.h5io import filter_error, open_file, to_python
from dataset_card.manifest import MANIFEST as MANIFEST
from dataset_card.manifest import Manifest
from dataset_card.schema import LONG_FRAMES_DTYPE, SHORT_FRAMES_DTYPE

__all__ = [
    "LazyArray",
    "Release",
    "SessionData",
    "SplitReader",
    "apply_gain",
    "bin_raw_rgb",
    "half_size",
    "network_input",
    "open_release",
    "pack_raw",
    "pairs",
    "random_window",
    "subtract_black",
    "table_dicts",
    "usable_ratio",
]

log = logging.getLogger(__name__)

# -- releases ---------------------------------------------------------------------------------


class Release:
    """A release folder, described by its ``manifest.json``; see :func:`open_release`.

    Attributes
    ----------
    folder : pathlib.Path
        The release folder.
    manifest : Manifest
        Its manifest, as a typed record (:class:`dataset_card.manifest.Manifest`).
    """

    def __init__(self, folder: str | os.PathLike, manifest: Manifest) -> None:
        self.folder = Path(folder)
        self.manifest = manifest

    @property
    def name(self) -> str:
        """The dataset's name."""
        return self.manifest.name

    @property
    def version(self) -> str:
        """The release's version."""
        return self.manifest.version

    @property
    def splits(self) -> list[str]:
        """Split names, in the manifest's order."""
        return list(self.manifest.splits)

    def files(self, name: str) -> list[Path]:
        """The HDF5 files of split ``name``."""
        if name not in self.manifest.splits:
            raise UnknownSplit(
                f"expected a split of {self.name} {self.version} ({', '.join(self.splits)}), "
                f"found {name!r}"
            )
        return [self.folder / rel for rel in self.manifest.splits[name].files]

    def split(self, name: str) -> SplitReader:
        """A lazy reader over split ``name``."""
        return SplitReader(self.files(name))

    def __repr__(self) -> str:
        return f"Release({self.name!r}, {self.version!r}, splits={self.splits})"


def open_release(folder: str | os.PathLike) -> Release:
    """Open a release folder by reading its ``manifest.json``.

    Parameters
    ----------
    folder : path
        The release folder (holding ``manifest.json``, ``data/``, ...).

    Returns
    -------
    Release

    Raises
    ------
    MissingFile
        No ``manifest.json`` in ``folder``.
    BadRelease
        The manifest is not JSON, lacks ``splits`` or holds a value of the wrong type.
    """
    return Release(folder, Manifest.read(folder))


# -- lazy arrays and sessions -----------------------------------------------------------------


class LazyArray:
    """A read-only view of one HDF5 dataset: slicing reads only the chunks it touches.

    Supports h5py's slicing (integers, slices with positive steps, one list of increasing
    indices); ``np.asarray(a)`` reads it all.  The dataset is looked up afresh on every read
    through the owning :class:`SplitReader`, so a view made before a fork works after it.
    """

    def __init__(
        self,
        reader: SplitReader,
        file_index: int,
        name: str,
        shape: tuple[int, ...],
        dtype: np.dtype,
    ) -> None:
        self._reader = reader
        self._file_index = file_index
        self.name = name
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        ds = self._reader._dataset(self._file_index, self.name)
        try:
            out = ds[key]
        except OSError as exc:
            missing = filter_error(ds, f"{self.name} in {self._reader.files[self._file_index]}")
            if missing is not None:
                raise missing from None
            raise CorruptFile(
                f"expected to read {self.name}[{key!r}] from "
                f"{self._reader.files[self._file_index]}, found {exc}; run `dataset verify` on "
                "the release and download damaged files again"
            ) from None
        return np.asarray(out)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[()]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"LazyArray({self.name!r}, shape={self.shape}, dtype={self.dtype})"


class SessionData:
    """One session of a split: lazy frames, tables and attributes.

    Attributes
    ----------
    session_id : str
    short : LazyArray
        (T, H, W) uint16 short-exposure mosaics.
    long : LazyArray or None
        (K, H, W) uint16 reference mosaics; None for a session without references.
    gt_srgb : LazyArray or None
        (K, H', W', 3) uint16 sRGB renderings of the references.
    long_mean : LazyArray or None
        (H, W) float32 mean of the K references (static sessions with K > 1 only).
    gt_mean_srgb : LazyArray or None
        (H, W, 3) uint16 rendering of ``long_mean``: a ground truth with 1/sqrt(K) of one
        reference's noise.
    short_srgb, long_srgb : LazyArray or None
        A video session's frames, (T, H, W, 3) and (K, H, W, 3) uint8 sRGB (``short`` and
        ``long`` are then None; :attr:`modality` is ``video``).
    """

    def __init__(self, reader: SplitReader, file_index: int, session_id: str) -> None:
        self._reader = reader
        self._file_index = file_index
        self.session_id = session_id
        group = reader._group(file_index, session_id)
        arrays: dict[str, LazyArray | None] = {}
        for name in (
            "short", "long", "gt_srgb", "long_mean", "gt_mean_srgb", "short_srgb", "long_srgb"
        ):  # fmt: skip
            ds = group.get(name)
            arrays[name] = (
                None
                if ds is None
                else LazyArray(reader, file_index, ds.name, tuple(ds.shape), ds.dtype)
            )
        if arrays["short"] is None and arrays["short_srgb"] is None:
            raise BadRelease(
                f"expected /sessions/{session_id}/short in {reader.files[file_index]}, found "
                "none; the file does not follow the split layout"
            )
        self.short: LazyArray | None = arrays["short"]
        #: a video session's frames (8-bit sRGB, (N, H, W, 3)); None for a raw session
        self.short_srgb: LazyArray | None = arrays["short_srgb"]
        self.long_srgb: LazyArray | None = arrays["long_srgb"]
        self.long: LazyArray | None = arrays["long"]
        self.gt_srgb: LazyArray | None = arrays["gt_srgb"]
        self.long_mean: LazyArray | None = arrays["long_mean"]
        self.gt_mean_srgb: LazyArray | None = arrays["gt_mean_srgb"]
        self._attrs: dict[str, Any] | None = None
        self._tables: dict[str, np.ndarray] = {}

    @property
    def attrs(self) -> dict[str, Any]:
        """The session's attributes as Python values (lists for arrays, str for text)."""
        if self._attrs is None:
            group = self._reader._group(self._file_index, self.session_id)
            self._attrs = {k: to_python(group.attrs[k]) for k in group.attrs}
        return dict(self._attrs)

    @property
    def scene(self) -> str:
        """The scene the session shows."""
        return str(self.attrs.get("scene", ""))

    @property
    def modality(self) -> str:
        """``raw`` (Bayer mosaics) or ``video`` (8-bit sRGB frames of an imported video)."""
        return str(self.attrs.get("modality") or "raw")

    @property
    def kind(self) -> str:
        """``static``, ``sweep`` or ``dynamic``."""
        return str(self.attrs.get("kind", ""))

    @property
    def short_frames(self) -> np.ndarray:
        """Per-frame table of ``short`` (structured array; text fields are bytes)."""
        return self._table("short_frames", SHORT_FRAMES_DTYPE)

    @property
    def long_frames(self) -> np.ndarray:
        """Per-frame table of ``long`` (empty for a session without references)."""
        return self._table("long_frames", LONG_FRAMES_DTYPE)

    def _table(self, name: str, empty: np.dtype) -> np.ndarray:
        if name not in self._tables:
            group = self._reader._group(self._file_index, self.session_id)
            ds = group.get(name)
            try:
                self._tables[name] = np.zeros(0, empty) if ds is None else ds[()]
            except OSError as exc:
                raise CorruptFile(
                    f"expected to read {name} of {self.session_id} from "
                    f"{self._reader.files[self._file_index]}, found {exc}; run `dataset verify`"
                ) from None
        return self._tables[name]

    def ground_truth(self, i: int, kind: str = "pair", window: Any = ()) -> np.ndarray:
        """The sRGB ground truth of short frame ``i``.

        Parameters
        ----------
        i : int
            Index into ``short``; the frame must be paired (``short_frames['ref'] >= 0``).
        kind : {"pair", "mean"}
            ``pair``: the rendering of the reference the frame is paired with
            (``gt_srgb[ref]``).  ``mean``: the rendering of the mean of the session's
            references (``gt_mean_srgb``) where the session has one (a static session with
            K > 1); elsewhere the pair's (a single reference is its own mean; a sweep's
            references show different positions and have no mean).
        window : tuple of slices, optional
            ``(rows, cols)`` to read only a crop, e.g. ``(slice(0, 64), slice(0, 64))``.

        Returns
        -------
        ndarray of uint16, shape (H, W, 3) or the window's
        """
        if kind not in ("pair", "mean"):
            raise BadRelease(f"expected a ground truth kind 'pair' or 'mean', found {kind!r}")
        ref = int(self.short_frames["ref"][i])
        if ref >= 0 and self.long_srgb is not None:  # a video session: the reference itself
            window = tuple(window) if isinstance(window, (tuple, list)) else (window,)
            return self.long_srgb[(ref, *window)]
        if ref < 0 or self.gt_srgb is None:
            raise BadRelease(
                f"{self.session_id}: short frame {i} has no reference, so no ground truth; "
                "use pairs() or sequences() to find the paired frames"
            )
        window = tuple(window) if isinstance(window, (tuple, list)) else (window,)
        if kind == "mean" and self.gt_mean_srgb is not None:
            return self.gt_mean_srgb[window]
        return self.gt_srgb[(ref, *window)]

    def pairs(self) -> list[tuple[int, int]]:
        """``(short_index, ref_index)`` for every short frame paired with a reference."""
        refs = self.short_frames["ref"]
        return [(int(i), int(refs[i])) for i in np.flatnonzero(refs >= 0)]

    def sequences(self) -> list[tuple[int, list[int]]]:
        """``(ref_index, short indices)`` per reference: DRV's static sequences, each frame
        paired with the reference it was aligned to (empty without references)."""
        refs = self.short_frames["ref"]
        return [
            (k, [int(i) for i in np.flatnonzero(refs == k)])
            for k in sorted({int(r) for r in refs if r >= 0})
        ]

    def __repr__(self) -> str:
        frames = self.short if self.short is not None else self.short_srgb
        return f"SessionData({self.session_id!r}, short={frames.shape})"


class SplitReader:
    """Lazy reader over the HDF5 files of one split.

    Parameters
    ----------
    files : sequence of paths
        The split's files (shards), in order.

    Notes
    -----
    Files are opened on first use in the current process; when the process id changes (a
    DataLoader worker forked from the process that opened them) the inherited handles are
    dropped and the files opened again, as h5py requires (h5py issue #2372).  Pickling drops
    the handles, so a reader can be sent to ``spawn`` workers too.
    """

    def __init__(self, files: Sequence[str | os.PathLike]) -> None:
        self.files = [Path(f) for f in files]
        self._handles: list[Any] | None = None
        self._pid: int | None = None
        self._index: dict[str, int] | None = None
        # SessionData per id: its attributes and tables are read once, not per training sample
        self._sessions: dict[str, SessionData] = {}

    # -- handles ------------------------------------------------------------------------------

    def _open(self) -> list[Any]:
        pid = os.getpid()
        if self._handles is not None and self._pid == pid:
            return self._handles
        if self._handles is not None:
            log.debug("process %d inherited split handles from %s; reopening", pid, self._pid)
            self._drop_inherited()
        handles = []
        try:
            for path in self.files:
                handles.append(open_file(path))
        except DatasetError:
            for h in handles:
                h.close()
            raise
        self._handles, self._pid = handles, pid
        return handles

    def _drop_inherited(self) -> None:
        # Closing in the child touches only the child's copy of the library state; the
        # parent's handles stay open.
        for h in self._handles or []:
            try:
                h.close()
            except Exception as exc:  # a half-dead inherited handle must not stop the worker
                log.debug("closing an inherited handle failed: %s", exc)
        self._handles = None

    def _dataset(self, file_index: int, name: str) -> Any:
        return self._open()[file_index][name]

    def _group(self, file_index: int, session_id: str) -> Any:
        return self._open()[file_index]["sessions"][session_id]

    def _session_index(self) -> dict[str, int]:
        if self._index is None:
            index: dict[str, int] = {}
            for i, f in enumerate(self._open()):
                sessions = f.get("sessions")
                if sessions is None:
                    raise BadRelease(
                        f"expected a /sessions group in {self.files[i]}, found none; the file "
                        "does not follow the split layout"
                    )
                for sid in sessions:
                    if sid in index:
                        raise BadRelease(
                            f"expected each session in one file of the split, found {sid!r} in "
                            f"{self.files[index[sid]].name} and {self.files[i].name}"
                        )
                    index[sid] = i
            self._index = index
        return self._index

    # -- public -------------------------------------------------------------------------------

    def sessions(self) -> list[str]:
        """Session ids, in file order then name order."""
        return list(self._session_index())

    def __len__(self) -> int:
        return len(self._session_index())

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._session_index()

    def session(self, session_id: str) -> SessionData:
        """The session ``session_id`` (one object per id and reader; it holds no handle)."""
        index = self._session_index()
        if session_id not in index:
            raise BadRelease(
                f"expected a session of this split ({len(index)} sessions, e.g. "
                f"{', '.join(list(index)[:3])}), found {session_id!r}"
            )
        if session_id not in self._sessions:
            self._sessions[session_id] = SessionData(self, index[session_id], session_id)
        return self._sessions[session_id]

    def close(self) -> None:
        """Close the files (a later read opens them again)."""
        if self._handles is not None and self._pid == os.getpid():
            for h in self._handles:
                h.close()
        self._handles = None
        self._pid = None

    def __enter__(self) -> SplitReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = None
        state["_pid"] = None
        state["_sessions"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"SplitReader({[f.name for f in self.files]})"


def pairs(split_reader: SplitReader) -> Iterator[tuple[str, int, int]]:
    """Every paired short frame of a split: ``(session_id, short_index, ref_index)``.

    Parameters
    ----------
    split_reader : SplitReader

    Yields
    ------
    tuple of (str, int, int)
        Session id, index into its ``short``, index into its ``long``.
    """
    for sid in split_reader.sessions():
        sd = split_reader.session(sid)
        if sd.long is None:
            continue
        for i, k in sd.pairs():
            yield sid, i, k


def table_dicts(table: np.ndarray) -> list[dict[str, Any]]:
    """A frames table as a list of dicts, text decoded and numbers as Python values."""
    names = table.dtype.names or ()
    return [{n: to_python(row[n]) for n in names} for row in table]


# -- preprocessing (DRV / SID) ----------------------------------------------------------------


def subtract_black(
    mosaic: np.ndarray, *, black: float | Sequence[float], white: float
) -> np.ndarray:
    """Black-subtract and normalise a Bayer mosaic to [0, 1], per CFA position.

    Parameters
    ----------
    mosaic : numpy.ndarray
        (H, W) raw mosaic (H, W even), or a stack (..., H, W).
    black : float or sequence of 4 floats
        Black level, one value or one per 2x2 quad position in raster order (the session's
        ``black_level`` attribute).
    white : float
        White level (``white_level``).

    Returns
    -------
    numpy.ndarray
        float32, ``clip((x - black) / (white - black), 0, 1)`` with each pixel's own black.
    """
    arr = np.asarray(mosaic)
    if arr.ndim < 2 or arr.shape[-1] % 2 or arr.shape[-2] % 2:
        raise BadRelease(f"expected a mosaic with even height and width, found {arr.shape}")
    levels, white = check_levels(black, white)
    reps = (arr.shape[-2] // 2, arr.shape[-1] // 2)
    b = np.tile(levels, reps).astype(np.float32)
    scale = np.tile(1.0 / (white - levels), reps).astype(np.float32)
    out = arr.astype(np.float32)
    out -= b
    out *= scale
    return np.clip(out, 0.0, 1.0, out=out)


def pack_raw(
    mosaic: np.ndarray, *, black: float | Sequence[float], white: float, cfa: str = "RGGB"
) -> np.ndarray:
    """SID's ``pack_raw``: four half-resolution planes R, G, B, G, black-subtracted, in [0, 1].

    Parameters
    ----------
    mosaic : numpy.ndarray
        (H, W) raw mosaic, H and W even.
    black : float or sequence of 4 floats
        Black level(s), CFA raster order.
    white : float
        White level.
    cfa : str, optional
        The session's ``cfa`` attribute (RGGB, BGGR, GRBG, GBRG).

    Returns
    -------
    numpy.ndarray
        float32 (4, H/2, W/2): red, the green on red's rows, blue, the green on blue's rows;
        ``max(x - black, 0) / (white - black)`` clipped at 1.

    Notes
    -----
    This is :func:`curate.bayer.pack_rggb` with ``clip=True``.
    """
    return pack_rggb(mosaic, black=black, white=white, cfa=cfa, clip=True)


def bin_raw_rgb(
    mosaic: np.ndarray, *, black: float | Sequence[float], white: float, cfa: str = "RGGB"
) -> np.ndarray:
    """DRV/SMID input: 2x2 binning to raw RGB with the two greens averaged, in [0, 1].

    Parameters
    ----------
    mosaic : numpy.ndarray
        (H, W) raw mosaic, H and W even.
    black, white, cfa
        As :func:`pack_raw`.

    Returns
    -------
    numpy.ndarray
        float32 (3, H/2, W/2): R, (G1 + G2) / 2, B, each black-subtracted and clipped to
        [0, 1] before the greens are averaged.
    """
    packed = pack_raw(mosaic, black=black, white=white, cfa=cfa)
    out = np.empty((3, *packed.shape[1:]), dtype=np.float32)
    out[0] = packed[0]
    np.add(packed[1], packed[3], out=out[1])
    out[1] *= np.float32(0.5)
    out[2] = packed[2]
    return out


def usable_ratio(value: float) -> float:
    """The exposure ratio to apply: the recorded one, or 1 when unknown (NaN) or not positive."""
    value = float(value)
    return value if np.isfinite(value) and value > 0 else 1.0


def network_input(
    mosaic: np.ndarray, attrs: dict[str, Any], ratio: float, *, layout: str = "packed"
) -> np.ndarray:
    """DRV/SID preprocessing of one short frame with its session's attributes.

    ``layout="packed"``: SID's four channels at half resolution; ``"rgb"``: 2x2-binned raw RGB
    (DRV/SMID).  Black subtracted, scaled to [0, 1], times the exposure ratio, clipped.
    """
    levels = {"black": attrs["black_level"], "white": attrs["white_level"], "cfa": attrs["cfa"]}
    if layout == "packed":
        x = pack_raw(mosaic, **levels)
    elif layout == "rgb":
        x = bin_raw_rgb(mosaic, **levels)
    else:
        raise ValueError(f"expected layout 'packed' or 'rgb', found {layout!r}")
    return apply_gain(x, usable_ratio(ratio), clip=True)


def half_size(image: np.ndarray) -> np.ndarray:
    """An (H, W, C) image averaged over 2x2 blocks to (H/2, W/2, C) float32 (odd edges dropped).

    SMID's ground truth and binned inputs live at this resolution.
    """
    img = np.asarray(image, dtype=np.float32)
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    return img[:h, :w].reshape(h // 2, 2, w // 2, 2, *img.shape[2:]).mean(axis=(1, 3))


def apply_gain(x: np.ndarray, ratio: float, *, clip: bool = True) -> np.ndarray:
    """Multiply by the exposure ratio (DRV's and SID's amplification), clipping at 1.

    Parameters
    ----------
    x : numpy.ndarray
        Normalised raw data (from :func:`pack_raw` or :func:`bin_raw_rgb`).
    ratio : float
        Exposure ratio, long over short (``short_frames["exposure_ratio"]``); must be > 0.
    clip : bool, optional
        Clip the result at 1 (a saturated long exposure reads 1).

    Returns
    -------
    numpy.ndarray
        float32 ``min(x * ratio, 1)`` (no lower clip: negative input stays negative).
    """
    ratio = float(ratio)
    if not np.isfinite(ratio) or ratio <= 0:
        raise BadRelease(
            f"expected a finite exposure ratio > 0, found {ratio}; sessions without "
            "references have NaN ratios, so skip them or pass the ratio you mean"
        )
    out = np.asarray(x, dtype=np.float32) * np.float32(ratio)
    if clip:
        np.minimum(out, np.float32(1.0), out=out)
    return out


def random_window(
    height: int,
    width: int,
    *,
    size: int | tuple[int, int],
    rng: np.random.Generator,
    even: bool = True,
) -> tuple[slice, slice]:
    """A random crop window, at even offsets so a Bayer crop keeps its CFA phase.

    Parameters
    ----------
    height, width : int
        Frame size.
    size : int or (int, int)
        Window size (rows, columns); even when ``even`` is true.
    rng : numpy.random.Generator
        The random source (seed it per worker).
    even : bool, optional
        Place the window at even offsets (keep True for mosaics).

    Returns
    -------
    tuple of slice
        ``(rows, cols)``, e.g. ``sd.short[i, rows, cols]`` and ``sd.long[k, rows, cols]`` read
        just that window.
    """
    h, w = (size, size) if isinstance(size, (int, np.integer)) else size
    h, w = int(h), int(w)
    if not (0 < h <= height and 0 < w <= width) or (even and (h % 2 or w % 2)):
        raise BadRelease(
            f"expected a{'n even' if even else ''} window within {height}x{width}, found {h}x{w}"
        )
    step = 2 if even else 1
    y = int(rng.integers(0, (height - h) // step + 1)) * step
    x = int(rng.integers(0, (width - w) // step + 1)) * step
    return slice(y, y + h), slice(x, x + w)
