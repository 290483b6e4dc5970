"""SID's U-Net and SMID's residual U-Net: shapes, size, memory format, autocast, a training step."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from baseline.losses import l1
from baseline.models import ResUNet, SIDUNet, build_model


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _conv(cin: int, cout: int, k: int = 3, *, bias: bool = True) -> int:
    return cin * cout * k * k + (cout if bias else 0)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize(("h", "w"), [(16, 32), (37, 45), (5, 7), (1, 1)])
def test_sid_doubles_the_packed_resolution_for_any_size(h, w):
    model = build_model("sid", tiny=True).eval()
    with torch.no_grad():
        y = model(torch.rand(2, 4, h, w))
    assert y.shape == (2, 3, 2 * h, 2 * w)
    assert torch.isfinite(y).all()


def test_full_width_sid_handles_an_odd_packed_size():
    with torch.no_grad():
        y = SIDUNet().eval()(torch.rand(1, 4, 37, 45))
    assert y.shape == (1, 3, 74, 90)


@pytest.mark.parametrize(("h", "w"), [(16, 32), (37, 45), (3, 50)])
def test_smid_keeps_the_resolution_for_any_size(h, w):
    model = build_model("smid", tiny=True).eval()
    with torch.no_grad():
        y = model(torch.rand(2, 3, h, w))
    assert y.shape == (2, 3, h, w)
    assert torch.isfinite(y).all()


def test_sid_has_the_papers_parameter_count():
    model = SIDUNet()
    widths = [32, 64, 128, 256, 512]
    expected, cin = 0, 4
    for w in widths:
        expected += _conv(cin, w) + _conv(w, w)
        cin = w
    for w in reversed(widths[:-1]):
        expected += _conv(2 * w, w, 2, bias=False) + _conv(2 * w, w) + _conv(w, w)
    expected += _conv(32, 12, 1)
    assert _count(model) == expected
    assert 7.7e6 < _count(model) < 7.9e6


def test_smid_has_sixteen_residual_blocks_at_512_channels():
    with torch.device("meta"):
        model = ResUNet()
    widths = [32, 64, 128, 256, 512]

    def normed(cin: int, cout: int) -> int:  # bias-free conv + GroupNorm's scale and shift
        return _conv(cin, cout, bias=False) + 2 * cout

    expected = _conv(3, 32) + normed(32, 32)
    for cin, w in pairwise(widths):
        expected += normed(cin, w) + normed(w, w)
    expected += (2 * 16 + 1) * normed(512, 512)
    for w in reversed(widths[:-1]):
        expected += _conv(2 * w, w, 2, bias=False) + normed(2 * w, w) + normed(w, w)
    expected += _conv(32, 3, 1)
    assert _count(model) == expected
    assert len(model.res) == 16


def test_build_model_tiny_and_names():
    sid, smid = build_model("sid", tiny=True), build_model("smid", tiny=True)
    assert isinstance(sid, SIDUNet) and isinstance(smid, ResUNet)
    assert sid.down[0][0][0].out_channels == 8 and len(smid.res) == 2
    assert (sid.upscale, smid.upscale) == (2, 1)
    assert build_model("sid", width=16).down[0][0][0].out_channels == 16
    with pytest.raises(ValueError, match="sid"):
        build_model("unet")  # type: ignore[arg-type]


def test_a_wrong_input_layout_gets_a_clear_error():
    model = build_model("sid", tiny=True)
    with pytest.raises(ValueError, match=r"\(N, 4, H, W\).*found shape \(1, 32, 32, 4\)"):
        model(torch.rand(1, 32, 32, 4))


@pytest.mark.parametrize(("name", "cin", "size"), [("sid", 4, (20, 36)), ("smid", 3, (32, 40))])
def test_channels_last_gives_the_same_output(name, cin, size):
    model = build_model(name, tiny=True).eval()
    x = torch.rand(2, cin, *size)
    with torch.no_grad():
        ref = model(x)
        model = model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-4)
    if size[0] % 16 == 0 and size[1] % 16 == 0:  # nothing cropped: no op fell back to NCHW
        assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize(("name", "cin"), [("sid", 4), ("smid", 3)])
def test_bf16_autocast_runs_and_stays_close(name, cin):
    model = build_model(name, tiny=True).eval()
    x = torch.rand(1, cin, 24, 40)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
    assert out.dtype == torch.bfloat16 and out.shape == ref.shape
    err = (out.float() - ref).norm() / ref.norm()
    assert err < 0.05


@pytest.mark.parametrize(("name", "cin", "scale"), [("sid", 4, 2), ("smid", 3, 1)])
def test_one_optimiser_step_lowers_the_l1_loss(name, cin, scale):
    model = build_model(name, tiny=True)
    x = torch.rand(2, cin, 16, 16)
    y = torch.rand(2, 3, 16 * scale, 16 * scale)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = l1(model(x), y)
    opt.zero_grad()
    before.backward()
    opt.step()
    with torch.no_grad():
        after = l1(model(x), y)
    assert float(after) < float(before.detach())
