"""Deterministic synthetic inputs shared by the tests and the benchmarks."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


def speechlike(seconds: float, sample_rate: int = 24000, seed: int = 0) -> torch.Tensor:
    """A voiced, syllable-modulated harmonic signal with noise: ``[T]`` float32 in about [-0.5, 0.5]."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    pitch = 120 + 30 * torch.sin(2 * math.pi * 0.7 * t)
    phase = 2 * math.pi * torch.cumsum(pitch, 0) / sample_rate
    voiced = sum(torch.sin(h * phase) / h for h in range(1, 12))
    envelope = 0.5 * (1 + torch.sin(2 * math.pi * 4 * t)) ** 2 / 4
    noise = 0.02 * torch.randn(t.shape, generator=generator)
    return (0.3 * envelope * voiced + noise).float()


def fill_codebooks(codebooks: Iterable[torch.Tensor], seed: int = 0) -> None:
    """Random codebook vectors of shrinking scale, as RVQ learns them (all zeros at init)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for k, embed in enumerate(codebooks):
            embed.copy_(torch.randn(embed.shape, generator=generator) * 0.5**k)
