"""Training corpus of the default model: build it from Debian packages and synthesizers, load it.

Build (after ``bash streamcodec/train/install_data_packages.sh DATA_DIR``)::

    python -m streamcodec.train.data --out DATA_DIR [--seed 0] [--synthetic-minutes 120]

This writes 24 kHz mono 16-bit FLAC clips of 2-15 s under ``DATA_DIR/clips/<source>/``, one JSON
line per clip in ``DATA_DIR/manifest.jsonl`` and the minutes per source, kind and split in
``DATA_DIR/summary.json``. Sources:

* recorded speech: klettres-data (letters and syllables, one speaker per language) and the
  hedgewars-data character voices, short utterances of one speaker packed into 3-10 s clips;
* recorded music: wesnoth-1.16-music and the hedgewars music, cut into 10 s clips;
* the ALSA test voice and noise in ``/usr/share/sounds/alsa`` (validation only);
* synthetic speech: espeak-ng (its own voices and variants, MBROLA voices) and festival, speaking
  sentences from a seeded generator at random speeds and pitches;
* synthetic music: seeded random MIDI songs rendered by fluidsynth with the FluidR3 GM soundfont;
* sounds and noise: freedesktop and hedgewars sound effects, white/pink/brown noise, rain, hum.

A seeded subset of clips gets a random peak level (-30 to 0 dBFS) and synthetic room reverb.
Validation holds whole speakers out (2 klettres languages, 2 hedgewars voices, 2 espeak voices,
1 festival voice), about 5 % of the other groups of each source (a group is a clip, or a whole
recording for music cut into several clips) and the ALSA clips. The build is reproducible: the
same seed and installed packages give the same files.

For the trainer: :func:`load_manifest` and :class:`RandomCrops`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr
import torch
from tqdm import tqdm

SAMPLE_RATE = 24_000
MIN_SECONDS = 2.0
MAX_SECONDS = 15.0
KINDS = ("speech", "music", "sounds", "noise")
SPLITS = ("train", "valid")
MANIFEST = "manifest.jsonl"
SUMMARY = "summary.json"

SILENCE_PEAK = 10 ** (-50 / 20)  # a clip whose peak stays below -50 dBFS counts as silent
SAFE_PEAK = 10 ** (-0.1 / 20)  # written clips peak at most at -0.1 dBFS
VALID_FRACTION = 0.05
AUGMENT_PROBABILITY = 0.3
REVERB_PROBABILITY = 0.5  # of the augmented clips
MUSIC_SEGMENT_SECONDS = 10.0

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
ALSA_DIR = Path("/usr/share/sounds/alsa")
FREEDESKTOP_DIR = Path("/usr/share/sounds/freedesktop/stereo")
MBROLA_DIR = Path("/usr/share/mbrola")
FESTIVAL_VOICES_DIR = Path("/usr/share/festival/voices")
KLETTRES = Path("klettres-data/usr/share/klettres")
HEDGEWARS = Path("hedgewars-data/usr/share/games/hedgewars/Data")
WESNOTH_MUSIC = Path("wesnoth-1.16-music")
AUDIO_SUFFIXES = (".ogg", ".oga", ".wav", ".flac")

# Sampling proportions of RandomCrops: kind groups and their share.
DEFAULT_PROPORTIONS: dict[tuple[str, ...], float] = {("speech",): 0.5, ("music",): 0.3, ("sounds", "noise"): 0.2}


# --------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Clip:
    """One clip of the corpus. ``path`` is relative to ``root``, the data directory."""

    path: str
    source: str
    kind: str
    speaker: str
    description: str
    split: str
    seconds: float
    root: Path | None = dataclasses.field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"clip {self.path}: kind {self.kind!r} is not one of {KINDS}")
        if self.split not in SPLITS:
            raise ValueError(f"clip {self.path}: split {self.split!r} is not one of {SPLITS}")

    @property
    def file(self) -> Path:
        """The clip's audio file."""
        return (self.root or Path()) / self.path

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "root"}

    @classmethod
    def from_json(cls, record: dict[str, Any], root: Path | None = None) -> Clip:
        names = [f.name for f in dataclasses.fields(cls) if f.name != "root"]
        missing = [name for name in names if name not in record]
        if missing:
            raise ValueError(f"manifest record {record} lacks {missing}")
        return cls(**{name: record[name] for name in names}, root=root)


def write_manifest(data_dir: str | Path, clips: Iterable[Clip]) -> Path:
    """Write ``data_dir/manifest.jsonl``, one clip per line; returns its path."""
    path = Path(data_dir) / MANIFEST
    partial = path.with_suffix(".partial")
    with partial.open("w") as f:
        for clip in clips:
            f.write(json.dumps(clip.to_json(), ensure_ascii=False) + "\n")
    partial.replace(path)
    return path


