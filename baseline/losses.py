"""Training losses: SID's pixel L1 and SMID's siamese loss with an optional VGG19 term.

The VGG19 weights are read from a local file in torchvision's ``vgg19`` state-dict layout;
nothing is ever downloaded.

References
----------
.. [1] C. Chen, Q. Chen, M. Do, V. Koltun, "Seeing Motion in the Dark", ICCV 2019;
   github.com/cchen156/Seeing-Motion-in-the-Dark, ``train.py`` and ``vgg.py``.
.. [2] K. Simonyan, A. Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
   Recognition", ICLR 2015.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from baseline.errors import BadArgument, BadRequest

__all__ = [
    "VGG19Features",
    "VGGWeightsError",
    "VGGWeightsMissing",
    "l1",
    "perceptual",
    "smid_loss",
]

# VGG19 up to conv4_2, the deepest layer SMID's loss reads: (name, torchvision features index,
# in channels, out channels).  The indices skip torchvision's ReLU and pooling entries.
_CONVS = (
    ("conv1_1", 0, 3, 64),
    ("conv1_2", 2, 64, 64),
    ("conv2_1", 5, 64, 128),
    ("conv2_2", 7, 128, 128),
    ("conv3_1", 10, 128, 256),
    ("conv3_2", 12, 256, 256),
    ("conv3_3", 14, 256, 256),
    ("conv3_4", 16, 256, 256),
    ("conv4_1", 19, 256, 512),
    ("conv4_2", 21, 512, 512),
)
_POOL_AFTER = frozenset({"conv1_2", "conv2_2", "conv3_4"})
_TAPS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGWeightsError(BadRequest):
    """A VGG19 weights file that cannot be read or is not in torchvision's ``vgg19`` layout."""


class VGGWeightsMissing(VGGWeightsError, FileNotFoundError):
    """The VGG19 weights file does not exist."""


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise BadArgument(
            f"expected prediction and target of one shape, found {tuple(pred.shape)} and "
            f"{tuple(target.shape)}; crop the target to the network's output (no broadcasting)"
        )


