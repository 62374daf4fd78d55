"""Reconstruction losses and metrics for codec training: multi-scale mel, waveform, SI-SNR."""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F


@functools.lru_cache(maxsize=16)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, device: str = "cpu") -> torch.Tensor:
    """HTK-style triangular mel filters ``[n_mels, n_fft // 2 + 1]``."""

    def hz_to_mel(hz: float) -> float:
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    mels = torch.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2, dtype=torch.float64)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    lower, centre, upper = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    rising = (bins - lower) / (centre - lower).clamp_min(1e-9)
    falling = (upper - bins) / (upper - centre).clamp_min(1e-9)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float().to(device)


def magnitude_spectrogram(wav: torch.Tensor, n_fft: int) -> torch.Tensor:
    """STFT magnitudes of ``[B, C, T]`` audio (Hann window, hop ``n_fft // 4``): ``[B * C, n_fft // 2 + 1, frames]``."""
    flat = wav.reshape(-1, wav.shape[-1])
    window = torch.hann_window(n_fft, device=wav.device, dtype=wav.dtype)
    return torch.stft(flat, n_fft, hop_length=n_fft // 4, window=window, return_complex=True).abs()


def mel_spectrogram(wav: torch.Tensor, sample_rate: int, n_fft: int, n_mels: int) -> torch.Tensor:
    """Magnitude mel spectrogram of ``[B, C, T]`` audio: ``[B * C, n_mels, frames]``."""
    return mel_filterbank(sample_rate, n_fft, n_mels, str(wav.device)) @ magnitude_spectrogram(wav, n_fft)


def multiscale_mel_loss(
    estimate: torch.Tensor, target: torch.Tensor, sample_rate: int, scales: tuple[int, ...] = (5, 6, 7, 8, 9, 10, 11)
) -> torch.Tensor:
    """EnCodec's frequency loss over windows 2^5..2^11: L1 on mel magnitudes plus L1 on log mels.

    The linear term keeps the level right (a log loss alone lets the output drift quieter);
    the log term weights quiet detail.
    """
    total = estimate.new_zeros(())
    for scale in scales:
        n_fft = 2**scale
        n_mels = min(64, n_fft // 4)
        est = mel_spectrogram(estimate, sample_rate, n_fft, n_mels)
        ref = mel_spectrogram(target, sample_rate, n_fft, n_mels)
        total = total + F.l1_loss(est, ref) + F.l1_loss(torch.log(est + 1e-5), torch.log(ref + 1e-5))
    return total / len(scales)


def si_snr(estimate: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SNR in dB per signal, over the last axis: ``[...]``."""
    target = target - target.mean(dim=-1, keepdim=True)
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    projection = (estimate * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + eps) * target
    noise = estimate - projection
    return 10 * torch.log10(projection.pow(2).sum(-1) / (noise.pow(2).sum(-1) + eps) + eps)


def latent_decorrelation(latent: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Mean squared off-diagonal correlation between the channels of latents ``[B, D, F]``.

    Near 0 for independent channels, up to ``D - 1`` when they all move together. Penalising it
    keeps the encoder from collapsing its latent onto one or two directions, where every
    codebook after the first two has nothing left to carry.
    """
    flat = latent.transpose(1, 2).reshape(-1, latent.shape[1])
    flat = (flat - flat.mean(0)) / (flat.std(0) + eps)
    correlation = flat.t() @ flat / (flat.shape[0] - 1)
    off_diagonal = correlation - torch.diag(torch.diag(correlation))
    return off_diagonal.pow(2).sum() / latent.shape[1]


def level_db(estimate: torch.Tensor, target: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Output level relative to the input in dB (energy ratio over the last axis): ``[...]``.

    0 dB keeps the loudness; a codec that has not learnt the level comes out negative.
    """
    return 10 * torch.log10((estimate.pow(2).sum(-1) + eps) / (target.pow(2).sum(-1) + eps))


def mel_distance(estimate: torch.Tensor, target: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Mean absolute log-mel difference (1024-point STFT, 64 mels): lower is better."""
    est = mel_spectrogram(estimate, sample_rate, 1024, 64)
    ref = mel_spectrogram(target, sample_rate, 1024, 64)
    return (torch.log(est + 1e-5) - torch.log(ref + 1e-5)).abs().mean()


def multiresolution_stft_loss(
    estimate: torch.Tensor,
    target: torch.Tensor,
    resolutions: tuple[int, ...] = (2048, 1024, 512, 256, 128),
) -> torch.Tensor:
    """Spectral convergence plus log-magnitude L1 over STFTs of several window sizes (hop n/4).

    Spectral convergence (relative Frobenius error of linear magnitudes) is dominated by the
    loud harmonics and keeps their level and placement right; the log term covers quiet detail.
    ``[B, C, T]`` audio in, a scalar out.
    """
    total = estimate.new_zeros(())
    for n_fft in resolutions:
        est, ref = magnitude_spectrogram(estimate, n_fft), magnitude_spectrogram(target, n_fft)
        convergence = torch.linalg.norm(ref - est) / (torch.linalg.norm(ref) + 1e-7)
        log_magnitude = F.l1_loss(torch.log(est + 1e-5), torch.log(ref + 1e-5))
        total = total + convergence + log_magnitude
    return total / len(resolutions)