def load_manifest(data_dir: str | Path, split: str | None = None) -> list[Clip]:
    """The clips of ``data_dir/manifest.jsonl`` in file order, those of ``split`` if given."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, not {split!r}")
    root = Path(data_dir)
    path = root / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found; build the corpus with: python -m streamcodec.train.data --out {root}"
        )
    clips = []
    with path.open() as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                clip = Clip.from_json(json.loads(line), root=root)
            except (json.JSONDecodeError, TypeError, ValueError) as error:
                raise ValueError(f"{path}:{number}: {error}") from error
            if split is None or clip.split == split:
                clips.append(clip)
    return clips


# --------------------------------------------------------------------------------------------
# Random crops for training
# --------------------------------------------------------------------------------------------


class RandomCrops:
    """Endless random fixed-length crops of clips: ``next(crops)`` is a ``[1, length]`` float32 tensor.

    Kinds are drawn in ``proportions`` (default speech 50 %, music 30 %, sounds and noise 20 %,
    renormalised over the kinds present), a clip within a kind with probability proportional to
    its duration, then a uniform crop; clips shorter than ``length`` are zero-padded at a random
    offset. Decoded clips are cached in memory up to ``cache_bytes`` (least recently used out).
    The sequence depends only on ``seed`` and the clips; :meth:`state` and :meth:`load_state`
    save and restore the position in it.
    """

    def __init__(
        self,
        clips: Sequence[Clip],
        length: int,
        seed: int = 0,
        proportions: dict[tuple[str, ...], float] | None = None,
        cache_bytes: int = 1 << 30,
    ):
        if length <= 0:
            raise ValueError(f"crop length must be positive, not {length}")
        if not clips:
            raise ValueError("RandomCrops needs at least one clip")
        self.length = length
        self.cache_bytes = cache_bytes
        self._groups: list[list[Clip]] = []
        self._clip_weights: list[np.ndarray] = []
        weights = []
        for kinds, share in (proportions or DEFAULT_PROPORTIONS).items():
            members = [clip for clip in clips if clip.kind in kinds]
            if members and share > 0:
                seconds = np.array([max(clip.seconds, 1e-3) for clip in members])
                self._groups.append(members)
                self._clip_weights.append(seconds / seconds.sum())
                weights.append(share)
        if not self._groups:
            raise ValueError("no clip has a kind with a positive proportion")
        self._group_weights = np.array(weights) / sum(weights)
        self._rng = np.random.default_rng(seed)
        self._cache: OrderedDict[Path, np.ndarray] = OrderedDict()
        self._cached_bytes = 0

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self

    def __next__(self) -> torch.Tensor:
        group = self._rng.choice(len(self._groups), p=self._group_weights)
        clip = self._groups[group][self._rng.choice(len(self._groups[group]), p=self._clip_weights[group])]
        audio = self._load(clip)
        crop = np.zeros(self.length, dtype=np.float32)
        if len(audio) >= self.length:
            start = int(self._rng.integers(0, len(audio) - self.length + 1))
            crop[:] = audio[start : start + self.length]
        else:
            start = int(self._rng.integers(0, self.length - len(audio) + 1))
            crop[start : start + len(audio)] = audio
        return torch.from_numpy(crop)[None]

    def state(self) -> dict[str, Any]:
        """The random generator's state, to resume the same sequence with :meth:`load_state`."""
        return {"rng": self._rng.bit_generator.state}

    def load_state(self, state: dict[str, Any]) -> None:
        self._rng.bit_generator.state = state["rng"]

    def _load(self, clip: Clip) -> np.ndarray:
        path = clip.file
        audio = self._cache.get(path)
        if audio is not None:
            self._cache.move_to_end(path)
            return audio
        data, rate = sf.read(path, dtype="float32", always_2d=True)
        if rate != SAMPLE_RATE:
            raise ValueError(f"{path} is {rate} Hz, not {SAMPLE_RATE}")
        audio = np.ascontiguousarray(data.mean(axis=1))
        if audio.nbytes <= self.cache_bytes:
            self._cache[path] = audio
            self._cached_bytes += audio.nbytes
            while self._cached_bytes > self.cache_bytes:
                _, evicted = self._cache.popitem(last=False)
                self._cached_bytes -= evicted.nbytes
        return audio


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SplitItem:
    """What the split of a clip depends on: clips of one ``group`` always share a split."""

    source: str
    speaker: str
    group: str


def choose_held_out(speakers: Iterable[str], count: int, seed: int) -> list[str]:
    """``count`` of the distinct ``speakers`` (sorted, seeded choice), never all of them."""
    distinct = sorted(set(speakers))
    count = min(count, max(len(distinct) - 1, 0))
    rng = np.random.default_rng([seed, _stable_hash("held-out")])
    return sorted(distinct[i] for i in rng.choice(len(distinct), size=count, replace=False))


def assign_splits(
    items: Sequence[SplitItem],
    held_out_speakers: Iterable[str],
    seed: int,
    valid_fraction: float = VALID_FRACTION,
    valid_sources: Iterable[str] = (),
) -> list[str]:
    """The split of each item.

    Items of ``valid_sources`` or of a held-out speaker go to "valid", and so do about
    ``valid_fraction`` of the other groups of each source (at least one where a source has two
    or more); the rest go to "train". A held-out speaker thus never appears in train.
    """
    held_out, valid_only = set(held_out_speakers), set(valid_sources)
    groups: dict[str, set[str]] = defaultdict(set)
    for item in items:
        if item.source not in valid_only and item.speaker not in held_out:
            groups[item.source].add(item.group)
    valid_groups: set[tuple[str, str]] = set()
    for source, names in groups.items():
        ordered = sorted(names)
        count = min(max(round(valid_fraction * len(ordered)), 1), len(ordered) - 1)
        rng = np.random.default_rng([seed, _stable_hash(source)])
        valid_groups.update((source, ordered[i]) for i in rng.choice(len(ordered), size=count, replace=False))
    return [
        "valid"
        if item.source in valid_only or item.speaker in held_out or (item.source, item.group) in valid_groups
        else "train"
        for item in items
    ]


# --------------------------------------------------------------------------------------------
# Signal helpers
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# MIDI
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Note:
    """A note: start and duration in beats, MIDI channel (9 is percussion), pitch, velocity."""

    start: float
    duration: float
    channel: int
    pitch: int
    velocity: int


