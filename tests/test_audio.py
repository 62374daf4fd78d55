"""Tests of audio reading, writing, resampling and channel conversion."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from streamcodec.audio import read_audio, resample, to_channels, write_audio


def sine(
    frequency: float, sample_rate: int, num_samples: int, amplitude: float = 0.5
) -> torch.Tensor:
    """A float32 sine ``[num_samples]``."""
    t = torch.arange(num_samples, dtype=torch.float64) / sample_rate
    return (amplitude * torch.sin(2 * math.pi * frequency * t)).to(torch.float32)


def peak_frequency(signal: torch.Tensor, sample_rate: int) -> float:
    """Frequency in Hz of the largest bin of the windowed spectrum of ``signal`` ``[T]``."""
    spectrum = np.abs(np.fft.rfft(signal.numpy() * np.hanning(signal.shape[-1])))
    return float(np.fft.rfftfreq(signal.shape[-1], 1 / sample_rate)[spectrum.argmax()])


@pytest.mark.parametrize(
    "suffix", [pytest.param(".wav", id="wav"), pytest.param(".flac", id="flac")]
)
def test_write_read_round_trip(tmp_path: Path, suffix: str) -> None:
    wav = torch.stack([sine(440, 24000, 2400), sine(1000, 24000, 2400, amplitude=0.9)])
    path = tmp_path / f"sine{suffix}"
    write_audio(path, wav, 24000)
    assert sf.info(str(path)).subtype == "PCM_16"
    loaded, rate = read_audio(path)
    assert rate == 24000
    assert loaded.dtype == torch.float32
    assert loaded.shape == (2, 2400)
    np.testing.assert_allclose(loaded.numpy(), wav.numpy(), atol=1 / 2**15, rtol=0)


def test_write_clips_and_creates_parent_dirs(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "loud.wav"
    write_audio(path, torch.tensor([[2.0, -3.0, 0.25]]), 16000)
    loaded, _ = read_audio(path)
    np.testing.assert_allclose(loaded.numpy(), [[1.0, -1.0, 0.25]], atol=1 / 2**15, rtol=0)


def test_write_rejects_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="extension"):
        write_audio(tmp_path / "out.xyz", torch.zeros(1, 10), 16000)


def test_read_resamples_keeping_frequency(tmp_path: Path) -> None:
    num_samples = 44100
    path = tmp_path / "sine.wav"
    write_audio(path, sine(1000, 44100, num_samples)[None], 44100)
    loaded, rate = read_audio(path, sample_rate=24000)
    assert rate == 24000
    assert loaded.shape[0] == 1
    assert abs(loaded.shape[1] - num_samples * 24000 / 44100) <= 1
    assert peak_frequency(loaded[0], 24000) == pytest.approx(1000, abs=2)


def test_resample_keeps_amplitude_dtype_and_equal_rates() -> None:
    wav = sine(1000, 44100, 44100).to(torch.float64)[None]
    out = resample(wav, 44100, 24000)
    assert out.dtype == torch.float64
    assert out.shape == (1, 24000)
    # Away from the edges the amplitude of the sine is preserved.
    assert out[0, 1000:-1000].abs().max().item() == pytest.approx(0.5, abs=0.01)
    assert resample(wav, 44100, 44100) is wav


@pytest.mark.parametrize(
    ("from_rate", "to_rate"),
    [pytest.param(0, 24000, id="zero-from"), pytest.param(44100, -1, id="negative-to")],
)
def test_resample_rejects_bad_rates(from_rate: int, to_rate: int) -> None:
    with pytest.raises(ValueError, match="sample rates must be positive"):
        resample(torch.zeros(1, 10), from_rate, to_rate)


def test_read_stereo_as_mono_is_mean(tmp_path: Path) -> None:
    left, right = sine(440, 16000, 1600), sine(660, 16000, 1600, amplitude=0.25)
    path = tmp_path / "stereo.wav"
    write_audio(path, torch.stack([left, right]), 16000)
    mono, _ = read_audio(path, channels=1)
    assert mono.shape == (1, 1600)
    expected = ((left + right) / 2).numpy()
    np.testing.assert_allclose(mono[0].numpy(), expected, atol=1 / 2**15, rtol=0)


@pytest.mark.parametrize(
    ("shape", "channels", "expected"),
    [
        pytest.param((1, 4), 2, torch.tensor([[0.0, 1, 2, 3], [0, 1, 2, 3]]), id="mono-to-stereo"),
        pytest.param((3, 2), 1, torch.tensor([[2.0, 3.0]]), id="three-to-mono"),
        pytest.param((2, 3), 2, torch.tensor([[0.0, 1, 2], [3, 4, 5]]), id="unchanged"),
    ],
)
def test_to_channels(shape: tuple[int, int], channels: int, expected: torch.Tensor) -> None:
    wav = torch.arange(shape[0] * shape[1], dtype=torch.float32).reshape(shape)
    np.testing.assert_array_equal(to_channels(wav, channels).numpy(), expected.numpy())


@pytest.mark.parametrize(
    ("shape", "channels", "message"),
    [
        pytest.param((3, 4), 2, "cannot convert 3 channels to 2", id="three-to-stereo"),
        pytest.param((1, 4), 0, "channels must be positive", id="zero-channels"),
        pytest.param((4,), 1, r"float waveform \[C, T\]", id="1d"),
    ],
)
def test_to_channels_rejects(shape: tuple[int, ...], channels: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_channels(torch.zeros(shape), channels)


def test_missing_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        read_audio(path)


def test_unreadable_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "garbage.wav"
    path.write_bytes(b"this is not audio" * 10)
    with pytest.raises(ValueError, match="cannot read audio file .*garbage.wav"):
        read_audio(path)
