"""gan.inception: the FID Inception-v3 from a local file in both formats, proved offline with random weights.

The reference pipeline is written here independently in NumPy: StyleGAN's uint8 quantisation, TF1's
`resize_bilinear` (align_corners=False, half_pixel_centers=False) to 299, (x − 128)/128, then the network's
convolutional trunk. Features of the `.pth` (pytorch-fid / torch-fidelity state dict) and of the `.pt`
(StyleGAN / clean-fid TorchScript calling convention) loaders must equal it on the same images.
"""
import importlib
import math

import numpy as np
import pytest
import torch

from gan import inception as inc

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")


def np_tf1_resize(img: np.ndarray, h_out: int, w_out: int) -> np.ndarray:
    """TF1 resize_bilinear, align_corners=False, half_pixel_centers=False, on (C, H, W): the source coordinate
    of output index i is i·in/out in float32 (TF's CalculateResizeScale and `in = out * scale`), interpolated
    between floor and min(floor + 1, in − 1): top and bottom rows along x first, then along y (in float64)."""
    c, h, w = img.shape

    def axis(n_in, n_out):
        scale = np.float32(n_in / n_out)
        lo, hi, frac = [], [], []
        for i in range(n_out):
            src = np.float32(i) * scale
            f = int(math.floor(src))
            lo.append(f)
            hi.append(min(f + 1, n_in - 1))
            frac.append(float(src) - f)
        return np.array(lo), np.array(hi), np.array(frac)

    y0, y1, fy = axis(h, h_out)
    x0, x1, fx = axis(w, w_out)
    img = img.astype(np.float64)
    top = img[:, y0][:, :, x0] + (img[:, y0][:, :, x1] - img[:, y0][:, :, x0]) * fx
    bottom = img[:, y1][:, :, x0] + (img[:, y1][:, :, x1] - img[:, y1][:, :, x0]) * fx
    return top + (bottom - top) * fy[:, None]


def np_reference_input(images: np.ndarray) -> np.ndarray:
    """[−1, 1] (B, C, H, W) → the network's (B, 3, 299, 299) input, without any of gan.inception's code."""
    q = np.clip(np.floor(images.astype(np.float32) * np.float32(127.5) + np.float32(128)), 0, 255)
    if q.shape[1] == 1:
        q = np.repeat(q, 3, axis=1)
    return np.stack([(np_tf1_resize(x, 299, 299) - 128) / 128 for x in q])


@pytest.mark.parametrize("shape,out", [((2, 28, 28), (299, 299)), ((1, 64, 48), (299, 299)), ((3, 5, 7), (13, 4)),
                                       ((1, 300, 301), (299, 299)), ((1, 1, 1), (3, 3))])
def test_tf1_resize_equals_the_numpy_reference(shape, out):
    x = np.random.default_rng(0).uniform(0, 255, size=shape).astype(np.float32)
    got = inc.tf1_resize_bilinear(torch.from_numpy(x)[None], out)[0].numpy()
    # float32 lerps of values ≤ 255: a few ulps of 255 (≈ 3e-5 each)
    np.testing.assert_allclose(got, np_tf1_resize(x, *out), rtol=0, atol=2e-4)


def test_torch_bilinear_is_not_the_reference_resize():
    """Why the resize is the network's own: torch's half-pixel bilinear of a smooth 28 px image differs from TF1's
    by several grey levels (the 11–12/255 of issue 13 were measured on 28–64 px images)."""
    yy, xx = np.mgrid[0:28, 0:28]
    img = (255 * np.exp(-((yy - 13.5) ** 2 + (xx - 11.0) ** 2) / 40.0)).astype(np.float32)[None]
    tf1 = np_tf1_resize(img, 299, 299)
    torch_bilinear = torch.nn.functional.interpolate(torch.from_numpy(img)[None], size=(299, 299), mode="bilinear",
                                                     align_corners=False)[0].numpy()
    assert np.abs(tf1 - torch_bilinear).mean() > 2.0        # grey levels of 255


def test_quantise_uint8_gives_back_the_8_bit_data():
    p = torch.arange(256, dtype=torch.float32)
    x = (p / 127.5 - 1.0).reshape(1, 1, 16, 16)             # how gan.data stores 8-bit images
    q = inc.quantise_uint8(x)
    assert q.dtype == torch.uint8 and q.shape == (1, 3, 16, 16)
    assert torch.equal(q[0, 0].reshape(-1).long(), p.long()) and torch.equal(q[0, 0], q[0, 2])
    assert inc.quantise_uint8(torch.tensor([-3.0, 3.0]).reshape(1, 1, 1, 2)).reshape(-1, 2)[0].tolist() == [0, 255]
    with pytest.raises(ValueError, match="1 or 3"):
        inc.quantise_uint8(torch.zeros(1, 2, 4, 4))