def _variable_length(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(notes: Sequence[Note], programs: dict[int, int], tempo_bpm: float, ticks_per_beat: int = 480) -> bytes:
    """A format-0 Standard MIDI File: tempo, program changes (channel -> GM program), notes."""
    events: list[tuple[int, int, bytes]] = [(0, 0, b"\xff\x51\x03" + int(60e6 / tempo_bpm).to_bytes(3, "big"))]
    events += [(0, 1, bytes([0xC0 | channel, program])) for channel, program in sorted(programs.items())]
    for note in notes:
        on = round(note.start * ticks_per_beat)
        off = max(round((note.start + note.duration) * ticks_per_beat), on + 1)
        events.append((on, 3, bytes([0x90 | note.channel, note.pitch, note.velocity])))
        events.append((off, 2, bytes([0x80 | note.channel, note.pitch, 0])))  # offs before ons at a tick
    events.sort(key=lambda event: (event[0], event[1]))
    track, now = bytearray(), 0
    for tick, _, data in events:
        track += _variable_length(tick - now) + data
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_beat)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


# A selection of General MIDI programs (0-based) and their names.
GM_PROGRAMS = {
    0: "a piano", 4: "an electric piano", 6: "a harpsichord", 11: "a vibraphone", 13: "a xylophone",
    19: "a church organ", 21: "an accordion", 24: "a nylon-string guitar", 25: "a steel-string guitar",
    27: "a clean electric guitar", 29: "an overdriven guitar", 32: "an acoustic bass", 33: "an electric bass",
    40: "a violin", 42: "a cello", 46: "a harp", 48: "a string ensemble", 52: "a choir", 56: "a trumpet",
    57: "a trombone", 60: "a French horn", 65: "an alto saxophone", 68: "an oboe", 71: "a clarinet",
    73: "a flute", 75: "a pan flute", 80: "a square-wave synth lead", 81: "a sawtooth synth lead",
    88: "a synth pad",
}  # fmt: skip
BASS_PROGRAMS = (32, 33, 42)
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "blues": (0, 3, 5, 6, 7, 10),
}


