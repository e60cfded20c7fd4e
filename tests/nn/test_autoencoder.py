import pytest
import torch
import torch.nn.functional as F

from augcn_pyg.nn.autoencoder import ROIAutoEncoders, mean_abs_error


def crops(b=4, r=5, n=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, r, 3, n, n), dtype=torch.uint8, generator=g)


def test_shapes_and_reconstruction_range():
    ae = ROIAutoEncoders(5, roi_size=10, latent=7, strip_rows=5, strip_channels=3)
    x = crops()
    z, loss = ae(x)
    assert z.shape == (4, 5, 7)
    assert loss.ndim == 0 and 0 <= loss.item() <= 3 * 5
    rec = ae.reconstruct(x)
    assert rec.shape == x.shape and float(rec.min()) >= 0 and float(rec.max()) <= 1
    # eq. 1 per ROI, (1/n^2) sum over its 3 x n x n values on [0, 1], summed over ROIs, mean over faces
    pixels = ae.pixels(x)
    target = x.float().reshape(4, 5, -1).transpose(0, 1).reshape_as(pixels) / 255
    errors = (ae.decode_pixels(ae.encode_pixels(pixels)) / 255 - target).abs()  # (R, B*T, s*n)
    expected = errors.reshape(5, 4, -1).sum(2).div(10 * 10).sum(0).mean()
    assert torch.allclose(loss, expected, atol=1e-5)


def test_inference_reuses_its_buffer_and_gives_the_same_latents():
    ae = ROIAutoEncoders(5, roi_size=10, latent=7, strip_rows=5, strip_channels=3)
    x = crops()
    with_grad = ae.encode(x)
    with torch.no_grad():
        first = ae.encode(x)
        second = ae.encode(crops(seed=1))
        third = ae.encode(x)
    assert torch.allclose(with_grad, first) and torch.equal(first, third) and not torch.equal(first, second)


def test_each_roi_has_its_own_autoencoder():
    """Changing ROI 2's crop changes ROI 2's latent only; the weights of two ROIs differ."""
    ae = ROIAutoEncoders(5, roi_size=10, latent=6, strip_rows=2, strip_channels=4)
    x = crops()
    y = x.clone()
    y[:, 2] = 255 - y[:, 2]
    z, _ = ae(x)
    w, _ = ae(y)
    changed = (z - w).abs().amax(dim=(0, 2)) > 1e-6
    assert changed.tolist() == [False, False, True, False, False]
    assert not torch.equal(ae.enc_strip_weight[0], ae.enc_strip_weight[1])


def test_strip_layer_is_a_convolution_per_colour_plane():
    """The first layer equals a (s, n)-kernel convolution with stride s over each colour plane."""
    ae = ROIAutoEncoders(3, roi_size=10, latent=4, strip_rows=5, strip_channels=2)
    x = crops(b=2, r=3)
    pixels = ae.pixels(x)  # (R, B*T, s*n)
    out = torch.bmm(pixels / 255, ae.enc_strip_weight) + ae.enc_strip_bias  # (R, B*T, k)
    for r in range(3):
        w = ae.enc_strip_weight[r].T.reshape(2, 1, 5, 10)  # (k, 1, s, n)
        planes = x[:, r].float().reshape(2 * 3, 1, 10, 10) / 255  # each colour plane alone
        conv = F.conv2d(planes, w, ae.enc_strip_bias[r, 0], stride=(5, 10))  # (B*3, k, 2, 1)
        conv = conv.reshape(2, 3, 2, 2).permute(0, 1, 3, 2).reshape(2 * 3 * 2, 2)  # (B*T, k), T = planes x strips
        assert torch.allclose(out[r], conv, atol=1e-5)


def test_mean_abs_error_matches_l1_loss_and_its_gradient():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(3, 40, 7, generator=g, requires_grad=True)
    b = torch.randn(3, 40, 7, generator=g)
    ours = mean_abs_error(a, b, scale=0.5)
    (grad,) = torch.autograd.grad(ours, a)
    a2 = a.detach().clone().requires_grad_(True)
    ref = 0.5 * F.l1_loss(a2, b)
    ref.backward()
    assert torch.allclose(ours, ref)
    assert torch.allclose(grad, a2.grad)


def test_strip_rows_must_divide_the_roi_size():
    with pytest.raises(ValueError, match="divide"):
        ROIAutoEncoders(3, roi_size=25, strip_rows=4)


def test_wrong_crop_shape_is_refused():
    ae = ROIAutoEncoders(5, roi_size=10, strip_rows=5)
    with pytest.raises(ValueError, match="expected"):
        ae(crops(r=4))


def test_flops_count_matches_the_counter():
    from torch.utils.flop_counter import FlopCounterMode

    ae = ROIAutoEncoders(19, roi_size=25)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        ae.encode(crops(b=8, r=19, n=25))
    assert counter.get_total_flops() == 8 * ae.flops_per_face()


class TensorSource:
    """A crop source (see ROIAutoEncoders.pixels) over a uint8 tensor, as StoreRows is over a store."""

    def __init__(self, x):
        self.x, self.shape, self.filled = x, x.shape, 0

    def gather_pixels(self, out):
        out[...] = self.x.transpose(0, 1).numpy()  # (R, B, 3, n, n)
        self.filled += 1
        return out

    def crops(self):
        return self.x


def test_a_crop_source_gives_the_tensors_latents_loss_and_gradients_bit_for_bit():
    ae = ROIAutoEncoders(5, roi_size=10, latent=7, strip_rows=5, strip_channels=3)
    x = crops()
    source = TensorSource(x)
    z, loss = ae(x)
    (z.sum() + loss).backward()
    grads = [p.grad.clone() for p in ae.parameters()]
    ae.zero_grad()
    zs, loss_s = ae(source)
    (zs.sum() + loss_s).backward()
    assert torch.equal(z, zs) and torch.equal(loss, loss_s) and source.filled == 1
    assert all(torch.equal(g, p.grad) for g, p in zip(grads, ae.parameters()))
    with torch.no_grad():
        assert torch.equal(ae.encode(x), ae.encode(source))
        assert torch.equal(ae.reconstruct(x), ae.reconstruct(source))
    with pytest.raises(ValueError, match="expected"):
        ae(TensorSource(crops(r=4)))


def test_a_crop_source_goes_the_tensor_way_on_another_device():
    """Off the CPU the source's uint8 crops travel and are converted there ("meta" stands in for a GPU)."""
    ae = ROIAutoEncoders(5, roi_size=10, latent=7, strip_rows=5, strip_channels=3).to("meta")
    source = TensorSource(crops())
    with torch.no_grad():
        pixels = ae.pixels(source)
    assert pixels.device.type == "meta" and pixels.shape == (5, 4 * 6, 50) and source.filled == 0
