"""L1, the VGG19 feature extractor and its weights file, SMID's perceptual and siamese losses."""

from __future__ import annotations

import pytest
import torch

from baseline.losses import (
    VGG19Features,
    VGGWeightsError,
    VGGWeightsMissing,
    l1,
    perceptual,
    smid_loss,
)

# torchvision's vgg19 `features` indices of the ten convs up to conv4_2, with their shapes.
TV_CONVS = {0: (3, 64), 2: (64, 64), 5: (64, 128), 7: (128, 128), 10: (128, 256)}
TV_CONVS |= {12: (256, 256), 14: (256, 256), 16: (256, 256), 19: (256, 512), 21: (512, 512)}
NAMES = dict(zip(TV_CONVS, [f"conv{b}_{i}" for b, n in ((1, 2), (2, 2), (3, 4), (4, 2))
                            for i in range(1, n + 1)], strict=True))  # fmt: skip


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    state = {}
    for i, (cin, cout) in TV_CONVS.items():
        state[f"features.{i}.weight"] = (
            torch.randn(cout, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
        )
        state[f"features.{i}.bias"] = torch.randn(cout, generator=g) * 0.01
    state["classifier.6.bias"] = torch.zeros(1000)  # the real file's extra keys are ignored
    return state


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    state = _state()
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture(scope="module")
def vgg(weights):
    return VGG19Features.from_file(weights[0])


def test_l1_is_the_mean_absolute_error():
    a = torch.tensor([[0.0, 1.0], [0.5, 0.25]])
    b = torch.tensor([[0.5, 0.0], [0.5, 1.0]])
    assert float(l1(a, b)) == pytest.approx((0.5 + 1.0 + 0.0 + 0.75) / 4)
    with pytest.raises(ValueError, match=r"one shape.*\(2, 2\) and \(1, 2\)"):
        l1(a, b[:1])


def test_vgg_loads_a_torchvision_layout_file_into_the_right_layers(weights, vgg):
    _, state = weights
    for index, name in NAMES.items():
        conv = vgg.convs[name]
        assert torch.equal(conv.weight, state[f"features.{index}.weight"])
        assert torch.equal(conv.bias, state[f"features.{index}.bias"])
    assert not any(p.requires_grad for p in vgg.parameters())
    assert not vgg.training


def test_vgg_gives_four_feature_maps_after_relu(vgg):
    x = torch.rand(2, 3, 32, 48)
    feats = vgg(x)
    assert [tuple(f.shape) for f in feats] == [
        (2, 64, 32, 48),
        (2, 128, 16, 24),
        (2, 256, 8, 12),
        (2, 512, 4, 6),
    ]
    assert all(float(f.min()) >= 0 for f in feats)


def test_vgg_first_tap_is_conv1_2_on_imagenet_normalised_input(weights, vgg):
    _, s = weights
    x = torch.rand(1, 3, 8, 8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    conv = torch.nn.functional.conv2d
    h = torch.relu(conv((x - mean) / std, s["features.0.weight"], s["features.0.bias"], padding=1))
    h = torch.relu(conv(h, s["features.2.weight"], s["features.2.bias"], padding=1))
    torch.testing.assert_close(vgg(x)[0], h)


def test_vgg_second_tap_follows_an_average_pool_as_in_smid(weights, vgg):
    _, s = weights
    x = torch.rand(1, 3, 8, 8)
    conv = torch.nn.functional.conv2d
    first, second = vgg(x)[:2]
    h = torch.nn.functional.avg_pool2d(first, 2)
    h = torch.relu(conv(h, s["features.5.weight"], s["features.5.bias"], padding=1))
    h = torch.relu(conv(h, s["features.7.weight"], s["features.7.bias"], padding=1))
    torch.testing.assert_close(second, h)


def test_gradients_reach_the_input_but_not_the_vgg(vgg):
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    perceptual(x, torch.rand(1, 3, 16, 16), vgg).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert all(p.grad is None for p in vgg.parameters())


def test_a_missing_weights_file_says_where_and_what_to_do(tmp_path):
    path = tmp_path / "nope" / "vgg19.pth"
    with pytest.raises(VGGWeightsMissing, match="nothing is downloaded") as info:
        VGG19Features.from_file(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, FileNotFoundError)


def test_a_wrapped_state_dict_lists_missing_and_found_keys(tmp_path, weights):
    path = tmp_path / "wrapped.pth"
    torch.save({f"module.{k}": v for k, v in weights[1].items()}, path)
    with pytest.raises(VGGWeightsError, match=r"missing features\.0\.weight") as info:
        VGG19Features.from_file(path)
    assert "module.features.0.weight" in str(info.value)


def test_a_wrong_shape_is_reported_with_expected_and_found(tmp_path, weights):
    state = dict(weights[1])
    state["features.21.weight"] = torch.zeros(512, 256, 3, 3)
    path = tmp_path / "vgg16ish.pth"
    torch.save(state, path)
    want = r"features\.21\.weight: expected \(512, 512, 3, 3\), found \(512, 256, 3, 3\)"
    with pytest.raises(VGGWeightsError, match=want):
        VGG19Features.from_file(path)


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_a_file_that_is_not_a_state_dict_is_refused(tmp_path, content):
    path = tmp_path / "bad.pth"
    if content is None:
        torch.save([torch.zeros(1)], path)
    else:
        path.write_bytes(content)
    with pytest.raises(VGGWeightsError, match="state dict"):
        VGG19Features.from_file(path)


def test_perceptual_is_pixel_l1_plus_four_feature_l1s(vgg):
    torch.manual_seed(0)
    a, b = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    fa, fb = vgg(a), vgg(b)
    expected = (a - b).abs().mean() + sum((x - y).abs().mean() for x, y in zip(fa, fb, strict=True))
    got = perceptual(a, b, vgg)
    torch.testing.assert_close(got, expected)
    assert float(got) > float(l1(a, b))
    torch.testing.assert_close(perceptual(b, a, vgg), got)
    assert float(perceptual(a, a, vgg)) == 0.0


def test_smid_loss_without_vgg_adds_up_from_pixel_l1():
    gt = torch.full((1, 3, 8, 8), 0.5)
    o1, o2 = gt + 0.125, gt - 0.25
    # F(gt, o1) + F(gt, o2) + lam F(o1, o2) = 0.125 + 0.25 + 0.05 * 0.375
    assert float(smid_loss(o1, o2, gt)) == pytest.approx(0.125 + 0.25 + 0.05 * 0.375)
    assert float(smid_loss(o1, o2, gt, lam=0.0)) == pytest.approx(0.375)


def test_smid_loss_with_vgg_is_the_sum_of_its_perceptual_terms(vgg):
    torch.manual_seed(1)
    gt, o1, o2 = (torch.rand(2, 3, 16, 16) for _ in range(3))
    expected = perceptual(gt, o1, vgg) + perceptual(gt, o2, vgg) + 0.2 * perceptual(o1, o2, vgg)
    torch.testing.assert_close(smid_loss(o1, o2, gt, vgg=vgg, lam=0.2), expected)


def test_smid_loss_refuses_mismatched_shapes():
    gt = torch.zeros(1, 3, 8, 8)
    with pytest.raises(ValueError, match="one shape"):
        smid_loss(gt, torch.zeros(1, 3, 8, 4), gt)