def random_song(rng: np.random.Generator, seconds: float) -> tuple[list[Note], dict[int, int], float, str]:
    """A seeded random song of about ``seconds`` (whole 4-beat bars): 1-4 melodic voices in one
    scale, drums half the time. Returns notes, programs, tempo and a description."""
    tempo = float(rng.integers(60, 170))
    beats = 4 * max(round(seconds * tempo / 240), 1)
    scale_name = str(rng.choice(list(SCALES)))
    scale, root = SCALES[scale_name], int(rng.integers(45, 58))
    voices = int(rng.integers(1, 5))
    notes: list[Note] = []
    programs: dict[int, int] = {}
    names = []
    for channel in range(voices):
        bass = channel == 1 and rng.random() < 0.6
        program = int(rng.choice(BASS_PROGRAMS if bass else list(GM_PROGRAMS)))
        programs[channel] = program
        names.append(GM_PROGRAMS[program])
        octave = -12 if bass else int(rng.choice([0, 12, 12, 24]))
        lengths = [1.0, 2.0, 4.0] if bass or program in (48, 52, 88) else [0.25, 0.5, 0.5, 1.0, 1.0, 2.0]
        degree, t = int(rng.integers(0, len(scale))), 0.0
        velocity = int(rng.integers(60, 110))
        while t < beats:
            duration = float(rng.choice(lengths))
            degree = int(np.clip(degree + rng.integers(-2, 3), -len(scale), 2 * len(scale)))
            pitch = root + octave + 12 * (degree // len(scale)) + scale[degree % len(scale)]
            if rng.random() > 0.1:  # a rest now and then
                chord = [0, 4, 7] if channel == 0 and voices == 1 and rng.random() < 0.3 else [0]
                for offset in chord:
                    notes.append(Note(t, duration * 0.95, channel, int(np.clip(pitch + offset, 21, 108)),
                                      int(np.clip(velocity + rng.integers(-15, 16), 20, 127))))  # fmt: skip
            t += duration
    drums = rng.random() < 0.5
    if drums:
        pattern = {36: (0.0, 2.0), 38: (1.0, 3.0), 42: tuple(np.arange(0, 4, 0.5))}
        for bar in range(beats // 4):
            for pitch, offsets in pattern.items():
                for offset in offsets:
                    if rng.random() < 0.92:
                        notes.append(Note(bar * 4 + float(offset), 0.25, 9, pitch, int(rng.integers(60, 120))))
    listing = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    description = f"{listing}{' with drums' if drums else ''}, {scale_name} scale, {tempo:.0f} bpm"
    return notes, programs, tempo, description


# --------------------------------------------------------------------------------------------
# Text for speech synthesis
# --------------------------------------------------------------------------------------------

_SUBJECTS = ("the old man", "my sister", "a small dog", "the teacher", "our neighbour", "the pilot",
             "a tired student", "the baker", "her brother", "the children", "nobody", "the doctor")  # fmt: skip
_VERBS = ("found", "painted", "carried", "remembered", "opened", "sold", "watched", "cleaned", "built",
          "forgot", "described", "borrowed")  # fmt: skip
_OBJECTS = ("a red bicycle", "the kitchen window", "three green apples", "an old letter", "the wooden boat",
            "a heavy box", "the garden gate", "seven blue cups", "the morning paper", "a broken clock",
            "the silver key", "a warm blanket")  # fmt: skip
_PLACES = ("near the river", "in the station", "after lunch", "before the storm", "on Sunday morning",
           "at the market", "under the bridge", "in the quiet library", "behind the school",
           "late last night", "in the summer", "at the end of the street")  # fmt: skip
_ENGLISH_TEMPLATES = (
    "{S} {V} {O} {P}.",
    "{P}, {S} {V} {O}.",
    "Did you know that {S} {V} {O}?",
    "Where is {O} that {S} {V}?",
    "I think {S} {V} {O} {P}, but I am not sure.",
    "The train leaves at {H} {M}, so please be on time.",
    "Call me back on {N}.",
    "It costs {H} dollars and {M} cents.",
)
NATIVE_WORDS = {
    "de": "Haus Wasser Sonne Garten heute morgen schnell langsam Brot Hund Katze Stadt Schule gut "
          "nicht gross klein Freund Abend Fenster".split(),
    "fr": "maison eau soleil jardin aujourd'hui demain vite lentement pain chien chat ville école bon "
          "petit grand ami soir fenêtre rouge".split(),
    "es": "casa agua sol jardin hoy mañana rapido despacio pan perro gato ciudad escuela bueno "
          "pequeño grande amigo noche ventana rojo".split(),
    "it": "casa acqua sole giardino oggi domani veloce piano pane cane gatto città scuola buono "
          "piccolo grande amico sera finestra rosso".split(),
    "nl": "huis water zon tuin vandaag morgen snel langzaam brood hond kat stad school goed klein "
          "groot vriend avond raam rood".split(),
    "pt": "casa água sol jardim hoje amanhã rápido devagar pão cão gato cidade escola bom pequeno "
          "grande amigo noite janela vermelho".split(),
}  # fmt: skip


def english_sentence(rng: np.random.Generator) -> str:
    """A random English sentence from simple templates."""
    template = str(rng.choice(_ENGLISH_TEMPLATES))
    return template.format(
        S=rng.choice(_SUBJECTS), V=rng.choice(_VERBS), O=rng.choice(_OBJECTS), P=rng.choice(_PLACES),
        H=int(rng.integers(1, 13)), M=int(rng.integers(10, 60)),
        N=" ".join(str(d) for d in rng.integers(0, 10, size=7)),
    ).capitalize()  # fmt: skip


def native_sentence(rng: np.random.Generator, language: str) -> str:
    """Simple words of ``language`` (a key of NATIVE_WORDS) and a number, as a sentence."""
    words = list(rng.choice(NATIVE_WORDS[language], size=int(rng.integers(3, 7))))
    words.insert(int(rng.integers(0, len(words) + 1)), str(int(rng.integers(1, 100))))
    return " ".join(words).capitalize() + "."


def number_sentence(rng: np.random.Generator) -> str:
    """Numbers, read by a voice in its own language."""
    return ", ".join(str(int(n)) for n in rng.integers(0, 1000, size=int(rng.integers(3, 7)))) + "."


# --------------------------------------------------------------------------------------------
# Voices
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Voice:
    """A synthesizer voice: ``name`` as the engine selects it, ``text`` the kind of text it reads
    ("english", a NATIVE_WORDS language, or "numbers")."""

    engine: str
    name: str
    language: str
    gender: str
    text: str

    @property
    def speaker(self) -> str:
        return f"{self.engine}/{self.name.rsplit('/', 1)[-1]}"


def _native_text(code: str) -> str:
    base = code.split("-")[0].lower()
    return "english" if base == "en" else base if base in NATIVE_WORDS else "numbers"


def espeak_voices() -> list[Voice]:
    """espeak-ng's voices, MBROLA ones only where their voice data is installed."""
    voices: dict[str, Voice] = {}
    for listing in ("--voices", "--voices=mb"):
        output = subprocess.run(["espeak-ng", listing], capture_output=True, text=True, check=True).stdout
        for line in output.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 5 or fields[1] == "variant":
                continue
            code, gender, voice_name, file = fields[1], fields[2].split("/")[-1], fields[3], fields[4]
            name = file.rsplit("/", 1)[-1] if file.startswith("mb/") else file
            if file.startswith("mb/"):
                if not (MBROLA_DIR / name.split("-")[1]).exists():
                    continue
                english = name.endswith("-en") or code.startswith("en")
                language = "English" if english else _LANGUAGES.get(code.split("-")[0], code)
                text = "english" if english else _native_text(code)
            else:
                language = voice_name.replace("_", " ")
                text = _native_text(code)
            voices[name] = Voice("espeak-ng", name, language, {"F": "female", "M": "male"}.get(gender, ""), text)
    return [voices[name] for name in sorted(voices)]


def espeak_variants() -> list[tuple[str, str]]:
    """espeak-ng's voice variants: (name for ``voice+name``, gender)."""
    output = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    variants = []
    for line in output.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5 and fields[4].startswith("!v/"):
            variants.append((fields[4][3:], {"F": "female", "M": "male"}.get(fields[2].split("/")[-1], "")))
    return variants


_LANGUAGES = {"af": "Afrikaans", "br": "Portuguese", "pt": "Portuguese", "cs": "Czech", "de": "German",
              "en": "English", "es": "Spanish", "fr": "French", "hu": "Hungarian", "it": "Italian",
              "nl": "Dutch", "pl": "Polish", "ro": "Romanian", "sv": "Swedish"}  # fmt: skip
_FESTIVAL_GENDERS = {"kal_diphone": "male", "ked_diphone": "male", "rab_diphone": "male", "don_diphone": "male",
                     "us1_mbrola": "female", "us2_mbrola": "male", "us3_mbrola": "male",
                     "cmu_us_slt_arctic_hts": "female", "el_diphone": "male", "pc_diphone": "male"}  # fmt: skip
_FESTIVAL_LANGUAGES = {"english": ("English", "english"), "us": ("English", "english"),
                       "spanish": ("Spanish", "es"), "italian": ("Italian", "it")}  # fmt: skip


def festival_voices() -> list[Voice]:
    """Installed festival voices of the languages we have text for."""
    voices = []
    for directory in sorted(FESTIVAL_VOICES_DIR.glob("*/*")):
        language = _FESTIVAL_LANGUAGES.get(directory.parent.name)
        if directory.is_dir() and language:
            gender = _FESTIVAL_GENDERS.get(directory.name, "")
            voices.append(Voice("festival", directory.name, language[0], gender, language[1]))
    return voices


def _sentence(rng: np.random.Generator, text: str) -> str:
    if text == "english":
        return english_sentence(rng)
    return native_sentence(rng, text) if text in NATIVE_WORDS else number_sentence(rng)


def _speech_description(voice: Voice, variant_gender: str, pace: str, pitch: str) -> str:
    gender = variant_gender or voice.gender
    who = f"a synthetic {gender + ' ' if gender else ''}voice"
    what = "counting in" if voice.text == "numbers" else "speaking"
    engine = "espeak-ng with MBROLA" if voice.name.startswith("mb-") else voice.engine
    return f"{who} ({engine}, {voice.name}{', ' + pitch if pitch else ''}) {what} {voice.language} {pace}"


# --------------------------------------------------------------------------------------------
# Rendering tasks (run in worker processes)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Output:
    """A rendered clip before split assignment."""

    path: str
    source: str
    kind: str
    speaker: str
    description: str
    seconds: float
    group: str


@dataclasses.dataclass(frozen=True)
class TaskResult:
    outputs: list[Output]
    warnings: list[tuple[str, str, str]]  # (source, reason, example)


@dataclasses.dataclass(frozen=True)
class Task:
    """Base of rendering tasks: ``name`` is unique and seeds the task's random generator."""

    name: str
    source: str
    seed: int

    def rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, _stable_hash(self.name)])

    def run(self, out_dir: Path) -> TaskResult:
        raise NotImplementedError


