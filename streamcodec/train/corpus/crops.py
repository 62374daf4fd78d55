"""Endless random fixed-length training crops of corpus clips, drawn by kind proportions."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

from .manifest import SAMPLE_RATE, Clip


# Sampling proportions of RandomCrops: kind groups and their share.
DEFAULT_PROPORTIONS: dict[tuple[str, ...], float] = {("speech",): 0.5, ("music",): 0.3, ("sounds", "noise"): 0.2}


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
