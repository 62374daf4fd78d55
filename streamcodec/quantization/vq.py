"""Residual vector quantization with EMA codebooks (EnCodec / SoundStream).

Inference: ``encode`` maps latents ``[B, D, F]`` to codes ``[B, K, F]`` with any ``K`` up to
the number of codebooks, ``decode`` sums the first ``k`` codebooks' vectors. Training: the
forward pass quantizes with a straight-through estimator, updates the codebooks by exponential
moving averages, replaces dead codes with vectors of the current batch, and (quantizer dropout)
trains with a random number of codebooks per batch so one model serves every bandwidth.
"""

from __future__ import annotations

import dataclasses
import random

import torch
import torch.nn.functional as F
from torch import nn


TRAINING_BUFFERS = ("inited", "cluster_size", "embed_avg")  # EMA learning state; inference needs only ``embed``


class EuclideanCodebook(nn.Module):
    """``codebook_size`` vectors of size ``dim``, nearest-neighbour search, EMA learning.

    Args:
        decay: EMA decay of cluster sizes and sums.
        epsilon: Laplace smoothing of cluster sizes.
        threshold_ema_dead_code: codes whose EMA cluster size falls below this are replaced by
            random latents of the current batch (0 disables).
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        threshold_ema_dead_code: float = 2.0,
    ):
        super().__init__()
        self.dim = dim
        self.codebook_size = codebook_size
        self.decay = decay
        self.epsilon = epsilon
        self.threshold_ema_dead_code = threshold_ema_dead_code
        self.register_buffer("inited", torch.zeros(1))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed", torch.zeros(codebook_size, dim))
        self.register_buffer("embed_avg", torch.zeros(codebook_size, dim))
        self._norms_cache: tuple[tuple[int, int], torch.Tensor] | None = None

    def quantize(self, x: torch.Tensor) -> torch.Tensor:
        """Nearest code of each row: ``[N, D] -> [N]``.

        The distance ``|x|^2 - 2 x.e + |e|^2`` is rounded exactly as the reference rounds it
        (scaling by -2 is exact), so ties break the same way and codes match bit for bit.
        """
        distance = torch.addmm(x.pow(2).sum(1, keepdim=True), x, self.embed.t(), alpha=-2)
        return distance.add_(self._squared_norms()).argmin(dim=-1)

    def _squared_norms(self) -> torch.Tensor:
        """``[1, codebook_size]`` squared code norms, cached while the codebook is unchanged."""
        if self.training or torch.is_grad_enabled():
            return self.embed.pow(2).sum(1)[None]
        key = (self.embed.data_ptr(), self.embed._version)
        if self._norms_cache is None or self._norms_cache[0] != key:
            self._norms_cache = (key, self.embed.pow(2).sum(1)[None])
        return self._norms_cache[1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, D, F] -> [B, F]``."""
        batch, dim, frames = x.shape
        flat = x.transpose(1, 2).reshape(-1, dim)
        return self.quantize(flat).view(batch, frames)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """``[B, F] -> [B, D, F]``."""
        return F.embedding(codes, self.embed).transpose(1, 2)

    @torch.no_grad()
    def ema_update(self, flat: torch.Tensor, codes: torch.Tensor) -> None:
        """Update the codebook from latents ``flat`` [N, D] assigned to ``codes`` [N]."""
        onehot = F.one_hot(codes, self.codebook_size).type(flat.dtype)
        self.cluster_size.mul_(self.decay).add_(onehot.sum(0), alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(onehot.t() @ flat, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.codebook_size * self.epsilon) * total
        self.embed.copy_(self.embed_avg / smoothed.unsqueeze(1))
        self._replace_dead_codes(flat)

    @torch.no_grad()
    def init_from(self, flat: torch.Tensor) -> None:
        """First training batch: codes are random latents ``flat`` [N, D] of that batch."""
        self.embed.copy_(_sample_rows(flat, self.codebook_size))
        self.restore_training_buffers()

    @torch.no_grad()
    def restore_training_buffers(self) -> None:
        """EMA state matching the current codes, as if each had been used once (a fresh codebook, or one
        loaded without its EMA state)."""
        self.embed_avg.copy_(self.embed)
        self.cluster_size.fill_(1.0)
        self.inited.fill_(1.0)

    def _replace_dead_codes(self, flat: torch.Tensor) -> None:
        if self.threshold_ema_dead_code <= 0:
            return
        dead = self.cluster_size < self.threshold_ema_dead_code
        if not dead.any():
            return
        replacements = _sample_rows(flat, int(dead.sum()))
        self.embed[dead] = replacements
        self.embed_avg[dead] = replacements * self.threshold_ema_dead_code
        self.cluster_size[dead] = self.threshold_ema_dead_code


def _sample_rows(x: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` rows of ``x`` [N, D], without replacement when there are enough."""
    if x.shape[0] >= count:
        index = torch.randperm(x.shape[0], device=x.device)[:count]
    else:
        index = torch.randint(0, x.shape[0], (count,), device=x.device)
    return x[index]


@dataclasses.dataclass
class QuantizedResult:
    """Output of a training forward pass."""

    quantized: torch.Tensor  # [B, D, F], straight-through
    codes: torch.Tensor  # [B, K, F]
    commitment_loss: torch.Tensor  # scalar
    latent: torch.Tensor  # [B, D, F], the input, with its gradient (for losses on the latent itself)


class ResidualVectorQuantizer(nn.Module):
    """``num_quantizers`` codebooks applied to successive residuals.

    Args:
        dimension: latent size D.
        num_quantizers: total number of codebooks.
        codebook_size: entries per codebook (cardinality).
        dropout_choices: codebook counts drawn from at random per training batch
            (quantizer dropout); empty trains with all codebooks.
    """

    def __init__(
        self,
        dimension: int = 128,
        num_quantizers: int = 32,
        codebook_size: int = 1024,
        decay: float = 0.99,
        threshold_ema_dead_code: float = 2.0,
        dropout_choices: tuple[int, ...] = (),
    ):
        super().__init__()
        self.dimension = dimension
        self.num_quantizers = num_quantizers
        self.codebook_size = codebook_size
        self.dropout_choices = tuple(dropout_choices)
        self.layers = nn.ModuleList(
            EuclideanCodebook(dimension, codebook_size, decay, threshold_ema_dead_code=threshold_ema_dead_code)
            for _ in range(num_quantizers)
        )

    def encode(self, x: torch.Tensor, num_codebooks: int) -> torch.Tensor:
        """Latents ``[B, D, F]`` to codes ``[B, K, F]`` with ``K = num_codebooks``."""
        residual = x
        codes = []
        for layer in self.layers[:num_codebooks]:
            indices = layer.encode(residual)
            residual = residual - layer.decode(indices)
            codes.append(indices)
        return torch.stack(codes, dim=1)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``[B, K, F]`` (any ``K`` up to the total) to latents ``[B, D, F]``."""
        latent = self.layers[0].decode(codes[:, 0])
        for k in range(1, codes.shape[1]):
            latent = latent + self.layers[k].decode(codes[:, k])
        return latent

    def forward(self, x: torch.Tensor, num_codebooks: int | None = None) -> QuantizedResult:
        """Training pass over latents ``[B, D, F]``; EMA updates happen in training mode only.

        ``num_codebooks`` defaults to a random draw from ``dropout_choices`` in training, else all.
        """
        if num_codebooks is None:
            use_dropout = self.training and self.dropout_choices
            num_codebooks = random.choice(self.dropout_choices) if use_dropout else self.num_quantizers
        batch, dim, frames = x.shape
        residual = x.detach()
        quantized = torch.zeros_like(residual)
        codes = []
        for layer in self.layers[:num_codebooks]:
            flat = residual.transpose(1, 2).reshape(-1, dim)
            if self.training and not layer.inited.item():
                layer.init_from(flat)
            indices = layer.quantize(flat)
            step = F.embedding(indices, layer.embed).view(batch, frames, dim).transpose(1, 2)
            if self.training:
                layer.ema_update(flat, indices)
            quantized = quantized + step
            residual = residual - step
            codes.append(indices.view(batch, frames))
        commitment_loss = F.mse_loss(x, quantized)
        return QuantizedResult(x + (quantized - x).detach(), torch.stack(codes, dim=1), commitment_loss, x)