class _Writer:
    """Finishes (trim, check, augment, clip-safe) and saves a task's clips, collecting warnings."""

    def __init__(self, task: Task, out_dir: Path, augment_clips: bool = True):
        self.task, self.out_dir, self.augment_clips = task, out_dir, augment_clips
        self.outputs: list[Output] = []
        self.warnings: list[tuple[str, str, str]] = []

    def warn(self, reason: str, example: str) -> None:
        self.warnings.append((self.task.source, reason, example))

    def save(
        self, audio: np.ndarray, kind: str, speaker: str, description: str, group: str, rng: np.random.Generator
    ) -> None:
        stem = f"{self.task.name}_{len(self.outputs):03d}"
        audio = trim_silence(audio)[: int(MAX_SECONDS * SAMPLE_RATE)]
        reason = problem(audio)
        if reason:
            self.warn(reason, stem)
            return
        if self.augment_clips and rng.random() < AUGMENT_PROBABILITY:
            audio, suffix = augment(audio, rng)
            description += suffix
        relative = f"clips/{self.task.source}/{_safe_name(stem)}.flac"
        (self.out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        sf.write(self.out_dir / relative, clip_safe(audio), SAMPLE_RATE, subtype="PCM_16")
        self.outputs.append(Output(relative, self.task.source, kind, speaker, description,
                                   round(len(audio) / SAMPLE_RATE, 3), group or stem))  # fmt: skip

    def result(self) -> TaskResult:
        return TaskResult(self.outputs, self.warnings)

    def read(self, path: Path, label: str = "") -> np.ndarray | None:
        """The audio of ``path`` (named ``label`` in warnings), or None if broken or silent."""
        try:
            audio = read_mono(path)
        except (RuntimeError, ValueError, sf.LibsndfileError) as error:
            self.warn("broken", f"{label or path} ({error})")
            return None
        reason = problem(audio) if len(audio) and np.all(np.isfinite(audio)) else "broken"
        if reason in ("broken", "silent"):
            self.warn(reason, label or str(path))
            return None
        return audio


@dataclasses.dataclass(frozen=True)
class PackedFilesTask(Task):
    """Short recordings of one speaker (or sound effects) shuffled and packed into 3-10 s clips."""

    kind: str
    speaker: str
    description: str
    files: tuple[str, ...]
    augment: bool = True

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir, self.augment)
        pieces = [trim_silence(audio) for file in self.files if (audio := writer.read(Path(file))) is not None]
        order = rng.permutation(len(pieces))
        for clip in pack([pieces[i] for i in order], rng):
            writer.save(clip, self.kind, self.speaker, self.description, "", rng)
        return writer.result()


@dataclasses.dataclass(frozen=True)
class MusicFileTask(Task):
    """A recorded music track cut into 10 s clips (one split group)."""

    file: str
    description: str

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir)
        audio = writer.read(Path(self.file))
        if audio is not None:
            _save_segments(writer, audio, "music", self.description, rng)
        return writer.result()


def _save_segments(writer: _Writer, audio: np.ndarray, kind: str, description: str, rng: np.random.Generator) -> None:
    """Cut ``audio``, edges trimmed, into 10 s segments (a last one of 2-10 s kept) saved as one group."""
    audio, step = trim_silence(audio), int(MUSIC_SEGMENT_SECONDS * SAMPLE_RATE)
    for start in range(0, len(audio) - int(MIN_SECONDS * SAMPLE_RATE) + 1, step):
        writer.save(audio[start : start + step], kind, "", description, writer.task.name, rng)


