"""Audio file input/output, resampling and channel conversion.

Waveforms are float tensors ``[C, T]`` (channels, samples) with values nominally in ``[-1, 1]``.
Files are read and written with ``soundfile`` (WAV, FLAC, OGG, ... whatever libsndfile supports);
resampling uses ``soxr`` at quality ``"HQ"``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

RESAMPLE_QUALITY = "HQ"


def read_audio(
    path: str | os.PathLike[str],
    sample_rate: int | None = None,
    channels: int | None = None,
) -> tuple[torch.Tensor, int]:
    """Read an audio file as float32 ``[C, T]`` and its sample rate.

    With ``sample_rate`` the audio is resampled to it; with ``channels`` it is converted by
    :func:`to_channels`. The returned rate is the rate of the returned tensor.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    try:
        data, file_rate = sf.read(path, dtype="float32", always_2d=True)  # [T, C]
    except sf.SoundFileError as e:
        raise ValueError(f"cannot read audio file {path}: {e}") from e
    wav = torch.from_numpy(np.ascontiguousarray(data.T))
    if channels is not None:
        wav = to_channels(wav, channels)
    if sample_rate is None:
        return wav, int(file_rate)
    return resample(wav, int(file_rate), sample_rate), sample_rate


def resample(wav: torch.Tensor, from_rate: int, to_rate: int) -> torch.Tensor:
    """Resample ``[C, T]`` from ``from_rate`` to ``to_rate`` Hz; returns ``[C, T']``.

    ``T'`` is about ``T * to_rate / from_rate``. Returns ``wav`` itself when the rates are equal;
    otherwise the result has the dtype and device of ``wav``.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    _check_waveform(wav)
    if from_rate == to_rate:
        return wav
    data = wav.detach().cpu().to(torch.float32).numpy().T  # [T, C], soxr's layout
    out = soxr.resample(data, from_rate, to_rate, quality=RESAMPLE_QUALITY)
    return torch.from_numpy(np.ascontiguousarray(out.T)).to(device=wav.device, dtype=wav.dtype)


def to_channels(wav: torch.Tensor, channels: int) -> torch.Tensor:
    """Convert ``[C, T]`` to ``[channels, T]``: mono is repeated, multichannel to mono is a mean.

    Any other conversion raises ``ValueError``.
    """
    _check_waveform(wav)
    if channels < 1:
        raise ValueError(f"channels must be positive, got {channels}")
    current = wav.shape[0]
    if current == channels:
        return wav
    if current == 1:
        return wav.repeat(channels, 1)
    if channels == 1:
        return wav.mean(dim=0, keepdim=True)
    raise ValueError(
        f"cannot convert {current} channels to {channels}: only mono to N channels and "
        f"N channels to mono are supported; convert the file first"
    )


def write_audio(path: str | os.PathLike[str], wav: torch.Tensor, sample_rate: int) -> None:
    """Write float ``[C, T]`` to ``path``, clipped to ``[-1, 1]``; creates parent directories.

    The format follows the extension (``.wav`` is written as 16-bit PCM; other formats use
    libsndfile's default encoding for them).
    """
    _check_waveform(wav)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    path = Path(path)
    file_format = path.suffix.lstrip(".").upper()
    if file_format not in sf.available_formats():
        raise ValueError(
            f"cannot infer an audio format from the extension of {path}; use one of: "
            + ", ".join(f".{ext.lower()}" for ext in sorted(sf.available_formats()))
        )
    subtype = "PCM_16" if file_format == "WAV" else None
    data = wav.detach().cpu().to(torch.float32).clamp(-1.0, 1.0).numpy().T  # [T, C]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data, sample_rate, format=file_format, subtype=subtype)


def _check_waveform(wav: torch.Tensor) -> None:
    if wav.ndim != 2 or not wav.is_floating_point():
        raise ValueError(
            f"expected a float waveform [C, T], got shape {tuple(wav.shape)} and dtype {wav.dtype}"
        )
