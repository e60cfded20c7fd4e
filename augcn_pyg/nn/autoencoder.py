"""R independent ROI auto-encoders, run together as batched matrix products over the ROI axis.

Each ROI r has its own encoder and decoder (no weights shared between ROIs), and all R of them run in
one ``torch.baddbmm`` per layer, with the ROI axis as the batch axis of the product. Per ROI::

    crop (3, n, n) uint8 --as (T, s*n) strips--> Linear(s*n -> k) shared by the T strips, ReLU
                        --flatten (T*k)--> Linear(T*k -> d0) = latent z             (encoder)
    z --> Linear(d0 -> T*k), ReLU --as (T, k)--> Linear(k -> s*n) per strip = reconstruction  (decoder)

A *strip* is s consecutive rows of one colour plane: with the channel-first crops the store holds, a
strip is ``s * n`` contiguous bytes, so the crops reach the first product with one cheap copy (faces to
ROI-major order, uint8 to float) and no patch re-layout. Measured on the 2-core CPU the project runs on,
re-laying 5x5 patches cost more than the encoder's arithmetic (``docs/model-and-training.md``). The
strip layer is a convolution with a (s, n) kernel and stride s over each colour plane; the second layer
mixes every strip of every plane. With n = 25, s = 5, k = 24: T = 15 strips, 57 k parameters per encoder
and as many per decoder, 2.2 M for the 19 BP4D auto-encoders (the paper reports 2.3 M for its model).

Inputs stay uint8 until here, or come as a *crop source* (:meth:`ROIAutoEncoders.pixels`) that writes the
float ROI-major input itself: ``augcn_pyg.data.rows.StoreRows`` reads store rows straight into it, flips
included, with no uint8 batch in between; the 1/255 scaling is folded into the first product (``alpha``) and the
decoder predicts 0..255 values through ``alpha``/``beta`` of the last one, so no extra pass over the
largest tensors is spent on scaling. The reconstruction loss is eq. 1 ((1/n^2) times the sum of absolute
errors over a crop's 3 x n x n values on [0, 1] intensities) summed over the R ROIs and averaged over the
faces, computed by :class:`_MeanAbsError`, which keeps one difference tensor for its backward.
"""
from __future__ import annotations

import math

import torch
from torch import nn


def per_roi(num_rois: int, fan_in: int, fan_out: int) -> tuple[nn.Parameter, nn.Parameter]:
    """(R, fan_in, fan_out) weight and (R, 1, fan_out) bias with nn.Linear's default initialisation."""
    bound = 1.0 / math.sqrt(fan_in)
    weight = nn.Parameter(torch.empty(num_rois, fan_in, fan_out).uniform_(-bound, bound))
    bias = nn.Parameter(torch.empty(num_rois, 1, fan_out).uniform_(-bound, bound))
    return weight, bias


class _MeanAbsError(torch.autograd.Function):
    """mean |prediction - target| with one (saved) difference tensor; the target gets no gradient.

    ``F.l1_loss`` spends four passes over the tensor (sub, abs, mean; sgn, mul in backward) and three
    allocations; on the reconstruction, the largest tensor of the model, that was measurable. The backward
    turns the saved difference into the gradient in place, so it may run once per forward (no
    ``retain_graph`` double backward through this loss).
    """

    @staticmethod
    def forward(ctx, prediction, target, scale):
        diff = prediction - target
        ctx.save_for_backward(diff)
        ctx.scale = scale / diff.numel()
        return torch.linalg.vector_norm(diff, ord=1) * ctx.scale

    @staticmethod
    def backward(ctx, grad):
        (diff,) = ctx.saved_tensors
        return diff.sign_().mul_(grad * ctx.scale), None, None