@dataclasses.dataclass(frozen=True)
class EspeakTask(Task):
    """One espeak-ng clip: sentences in one voice, variant, speed and pitch, packed to 3-10 s."""

    voice: Voice
    variant: str
    variant_gender: str
    speed: int
    pitch: int

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir)
        target = rng.uniform(3.0, 10.0) * SAMPLE_RATE
        name = self.voice.name + (f"+{self.variant}" if self.variant else "")
        pieces, size = [], 0
        with tempfile.TemporaryDirectory() as tmp:
            while size < target and len(pieces) < 8:
                wav = Path(tmp) / f"{len(pieces)}.wav"
                command = ["espeak-ng", "-v", name, "-s", str(self.speed), "-p", str(self.pitch), "-w", str(wav)]
                done = subprocess.run(command + [_sentence(rng, self.voice.text)], capture_output=True)
                if done.returncode != 0 or not wav.is_file():
                    writer.warn("synthesis failed", f"espeak-ng -v {name}")
                    return writer.result()
                audio = writer.read(wav, f"espeak-ng -v {name}")
                if audio is None:
                    return writer.result()
                pieces.append(trim_silence(audio))
                size += len(pieces[-1])
        pace = "slowly" if self.speed < 135 else "quickly" if self.speed > 200 else "at a normal pace"
        pitch = "low-pitched" if self.pitch < 35 else "high-pitched" if self.pitch > 65 else ""
        description = _speech_description(self.voice, self.variant_gender, pace, pitch)
        for clip in pack(pieces, rng, min_seconds=target / SAMPLE_RATE, max_seconds=MAX_SECONDS):
            writer.save(clip, "speech", self.voice.speaker, description, "", rng)
        return writer.result()


@dataclasses.dataclass(frozen=True)
class FestivalTask(Task):
    """About ``seconds`` of festival speech in one voice and speed (one festival run), 3-10 s clips."""

    voice: Voice
    stretch: float
    seconds: float

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir)
        count = max(int(self.seconds / 2.5), 1)  # a sentence lasts about 2.5 s
        with tempfile.TemporaryDirectory() as tmp:
            wavs = [Path(tmp) / f"{i}.wav" for i in range(count)]
            lines = [f"(voice_{self.voice.name})", f"(Parameter.set 'Duration_Stretch {self.stretch:.2f})"]
            for wav in wavs:
                text = re.sub(r'["\\]', "", _sentence(rng, self.voice.text))
                lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{wav}" \'riff)')
            script = Path(tmp) / "script.scm"
            script.write_text("\n".join(lines) + "\n", encoding="latin-1", errors="replace")
            subprocess.run(["festival", "--batch", str(script)], capture_output=True, timeout=600)
            pieces = []
            for wav in wavs:
                if not wav.is_file():
                    writer.warn("synthesis failed", f"festival {self.voice.name}")
                    continue
                audio = writer.read(wav, f"festival {self.voice.name}")
                if audio is None:
                    continue
                pieces.append(trim_silence(audio))
        pace = "slowly" if self.stretch > 1.15 else "quickly" if self.stretch < 0.9 else "at a normal pace"
        description = _speech_description(self.voice, "", pace, "")
        for clip in pack(pieces, rng):
            writer.save(clip, "speech", self.voice.speaker, description, "", rng)
        return writer.result()


@dataclasses.dataclass(frozen=True)
class MidiTask(Task):
    """A random MIDI song of about ``seconds`` rendered by fluidsynth, cut into 10 s clips."""

    seconds: float

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir)
        notes, programs, tempo, description = random_song(rng, self.seconds)
        with tempfile.TemporaryDirectory() as tmp:
            midi, wav = Path(tmp) / "song.mid", Path(tmp) / "song.wav"
            midi.write_bytes(midi_bytes(notes, programs, tempo))
            command = ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SAMPLE_RATE), "-F", str(wav), str(SOUNDFONT)]
            subprocess.run(command + [str(midi)], capture_output=True, timeout=600)
            if not wav.is_file():
                writer.warn("synthesis failed", f"fluidsynth {self.name}")
                return writer.result()
            audio = writer.read(wav, f"fluidsynth {self.name}")
        if audio is not None:
            _save_segments(writer, audio, "music", f"synthesized MIDI music: {description}", rng)
        return writer.result()


@dataclasses.dataclass(frozen=True)
class NoiseTask(Task):
    """One clip of synthetic noise."""

    noise: str
    seconds: float

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir)
        generate, description = NOISES[self.noise]
        audio = generate(int(self.seconds * SAMPLE_RATE), rng)
        level = float(rng.uniform(-25.0, -3.0))
        writer.save(set_peak(audio, level), "noise", "", description, "", rng)
        return writer.result()


def _run_task(task: Task, out_dir: Path) -> TaskResult:
    return task.run(out_dir)


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    out_dir: Path
    seed: int = 0
    synthetic_minutes: float = 120.0
    noise_minutes: float = 20.0
    workers: int = 2


@dataclasses.dataclass(frozen=True)
class Plan:
    tasks: list[Task]
    held_out_speakers: list[str]
    notes: list[str]  # sources skipped and why


