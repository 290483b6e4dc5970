"""The two baseline networks: SID's U-Net and SMID's residual U-Net, in PyTorch.

Both take and return ``(N, C, H, W)`` float tensors, work in ``torch.channels_last`` memory
format and under bf16 autocast, and accept any spatial size: inputs are reflect-padded up to a
multiple of 16 (four 2x2 poolings) and the output is cropped back.

References
----------
.. [1] C. Chen, Q. Chen, J. Xu, V. Koltun, "Learning to See in the Dark", CVPR 2018;
   github.com/cchen156/Learning-to-See-in-the-Dark, ``train_Sony.py``.
.. [2] C. Chen, Q. Chen, M. Do, V. Koltun, "Seeing Motion in the Dark", ICCV 2019;
   github.com/cchen156/Seeing-Motion-in-the-Dark, ``network.py``.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from baseline.errors import BadArgument, BadRequest

__all__ = ["ResUNet", "SIDUNet", "build_model"]

_LEVELS = 5  # encoder levels; widths w, 2w, 4w, 8w, 16w
_MULTIPLE = 2 ** (_LEVELS - 1)  # H and W must divide by this after padding


def _lrelu() -> nn.Module:
    return nn.LeakyReLU(0.2)


def _conv(cin: int, cout: int, *, norm: bool, act: bool = True) -> nn.Sequential:
    """3x3 "same" conv, optionally layer-normalised, then LeakyReLU(0.2).

    SMID's slim.conv2d drops the bias when a normaliser follows, and its layer norm
    (tf.contrib.layers.layer_norm) normalises each sample over (H, W, C) with per-channel
    scale and shift: that is GroupNorm with a single group.
    """
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.GroupNorm(1, cout))
    if act:
        layers.append(_lrelu())
    return nn.Sequential(*layers)


def _double(cin: int, cout: int, *, norm: bool, first_norm: bool | None = None) -> nn.Sequential:
    first = norm if first_norm is None else first_norm
    return nn.Sequential(_conv(cin, cout, norm=first), _conv(cout, cout, norm=norm))


class _ResBlock(nn.Module):
    """conv-LN-LeakyReLU, conv-LN, plus the input (no activation after the sum), as in SMID."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels, norm=True), _conv(channels, channels, norm=True, act=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class _UNet(nn.Module):
    """The shared 5-level U-Net; subclasses choose normalisation, bottleneck and head."""

    upscale: int = 1

    def __init__(self, *, in_channels: int, width: int, head_channels: int, norm: bool):
        super().__init__()
        if width < 1 or in_channels < 1 or head_channels < 1:
            raise BadArgument(
                f"expected positive in_channels, width and out channels, found {in_channels}, "
                f"{width}, {head_channels}; use e.g. width=32 (the papers) or width=8 (tiny)"
            )
        self.in_channels = in_channels
        widths = [width * 2**i for i in range(_LEVELS)]
        self.down = nn.ModuleList()
        cin = in_channels
        for i, w in enumerate(widths):
            # SMID leaves the very first conv un-normalised.
            self.down.append(_double(cin, w, norm=norm, first_norm=norm and i > 0))
            cin = w
        self.upconv = nn.ModuleList()
        self.up = nn.ModuleList()
        for w in reversed(widths[:-1]):
            # Both papers' transposed convs are a bare filter variable: no bias.
            self.upconv.append(nn.ConvTranspose2d(2 * w, w, 2, stride=2, bias=False))
            self.up.append(_double(2 * w, w, norm=norm))
        self.head = nn.Conv2d(widths[0], head_channels, 1)

    def _bottleneck(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise BadArgument(
                f"{type(self).__name__} expected an (N, {self.in_channels}, H, W) tensor, found "
                f"shape {tuple(x.shape)}; batch single images with x[None] and put channels first"
            )

    def _unet(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % _MULTIPLE, -w % _MULTIPLE
        if pad_h or pad_w:
            # Reflect needs the pad to be smaller than the side; tiny inputs fall back to edge copy.
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < _LEVELS - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        x = self._bottleneck(x)
        for upconv, block, skip in zip(self.upconv, self.up, reversed(skips), strict=True):
            x = block(torch.cat([upconv(x), skip], dim=1))
        return self.head(x)[..., :h, :w]


class SIDUNet(_UNet):
    """The U-Net of "Learning to See in the Dark" [1]_.

    Five levels of two 3x3 convs with LeakyReLU(0.2) (widths ``width`` x 1, 2, 4, 8, 16),
    2x2 max pooling, 2x2 stride-2 transposed convs concatenated with the skip, a 1x1 conv to 12
    channels and ``pixel_shuffle(2)``: sRGB at twice the packed input's resolution.  About
    7.76 M parameters at ``width=32``.

    Parameters
    ----------
    in_channels : int, optional
        Input channels: the Bayer mosaic packed to 4 planes at half resolution, black
        subtracted, scaled to [0, 1], times the exposure ratio and clipped at 1.
    width : int, optional
        Channels at the first level (32 in the paper).
    out_channels : int, optional
        Channels of the 1x1 head; must divide by 4 (12 gives 3 output channels after
        ``pixel_shuffle(2)``).

    Notes
    -----
    No output activation: values may leave [0, 1] and are clipped when scored, as in [1]_.
    PyTorch's ``pixel_shuffle`` orders channels (C, 2, 2) where TensorFlow's ``depth_to_space``
    orders (2, 2, C), so the released TensorFlow checkpoint's head needs a permutation to load.
    """

    upscale = 2

    def __init__(self, *, in_channels: int = 4, width: int = 32, out_channels: int = 12):
        if out_channels % 4:
            raise BadArgument(
                f"expected out_channels divisible by 4 (pixel_shuffle(2) folds 4 into space), "
                f"found {out_channels}; use 12 for 3-channel sRGB"
            )
        super().__init__(
            in_channels=in_channels, width=width, head_channels=out_channels, norm=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, in_channels, h, w)`` packed raw to ``(N, out_channels / 4, 2h, 2w)`` sRGB."""
        self._check(x)
        return F.pixel_shuffle(self._unet(x), 2)


class ResUNet(_UNet):
    """SMID's network [2]_: the 32-512 U-Net with residual blocks at the bottleneck.

    Every conv but the first is followed by a layer norm (GroupNorm with one group, as
    TensorFlow's ``layer_norm`` over (H, W, C)).  At the 16 x ``width`` bottleneck,
    ``res_blocks`` residual blocks and one more conv + norm are added back onto the encoder's
    output.  The head is a 1x1 conv to ``out_channels`` at the input's resolution.

    Parameters
    ----------
    in_channels : int, optional
        Input channels: the raw mosaic 2x2-binned to RGB at half resolution, gained and clipped.
    width : int, optional
        Channels at the first level (32 in the paper).
    out_channels : int, optional
        Output channels (3: sRGB at the same, half, resolution).
    res_blocks : int, optional
        Residual blocks at the bottleneck (16 in the paper).

    Notes
    -----
    The layer norm sees the whole (padded) frame, so outputs depend on the frame's global
    statistics, as in [2]_.  No output activation; clip when scoring.
    """

    upscale = 1

    def __init__(
        self, *, in_channels: int = 3, width: int = 32, out_channels: int = 3, res_blocks: int = 16
    ):
        if res_blocks < 0:
            raise BadArgument(f"expected res_blocks >= 0, found {res_blocks}; the paper uses 16")
        super().__init__(
            in_channels=in_channels, width=width, head_channels=out_channels, norm=True
        )
        c = width * 2 ** (_LEVELS - 1)
        self.res = nn.Sequential(*[_ResBlock(c) for _ in range(res_blocks)])
        self.res_out = _conv(c, c, norm=True, act=False)

    def _bottleneck(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_out(self.res(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, in_channels, h, w)`` binned raw RGB to ``(N, out_channels, h, w)`` sRGB."""
        self._check(x)
        return self._unet(x)


def build_model(
    name: Literal["sid", "smid"], *, width: int = 32, tiny: bool = False
) -> SIDUNet | ResUNet:
    """The baseline network by name.

    Parameters
    ----------
    name : {"sid", "smid"}
        ``"sid"``: :class:`SIDUNet` (packed 4-channel input, 2x output);
        ``"smid"``: :class:`ResUNet` (binned 3-channel input, same-size output).
    width : int, optional
        First-level channels (32 in both papers).  Ignored when ``tiny``.
    tiny : bool, optional
        Width 8 and 2 residual blocks (about 1/16 of SID's parameters): for CPU tests and
        ``--tiny`` smoke runs.

    Returns
    -------
    SIDUNet or ResUNet
        Freshly initialised, in training mode, on the CPU.
    """
    if tiny:
        width = 8
    if name == "sid":
        return SIDUNet(width=width)
    if name == "smid":
        return ResUNet(width=width, res_blocks=2 if tiny else 16)
    raise BadRequest(f'expected model name "sid" or "smid", found {name!r}')