def l1(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error, SID's training loss.

    Parameters
    ----------
    pred, target : torch.Tensor
        Tensors of one shape.

    Returns
    -------
    torch.Tensor
        A scalar.
    """
    _check_pair(pred, target)
    return (pred - target).abs().mean()


class VGG19Features(nn.Module):
    """VGG19's convolutional stack up to ``conv4_2``, frozen, for SMID's perceptual loss.

    The forward pass takes ``(N, 3, H, W)`` RGB in [0, 1], normalises it with ImageNet's mean
    and standard deviation (as torchvision's weights expect) and returns the activations after
    the ReLUs of ``conv1_2``, ``conv2_2``, ``conv3_2`` and ``conv4_2`` (64, 128, 256 and 512
    channels at full, 1/2, 1/4 and 1/8 resolution).  Layers past ``conv4_2`` never reach the
    loss, so they are not built.

    A fresh instance has random weights; use :meth:`from_file` to load real ones.  Parameters
    never require gradients, but gradients flow through to the input.

    Notes
    -----
    The pooling is 2x2 *average* pooling, as in SMID's ``vgg.py`` (and Chen and Koltun's
    earlier perceptual losses), not VGG's max pooling; the pretrained convolutions are used
    as they are.
    """

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleDict(
            {name: nn.Conv2d(ci, co, 3, padding=1) for name, _, ci, co in _CONVS}
        )
        self.register_buffer(
            "mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False
        )
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Features of RGB ``x`` in [0, 1]: ``[conv1_2, conv2_2, conv3_2, conv4_2]`` after ReLU."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise BadArgument(
                f"VGG19Features expected an (N, 3, H, W) RGB tensor in [0, 1], found shape "
                f"{tuple(x.shape)}"
            )
        x = (x - self.mean) / self.std
        out = []
        for name, conv in self.convs.items():
            x = F.relu(conv(x))
            if name in _TAPS:
                out.append(x)
                if name == _TAPS[-1]:
                    break
            if name in _POOL_AFTER:
                x = F.avg_pool2d(x, 2)
        return out

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> VGG19Features:
        """Load torchvision ``vgg19`` ImageNet weights from a local file.

        Parameters
        ----------
        path : str or os.PathLike
            A ``torch.save``-d state dict in torchvision's ``vgg19`` layout
            (``features.0.weight``, ``features.0.bias``, ..., ``classifier.*``), e.g.
            ``vgg19-dcbb9e9d.pth``.  Only ``features.0`` to ``features.21`` are used; other
            keys are ignored.

        Returns
        -------
        VGG19Features
            On the CPU, in float32, in eval mode, frozen.

        Raises
        ------
        VGGWeightsMissing
            No file at ``path``.
        VGGWeightsError
            The file is not a loadable state dict, or lacks a needed key, or a tensor has the
            wrong shape (a ``vgg19_bn`` or ``vgg16`` file, or a wrapped checkpoint).
        """
        path = Path(path)
        hint = (
            "get torchvision's vgg19 ImageNet weights (vgg19-dcbb9e9d.pth, e.g. from "
            "~/.cache/torch/hub/checkpoints/ on a machine that has used torchvision) and pass "
            "that file; nothing is downloaded here"
        )
        if not path.is_file():
            raise VGGWeightsMissing(
                f"expected VGG19 weights (a torchvision vgg19 state dict) at {path}, found no "
                f"file; the perceptual loss was not built. To fix: {hint}, or train without "
                "the VGG term"
            )
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise VGGWeightsError(
                f"expected {path} to be a torch.save-d state dict, but torch.load failed "
                f"({type(exc).__name__}: {exc}); nothing was loaded. To fix: {hint}"
            ) from exc
        if not isinstance(state, dict):
            raise VGGWeightsError(
                f"expected {path} to hold a state dict (a dict of tensors), found a "
                f"{type(state).__name__}; nothing was loaded. To fix: {hint}"
            )
        model = cls()
        mine = {}
        missing, wrong = [], []
        for name, index, ci, co in _CONVS:
            for part, shape in (("weight", (co, ci, 3, 3)), ("bias", (co,))):
                key = f"features.{index}.{part}"
                tensor = state.get(key)
                if not isinstance(tensor, torch.Tensor):
                    missing.append(key)
                elif tuple(tensor.shape) != shape:
                    wrong.append(f"{key}: expected {shape}, found {tuple(tensor.shape)}")
                else:
                    mine[f"convs.{name}.{part}"] = tensor.to(torch.float32)
        if missing or wrong:
            found = ", ".join(list(map(str, state))[:6]) or "no keys"
            problems = []
            if missing:
                problems.append(
                    f"missing {', '.join(missing[:6])}" + (" ..." if len(missing) > 6 else "")
                )
            if wrong:
                problems.append("wrong shapes " + "; ".join(wrong[:4]))
            raise VGGWeightsError(
                f"expected torchvision's vgg19 layout in {path} (features.0.weight of shape "
                f"(64, 3, 3, 3) ... features.21.bias), found: {'; '.join(problems)}. First keys "
                f"in the file: {found}. Nothing was loaded. A vgg19_bn or vgg16 file, or a "
                f"checkpoint wrapping the state dict (keys prefixed 'module.' or under "
                f"'state_dict'), will not do. To fix: {hint}"
            )
        model.load_state_dict(mine, strict=True)
        return model


def _f_loss(
    a: torch.Tensor, b: torch.Tensor, fa: list[torch.Tensor], fb: list[torch.Tensor]
) -> torch.Tensor:
    loss = (a - b).abs().mean()
    for x, y in zip(fa, fb, strict=True):
        loss = loss + (x - y).abs().mean()
    return loss


def perceptual(pred: torch.Tensor, target: torch.Tensor, vgg: VGG19Features) -> torch.Tensor:
    """SMID's loss term F: pixel L1 plus L1 on four VGG19 feature maps, equally weighted.

    ``F = mean|pred - target| + sum over conv1_2, conv2_2, conv3_2, conv4_2 of
    mean|phi(pred) - phi(target)|``, as ``F_loss`` in SMID's ``vgg.py`` [1]_ (all weights 1;
    its ``conv5_2`` x 10 term is commented out there).

    Parameters
    ----------
    pred, target : torch.Tensor
        ``(N, 3, H, W)`` RGB in [0, 1], one shape.
    vgg : VGG19Features
        The feature extractor (see :meth:`VGG19Features.from_file`).

    Returns
    -------
    torch.Tensor
        A scalar.  Symmetric in ``pred`` and ``target``.

    Notes
    -----
    SMID feeds MatConvNet's VGG19 with 0-255 images minus the mean pixel, so its pixel term
    is in 0-255 units and its features are on that scale; here images are in [0, 1] and the
    features are torchvision's (ImageNet-normalised input).  With equal weights kept, the
    balance between the pixel and feature terms differs from SMID's by a constant factor.
    """
    _check_pair(pred, target)
    feats = vgg(torch.cat([pred, target]))
    n = pred.shape[0]
    return _f_loss(pred, target, [f[:n] for f in feats], [f[n:] for f in feats])


def smid_loss(
    o1: torch.Tensor,
    o2: torch.Tensor,
    gt: torch.Tensor,
    *,
    vgg: VGG19Features | None = None,
    lam: float = 0.05,
) -> torch.Tensor:
    """SMID's siamese loss: ``F(gt, o1) + F(gt, o2) + lam * F(o1, o2)``.

    Parameters
    ----------
    o1, o2 : torch.Tensor
        ``(N, 3, H, W)`` network outputs for two different short frames of one static scene.
    gt : torch.Tensor
        ``(N, 3, H, W)`` the shared ground truth.
    vgg : VGG19Features, optional
        With it, ``F`` is :func:`perceptual` (SMID's choice); without, ``F`` is :func:`l1`.
    lam : float, optional
        Weight of the consistency term between the two outputs (0.05 in SMID's ``train.py``).

    Returns
    -------
    torch.Tensor
        A scalar.
    """
    _check_pair(o1, gt)
    _check_pair(o2, gt)
    if vgg is None:
        return l1(o1, gt) + l1(o2, gt) + lam * l1(o1, o2)
    n = gt.shape[0]
    # One VGG pass over all three images instead of two per F term.
    feats = vgg(torch.cat([gt, o1, o2]))
    fg, f1, f2 = ([f[i * n : (i + 1) * n] for f in feats] for i in range(3))
    return _f_loss(gt, o1, fg, f1) + _f_loss(gt, o2, fg, f2) + lam * _f_loss(o1, o2, f1, f2)