def plan(config: BuildConfig) -> Plan:
    """The rendering tasks for ``config``, deterministic for a seed and the installed packages."""
    raw, seed = config.out_dir / "raw", config.seed
    tasks: list[Task] = []
    notes: list[str] = []
    held_out: list[str] = []

    # Recorded music first: the longest tasks.
    wesnoth = sorted((raw / WESNOTH_MUSIC).rglob("*.ogg"))
    hedgewars_music = sorted((raw / HEDGEWARS / "Music").glob("*.ogg"))
    music = (("wesnoth", wesnoth, "Battle for Wesnoth"), ("hedgewars-music", hedgewars_music, "Hedgewars"))
    for source, files, game in music:
        if not files:
            notes.append(f"{source}: no music found under {raw} (run install_data_packages.sh)")
        for file in files:
            title = file.stem.replace("_", " ").replace("-", " ")
            description = f'game music from {game}: "{title}"'
            tasks.append(MusicFileTask(f"{source}-{_safe_name(file.stem)}", source, seed, str(file), description))

    # Recorded speech: klettres (one speaker per language) and hedgewars voices.
    klettres = {
        d.name: sorted(str(f) for f in d.rglob("*.ogg"))
        for d in sorted((raw / KLETTRES).glob("*")) if d.is_dir()
    }  # fmt: skip
    klettres = {language: files for language, files in klettres.items() if files}
    if not klettres:
        notes.append(f"klettres: no recordings under {raw / KLETTRES}")
    held_out += choose_held_out((f"klettres/{language}" for language in klettres), 2, seed)
    for language, files in klettres.items():
        name = _KLETTRES_LANGUAGES.get(language, language)
        description = f"a person saying letters and syllables in {name}"
        tasks.append(PackedFilesTask(f"klettres-{language}", "klettres", seed, "speech", f"klettres/{language}",
                                     description, tuple(files)))  # fmt: skip
    voice_dirs = sorted(d for d in (raw / HEDGEWARS / "Sounds" / "voices").glob("*") if d.is_dir())
    if not voice_dirs:
        notes.append(f"hedgewars voices: none under {raw / HEDGEWARS}")
    held_out += choose_held_out((f"hedgewars/{d.name}" for d in voice_dirs), 2, seed)
    for d in voice_dirs:
        description = f"a cartoon character voice ({d.name.replace('_', ' ')}) shouting short game phrases"
        files = tuple(sorted(str(f) for f in d.iterdir() if f.suffix in AUDIO_SUFFIXES))
        tasks.append(PackedFilesTask(f"hedgewars-{d.name}", "hedgewars-voices", seed, "speech",
                                     f"hedgewars/{d.name}", description, files))  # fmt: skip

    # Sound effects.
    effects = sorted(str(f) for f in (raw / HEDGEWARS / "Sounds").glob("*") if f.suffix in AUDIO_SUFFIXES)
    for i in range(0, len(effects), 12):
        tasks.append(PackedFilesTask(f"hedgewars-sfx-{i // 12:02d}", "hedgewars-sounds", seed, "sounds", "",
                                     "video game sound effects", tuple(effects[i : i + 12])))  # fmt: skip
    desktop = sorted(str(f) for f in FREEDESKTOP_DIR.glob("*") if f.suffix in AUDIO_SUFFIXES)
    for i in range(0, len(desktop), 6):
        tasks.append(PackedFilesTask(f"freedesktop-{i // 6:02d}", "freedesktop", seed, "sounds", "",
                                     "desktop notification and alert sounds", tuple(desktop[i : i + 6])))  # fmt: skip

    # ALSA test sounds (validation only).
    alsa_voice = tuple(sorted(str(f) for f in ALSA_DIR.glob("*.wav") if f.stem != "Noise"))
    for i in range(0, len(alsa_voice), 3):
        tasks.append(PackedFilesTask(f"alsa-voice-{i // 3}", "alsa", seed, "speech", "alsa/voice",
                                     "a woman naming loudspeaker positions in English", alsa_voice[i : i + 3],
                                     augment=False))  # fmt: skip
    if (ALSA_DIR / "Noise.wav").is_file():
        tasks.append(PackedFilesTask("alsa-noise", "alsa", seed, "noise", "", "loudspeaker test noise",
                                     (str(ALSA_DIR / "Noise.wav"),) * 3, augment=False))  # fmt: skip
    if not alsa_voice:
        notes.append(f"alsa: no test sounds in {ALSA_DIR}")

    rng = np.random.default_rng([seed, _stable_hash("plan")])
    speech_seconds = config.synthetic_minutes * 60

    # Synthetic speech: festival (about 30 %), espeak-ng (the rest).
    festival = festival_voices() if shutil.which("festival") else []
    if not festival:
        notes.append("festival: not installed or no voices")
    else:
        english = [v.speaker for v in festival if v.text == "english"]
        held_out += choose_held_out(english, 1, seed)
        for i in range(max(round(0.3 * speech_seconds / 60), 1)):
            voice = festival[i % len(festival)]
            stretch = float(rng.uniform(0.8, 1.3))
            tasks.append(FestivalTask(f"festival-{i:03d}", "festival", seed, voice, stretch, 60.0))
    espeak = espeak_voices() if shutil.which("espeak-ng") else []
    if not espeak:
        notes.append("espeak-ng: not installed")
    else:
        variants = espeak_variants()
        plain_english = [v for v in espeak if v.text == "english" and not v.name.startswith("mb-")]
        held_out += choose_held_out((v.speaker for v in plain_english), 2, seed)
        pools = {
            "english": (0.45, plain_english),
            "mbrola": (0.2, [v for v in espeak if v.name.startswith("mb-")]),
            "native": (0.2, [v for v in espeak if v.text in NATIVE_WORDS and not v.name.startswith("mb-")]),
            "numbers": (0.15, [v for v in espeak if v.text == "numbers" and not v.name.startswith("mb-")]),
        }
        pools = {key: value for key, value in pools.items() if value[1]}
        shares = np.array([share for share, _ in pools.values()])
        keys = list(pools)
        for i in range(round(0.7 * speech_seconds / 6.5)):
            voices = pools[keys[rng.choice(len(keys), p=shares / shares.sum())]][1]
            voice = voices[rng.integers(len(voices))]
            variant, gender = ("", "")
            if not voice.name.startswith("mb-") and variants and rng.random() < 0.6:
                variant, gender = variants[rng.integers(len(variants))]
            speed, pitch = int(rng.integers(110, 260)), int(rng.integers(20, 81))
            tasks.append(EspeakTask(f"espeak-{i:04d}", "espeak-ng", seed, voice, variant, gender, speed, pitch))

    # Synthetic music.
    if shutil.which("fluidsynth") and SOUNDFONT.is_file():
        for i in range(round(config.synthetic_minutes * 60 / 30)):
            tasks.append(MidiTask(f"midi-{i:04d}", "fluidsynth-midi", seed, float(rng.uniform(20, 40))))
    else:
        notes.append(f"fluidsynth: not installed or {SOUNDFONT} missing")

    # Synthetic noise.
    noise_names = sorted(NOISES)
    for i in range(round(config.noise_minutes * 60 / 8)):
        noise = noise_names[i % len(noise_names)]
        tasks.append(NoiseTask(f"noise-{noise}-{i:04d}", "synthetic-noise", seed, noise, float(rng.uniform(3, 13))))
    return Plan(tasks, sorted(held_out), notes)


