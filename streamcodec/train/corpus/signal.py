"""Audio helpers for rendering clips: reading, silence trimming, checks, reverb, levels, packing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .manifest import MAX_SECONDS, MIN_SECONDS, SAMPLE_RATE


SILENCE_PEAK = 10 ** (-50 / 20)  # a clip whose peak stays below -50 dBFS counts as silent
SAFE_PEAK = 10 ** (-0.1 / 20)  # written clips peak at most at -0.1 dBFS
REVERB_PROBABILITY = 0.5  # of the augmented clips


def read_mono(path: str | Path) -> np.ndarray:
    """An audio file as float32 mono (channel average) at 24 kHz."""
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    audio = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE, quality="HQ")
    return np.ascontiguousarray(audio, dtype=np.float32)


def trim_silence(audio: np.ndarray, floor_db: float = -60.0, relative_db: float = -40.0) -> np.ndarray:
    """``audio`` without leading and trailing 10 ms frames quieter than ``floor_db`` dBFS and
    ``relative_db`` below the loudest frame (20 ms margin kept)."""
    frame = SAMPLE_RATE // 100
    count = len(audio) // frame
    if count == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: count * frame].reshape(count, frame) ** 2, axis=1))
    threshold = max(10 ** (floor_db / 20), rms.max() * 10 ** (relative_db / 20))
    loud = np.flatnonzero(rms > threshold)
    if len(loud) == 0:
        return audio[:0]
    start = max(loud[0] * frame - 2 * frame, 0)
    stop = min((loud[-1] + 1) * frame + 2 * frame, len(audio))
    return audio[start:stop]


def problem(audio: np.ndarray) -> str | None:
    """Why ``audio`` cannot be a clip ("broken", "silent", "too short"), or None."""
    if not np.all(np.isfinite(audio)):
        return "broken"
    if len(audio) == 0 or np.abs(audio).max() < SILENCE_PEAK:
        return "silent"
    if len(audio) < MIN_SECONDS * SAMPLE_RATE:
        return "too short"
    return None


def room_impulse_response(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """A synthetic room: direct path then exponentially decaying noise (-60 dB after ``rt60`` s)."""
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir[: int(0.003 * SAMPLE_RATE)] = 0.0  # gap before the first reflections
    ir /= np.sqrt(np.sum(ir**2))
    ir[0] = 1.0
    return ir


def add_reverb(audio: np.ndarray, ir: np.ndarray, wet: float) -> np.ndarray:
    """``audio`` convolved with ``ir`` (FFT), mixed with ``wet`` weight, same length."""
    size = 1 << math.ceil(math.log2(len(audio) + len(ir) - 1))
    reverberant = np.fft.irfft(np.fft.rfft(audio, size) * np.fft.rfft(ir, size), size)[: len(audio)]
    return ((1 - wet) * audio + wet * reverberant).astype(np.float32)


def set_peak(audio: np.ndarray, dbfs: float) -> np.ndarray:
    return (audio * (10 ** (dbfs / 20) / max(np.abs(audio).max(), 1e-9))).astype(np.float32)


def clip_safe(audio: np.ndarray) -> np.ndarray:
    """``audio`` scaled down, if needed, to peak at most at -0.1 dBFS."""
    peak = np.abs(audio).max()
    return (audio * (SAFE_PEAK / peak) if peak > SAFE_PEAK else audio).astype(np.float32)


def augment(audio: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Random peak level (-30 to 0 dBFS) and, half the time, room reverb; returns the audio and
    a description suffix."""
    suffix = ""
    if rng.random() < REVERB_PROBABILITY:
        rt60 = float(rng.uniform(0.2, 1.0))
        audio = add_reverb(audio, room_impulse_response(rng, rt60), wet=float(rng.uniform(0.3, 0.8)))
        suffix = ", in a reverberant room"
    level = float(rng.uniform(-30.0, 0.0))
    return set_peak(audio, level), suffix + (", quiet" if level < -20 else "")


def pack(
    pieces: Sequence[np.ndarray],
    rng: np.random.Generator,
    min_seconds: float = 3.0,
    max_seconds: float = 10.0,
    gap_seconds: tuple[float, float] = (0.1, 0.4),
) -> list[np.ndarray]:
    """Concatenate consecutive ``pieces`` with short silent gaps into clips of a random target
    length in ``[min_seconds, max_seconds]`` (never over 15 s; pieces longer than that are cut)."""
    clips: list[np.ndarray] = []
    current: list[np.ndarray] = []
    size, target = 0, rng.uniform(min_seconds, max_seconds) * SAMPLE_RATE
    limit = int(MAX_SECONDS * SAMPLE_RATE)
    for piece in pieces:
        piece = piece[:limit]
        gap = np.zeros(int(rng.uniform(*gap_seconds) * SAMPLE_RATE), dtype=np.float32)
        if current and size + len(gap) + len(piece) > limit:
            clips.append(np.concatenate(current))
            current, size, target = [], 0, rng.uniform(min_seconds, max_seconds) * SAMPLE_RATE
        if current:
            current.append(gap)
            size += len(gap)
        current.append(piece)
        size += len(piece)
        if size >= target:
            clips.append(np.concatenate(current))
            current, size, target = [], 0, rng.uniform(min_seconds, max_seconds) * SAMPLE_RATE
    if current:
        rest = np.concatenate(current)
        if len(rest) < MIN_SECONDS * SAMPLE_RATE and clips and len(clips[-1]) + len(rest) <= limit:
            clips[-1] = np.concatenate([clips[-1], np.zeros(int(0.2 * SAMPLE_RATE), np.float32), rest])
        else:
            clips.append(rest)
    return clips