def _random_inception(seed=0) -> inc.FIDInceptionV3:
    """Random weights that keep activations O(1) through the 94 conv layers (He init, BN stats near identity)."""
    g = torch.Generator().manual_seed(seed)
    net = inc.FIDInceptionV3()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(1 + 0.2 * torch.rand(m.num_features, generator=g))
                m.weight.copy_(1 + 0.1 * torch.randn(m.num_features, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
        net.fc.weight.copy_(0.05 * torch.randn(net.fc.weight.shape, generator=g))
        net.fc.bias.copy_(torch.randn(net.fc.bias.shape, generator=g))
    return net.eval()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    d = tmp_path_factory.mktemp("inception")
    net = _random_inception()
    pth, pt = d / "pt_inception-2015-12-05-random.pth", d / "inception-2015-12-05-random.pt"
    torch.save(net.state_dict(), pth)
    torch.jit.script(inc.StyleGANCallingConvention(net)).save(str(pt))
    return net, pth, pt


def _images():
    g = torch.Generator().manual_seed(1)
    grey = torch.rand(2, 1, 28, 28, generator=g) * 2 - 1
    rgb = torch.rand(1, 3, 32, 24, generator=g) * 2 - 1
    return grey, rgb


def test_state_dict_and_torchscript_features_equal_the_reference_pipeline(weights):
    net, pth, pt = weights
    ex_pth, ex_pt = inc.inception_extractor(pth), inc.inception_extractor(pt)
    assert (ex_pth.format, ex_pt.format) == ("state_dict", "torchscript")
    for images in _images():
        with torch.no_grad():
            ref = net.trunk(torch.from_numpy(np_reference_input(images.numpy())).float())
            ref_probs = torch.softmax(ref.double() @ net.fc.weight.T.double(), 1)
        assert float(ref.abs().mean()) > 1e-3                  # a live network, not a vanishing one
        for ex in (ex_pth, ex_pt):
            f = ex(images)
            assert f.shape == (len(images), 2048) and f.dtype == torch.float32
            # float32 through ~100 layers; the resize inputs agree to ~1e-6 relative
            torch.testing.assert_close(f, ref, rtol=1e-4, atol=1e-5 * float(ref.abs().max()))
            torch.testing.assert_close(ex.class_probs(images), ref_probs, rtol=1e-4, atol=1e-6)


def test_state_dict_keys_are_those_of_pytorch_fid_and_torch_fidelity(weights):
    net, pth, _ = weights
    keys = set(torch.load(pth, weights_only=True))
    # a few names the published files hold (torchvision's Inception3 layout, FID variant)
    for k in ("Conv2d_1a_3x3.conv.weight", "Conv2d_1a_3x3.bn.running_var", "Mixed_5b.branch5x5_1.conv.weight",
              "Mixed_6b.branch7x7dbl_5.bn.bias", "Mixed_7c.branch3x3dbl_3b.conv.weight", "fc.weight", "fc.bias"):
        assert k in keys
    assert tuple(net.fc.weight.shape) == (1008, 2048)
    # torchvision's inception_v3 has 27,161,264 parameters; minus AuxLogits (98,304 + 256 + 2,457,600 + 1,536 +
    # 769,000 = 3,326,696) and plus 8 more classes (8·2048 + 8 = 16,392): 23,850,960
    assert sum(p.numel() for p in net.parameters()) == 23_850_960


def test_files_in_neither_format_are_refused_naming_both(tmp_path, weights):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a weights file at all")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(3)}, wrong)
    listish = tmp_path / "list.pth"
    torch.save([torch.zeros(2)], listish)
    for path in (garbage, wrong, listish):
        with pytest.raises(ValueError, match="state dict.*TorchScript|TorchScript.*state dict"):
            inc.inception_extractor(path)
    with pytest.raises(FileNotFoundError, match="both|state dict"):
        inc.inception_extractor(tmp_path / "absent.pt")


def test_equal_to_torch_fidelity_feature_extractor(weights):
    try:
        tfe = importlib.import_module("torch_fidelity.feature_extractor_inceptionv3")
    except Exception as exc:  # noqa: BLE001 - torch-fidelity pulls torchvision, which breaks with this torch
        pytest.skip(f"torch_fidelity not importable: {type(exc).__name__}")
    net, pth, _ = weights
    theirs = tfe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                             feature_extractor_weights_path=str(pth))
    images = _images()[0]
    f, logits = theirs(inc.quantise_uint8(images))
    ours = inc.inception_extractor(pth)
    torch.testing.assert_close(ours(images), f, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(ours.class_probs(images), torch.softmax(logits.double(), 1), rtol=1e-6, atol=1e-7)