_KLETTRES_LANGUAGES = {"ar": "Arabic", "cs": "Czech", "da": "Danish", "de": "German", "en": "English",
                       "en_GB": "British English", "es": "Spanish", "fr": "French", "he": "Hebrew",
                       "hu": "Hungarian", "it": "Italian", "lt": "Lithuanian", "ml": "Malayalam",
                       "nb": "Norwegian", "nds": "Low German", "nl": "Dutch", "pt_BR": "Brazilian Portuguese",
                       "ru": "Russian", "tn": "Tswana", "uk": "Ukrainian"}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------------------------


def build(config: BuildConfig) -> dict[str, Any]:
    """Render the corpus into ``config.out_dir``; returns the summary (also in summary.json)."""
    started = time.perf_counter()
    out_dir = config.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out_dir / "clips", ignore_errors=True)
    the_plan = plan(config)
    for note in the_plan.notes:
        tqdm.write(f"warning: {note}")
    if not the_plan.tasks:
        raise RuntimeError(f"nothing to build in {out_dir}; run streamcodec/train/install_data_packages.sh {out_dir}")
    outputs: list[Output] = []
    warnings: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    with ProcessPoolExecutor(max_workers=config.workers) as pool:
        futures = [pool.submit(_run_task, task, out_dir) for task in the_plan.tasks]
        progress = tqdm(as_completed(futures), total=len(futures), desc="rendering", unit="task", dynamic_ncols=True)
        for future in progress:
            result = future.result()
            outputs.extend(result.outputs)
            for source, reason, example in result.warnings:
                warnings[source, reason] += 1
                examples.setdefault((source, reason), example)
    outputs.sort(key=lambda output: output.path)
    items = [SplitItem(o.source, o.speaker, o.group) for o in outputs]
    splits = assign_splits(items, the_plan.held_out_speakers, config.seed, valid_sources=("alsa",))
    clips = [Clip(o.path, o.source, o.kind, o.speaker, o.description, split, o.seconds)
             for o, split in zip(outputs, splits)]  # fmt: skip
    order = np.random.default_rng([config.seed, _stable_hash("manifest")]).permutation(len(clips))
    write_manifest(out_dir, (clips[i] for i in order))  # shuffled, so any prefix mixes sources
    summary = summarize(clips)
    summary.update(
        seed=config.seed,
        synthetic_minutes=config.synthetic_minutes,
        noise_minutes=config.noise_minutes,
        held_out_speakers=the_plan.held_out_speakers,
        warnings={f"{source}: {reason}": count for (source, reason), count in sorted(warnings.items())},
        notes=the_plan.notes,
        build_seconds=round(time.perf_counter() - started, 1),
    )
    (out_dir / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    for (source, reason), count in sorted(warnings.items()):
        print(f"warning: {source}: skipped {count} ({reason}), e.g. {examples[source, reason]}")
    print(format_summary(summary))
    return summary


def summarize(clips: Sequence[Clip]) -> dict[str, Any]:
    """Minutes and clip counts per source, kind and split."""
    minutes: dict[str, dict[str, dict[str, float]]] = {"by_source": {}, "by_kind": {}}
    for key, table in (("source", minutes["by_source"]), ("kind", minutes["by_kind"])):
        for clip in clips:
            row = table.setdefault(getattr(clip, key), {"train": 0.0, "valid": 0.0, "clips": 0})
            row[clip.split] += clip.seconds / 60
            row["clips"] += 1
        for row in table.values():
            row["train"], row["valid"] = round(row["train"], 2), round(row["valid"], 2)
    total = {split: round(sum(c.seconds for c in clips if c.split == split) / 60, 2) for split in SPLITS}
    return {**minutes, "total_minutes": total, "clips": len(clips)}


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a text table (minutes)."""
    lines = [f"{'':24} {'train min':>10} {'valid min':>10} {'clips':>7}"]
    for title, key in (("by source", "by_source"), ("by kind", "by_kind")):
        lines.append(f"-- {title}")
        for name, row in sorted(summary[key].items()):
            lines.append(f"{name:24} {row['train']:10.1f} {row['valid']:10.1f} {row['clips']:7d}")
    total = summary["total_minutes"]
    lines.append(f"{'total':24} {total['train']:10.1f} {total['valid']:10.1f} {summary['clips']:7d}")
    return "\n".join(lines)


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode())


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m streamcodec.train.data",
        description="Build the training corpus (run streamcodec/train/install_data_packages.sh DATA_DIR first).",
    )
    parser.add_argument("--out", type=Path, required=True, help="data directory (holds raw/ from the install script)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--synthetic-minutes",
        type=float,
        default=120.0,
        help="minutes of synthetic speech and, separately, of synthetic music (default 120)",
    )
    parser.add_argument("--noise-minutes", type=float, default=20.0, help="minutes of synthetic noise (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="rendering processes (default 2)")
    args = parser.parse_args(argv)
    if args.synthetic_minutes < 0 or args.noise_minutes < 0 or args.workers < 1:
        parser.error("minutes must be >= 0 and workers >= 1")
    config = BuildConfig(args.out, args.seed, args.synthetic_minutes, args.noise_minutes, args.workers)
    try:
        build(config)
    except RuntimeError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
