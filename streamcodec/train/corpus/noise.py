"""Synthetic noise generators (white, pink, brown, rain, mains hum), unit RMS at 24 kHz."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .manifest import SAMPLE_RATE


def colored_noise(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequencies = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    frequencies[0] = frequencies[1] if n > 2 else 1.0
    noise = np.fft.irfft(spectrum / frequencies ** (exponent / 2), n)
    noise -= noise.mean()
    return (noise / max(np.sqrt(np.mean(noise**2)), 1e-12)).astype(np.float32)


def white_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return colored_noise(n, rng, 0.0)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return colored_noise(n, rng, 1.0)


def brown_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    return colored_noise(n, rng, 2.0)


def rain_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Rain-like crackle: random short noise bursts of random loudness over soft pink noise."""
    out = 0.15 * pink_noise(n, rng)
    rate = rng.uniform(50, 400)  # drops per second
    drop = int(0.004 * SAMPLE_RATE)
    envelope = np.exp(-np.arange(drop) / (0.0008 * SAMPLE_RATE))
    for start in rng.integers(0, max(n - drop, 1), size=int(rate * n / SAMPLE_RATE)):
        burst = rng.standard_normal(drop) * envelope * rng.uniform(0.1, 1.0) ** 2
        out[start : start + drop] += burst[: n - start].astype(np.float32)
    return out / max(np.sqrt(np.mean(out**2)), 1e-12)


def hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum: 50 or 60 Hz and decaying harmonics, slight noise, unit RMS."""
    t = np.arange(n) / SAMPLE_RATE
    base = 50.0 if rng.random() < 0.5 else 60.0
    out = sum(
        rng.uniform(0.3, 1.0) / k * np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi)) for k in range(1, 8)
    )
    out = out + 0.02 * rng.standard_normal(n)
    return (out / np.sqrt(np.mean(out**2))).astype(np.float32)


NOISES: dict[str, tuple[Callable[[int, np.random.Generator], np.ndarray], str]] = {
    "white": (white_noise, "white noise"),
    "pink": (pink_noise, "pink noise"),
    "brown": (brown_noise, "brown noise, a low rumble"),
    "rain": (rain_noise, "rain-like noise"),
    "hum": (hum, "electrical mains hum"),
}