def mean_abs_error(prediction: torch.Tensor, target: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``scale * mean(|prediction - target|)``; the target is treated as a constant."""
    return _MeanAbsError.apply(prediction, target.detach(), scale)


class ROIAutoEncoders(nn.Module):
    """R per-ROI auto-encoders over uint8 crops (eq. 1 of the paper, architecture ours).

    Args:
        num_rois: R.
        roi_size: n, the side of a crop (the crops are (3, n, n)).
        latent: d0, the latent size of each ROI (the graph's node feature).
        strip_rows: s, rows per strip; must divide n.
        strip_channels: k, features per strip.

    Shapes: crops (B, R, 3, n, n) uint8 -> latents (B, R, d0); reconstruction (B, R, 3, n, n) in [0, 1].
    """

    def __init__(self, num_rois: int, roi_size: int = 25, latent: int = 150, strip_rows: int = 5,
                 strip_channels: int = 24):
        super().__init__()
        if roi_size % strip_rows:
            raise ValueError(f"strip_rows={strip_rows} must divide the ROI size {roi_size}")
        self.num_rois, self.roi_size, self.latent = num_rois, roi_size, latent
        self.strip_width = strip_rows * roi_size  # s*n values per strip
        self.num_strips = 3 * roi_size // strip_rows  # T strips per crop
        self.strip_channels = strip_channels
        hidden = self.num_strips * strip_channels  # T*k
        self.enc_strip_weight, self.enc_strip_bias = per_roi(num_rois, self.strip_width, strip_channels)
        self.enc_latent_weight, self.enc_latent_bias = per_roi(num_rois, hidden, latent)
        self.dec_hidden_weight, self.dec_hidden_bias = per_roi(num_rois, latent, hidden)
        self.dec_strip_weight, self.dec_strip_bias = per_roi(num_rois, strip_channels, self.strip_width)

    def pixels(self, crops) -> torch.Tensor:
        """(B, R, 3, n, n) uint8 -> (R, B*T, s*n) float32 in 0..255: ROI-major strips, one copy.

        ``crops`` may also be a *crop source* instead of a tensor: an object with ``shape`` (B, R, 3, n, n)
        and ``gather_pixels(out)`` that fills ``out``, a (R, B, 3, n, n) float32 numpy view, with the same
        values (e.g. :class:`augcn_pyg.data.rows.StoreRows`, which reads store rows straight into this
        layout, flips included). On a CPU model it fills the buffer below; elsewhere its ``crops()``
        tensor goes the plain way."""
        source = hasattr(crops, "gather_pixels")
        if source and self.enc_strip_weight.device.type != "cpu":
            crops, source = crops.crops().to(self.enc_strip_weight.device), False
        device = torch.device("cpu") if source else crops.device
        b = crops.shape[0]
        if crops.shape[1:] != (self.num_rois, 3, self.roi_size, self.roi_size):
            raise ValueError(f"crops of shape {tuple(crops.shape)}; expected (B, {self.num_rois}, 3, "
                             f"{self.roi_size}, {self.roi_size})")
        shape = (self.num_rois, b, 3 * self.roi_size * self.roi_size)
        if torch.is_grad_enabled():  # autograd may keep this tensor: a new one per call
            out = torch.empty(shape, dtype=torch.float32, device=device)
        else:  # inference: reuse one buffer (a fresh 36 MB tensor per batch cost more than the copy)
            out = self._inference_buffer(shape, device)
        if source:  # written in place as (R, B, 3, n, n): the first and only pass over the crops
            crops.gather_pixels(out.numpy().reshape(self.num_rois, b, 3, self.roi_size, self.roi_size))
        else:
            out.copy_(crops.reshape(b, self.num_rois, -1).transpose(0, 1))
        return out.view(self.num_rois, b * self.num_strips, self.strip_width)

    def _inference_buffer(self, shape, device) -> torch.Tensor:
        buf = getattr(self, "_buffer", None)
        if buf is None or buf.device != device or buf.numel() < int(torch.Size(shape).numel()):
            buf = torch.empty(int(torch.Size(shape).numel()), dtype=torch.float32, device=device)
            self._buffer = buf
        return buf[:torch.Size(shape).numel()].view(shape)

    def encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """(R, B*T, s*n) 0..255 -> (R, B, d0) latents."""
        r = self.num_rois
        strips = torch.baddbmm(self.enc_strip_bias, pixels, self.enc_strip_weight, alpha=1 / 255).relu_()  # (R, B*T, k)
        hidden = strips.view(r, -1, self.num_strips * self.strip_channels)  # (R, B, T*k)
        return torch.baddbmm(self.enc_latent_bias, hidden, self.enc_latent_weight)  # (R, B, d0)

    def decode_pixels(self, latents: torch.Tensor) -> torch.Tensor:
        """(R, B, d0) -> (R, B*T, s*n) reconstruction in 0..255 units (not clamped)."""
        r = self.num_rois
        hidden = torch.baddbmm(self.dec_hidden_bias, latents, self.dec_hidden_weight).relu_()  # (R, B, T*k)
        strips = hidden.view(r, -1, self.strip_channels)  # (R, B*T, k)
        return torch.baddbmm(self.dec_strip_bias, strips, self.dec_strip_weight, beta=255, alpha=255)

    def forward(self, crops, reconstruct: bool = True):
        """crops (B, R, 3, n, n) uint8 (or a crop source, see :meth:`pixels`) -> (latents (B, R, d0), eq. 1
        summed over ROIs, or None)."""
        pixels = self.pixels(crops)
        latents = self.encode_pixels(pixels)  # (R, B, d0)
        # eq. 1 per ROI, (1/n^2) sum_{c,i,j} |I - I'| on [0, 1] intensities, summed over the R ROIs and
        # averaged over faces: 3R times the mean over every element (the mean alone left SGD too slow)
        scale = 3 * self.num_rois / 255
        loss = mean_abs_error(self.decode_pixels(latents), pixels, scale) if reconstruct else None
        return latents.transpose(0, 1), loss

    def encode(self, crops) -> torch.Tensor:
        """(B, R, 3, n, n) uint8 (or a crop source, see :meth:`pixels`) -> (B, R, d0)."""
        return self.encode_pixels(self.pixels(crops)).transpose(0, 1)

    @torch.no_grad()
    def reconstruct(self, crops: torch.Tensor) -> torch.Tensor:
        """(B, R, 3, n, n) uint8 -> (B, R, 3, n, n) float32 reconstructions in [0, 1] (for pictures)."""
        b = crops.shape[0]
        out = self.decode_pixels(self.encode_pixels(self.pixels(crops))) / 255  # (R, B*T, s*n)
        out = out.view(self.num_rois, b, 3, self.roi_size, self.roi_size).transpose(0, 1)
        return out.clamp(0, 1)

    def flops_per_face(self, reconstruct: bool = False) -> int:
        """Multiply-adds x 2 of one face's encoders (and decoders)."""
        r, t, k = self.num_rois, self.num_strips, self.strip_channels
        encoder = 2 * r * (t * self.strip_width * k + t * k * self.latent)
        return encoder * (2 if reconstruct else 1)

    def extra_repr(self) -> str:
        return (f"R={self.num_rois}, n={self.roi_size}, d0={self.latent}, strips={self.num_strips}x"
                f"{self.strip_width}, k={self.strip_channels}")
