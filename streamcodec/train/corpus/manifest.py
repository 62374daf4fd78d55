"""The corpus manifest: clip records (:class:`Clip`), their constants, and reading and writing ``manifest.jsonl``."""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any


SAMPLE_RATE = 24_000
MIN_SECONDS = 2.0
MAX_SECONDS = 15.0
KINDS = ("speech", "music", "sounds", "noise")
SPLITS = ("train", "valid")
MANIFEST = "manifest.jsonl"
SUMMARY = "summary.json"


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
            f"{path} not found; build the corpus with: python -m streamcodec.train.corpus --out {root}"
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


def interleave_sources(clips: Iterable[Clip], rng: random.Random | None = None) -> list[Clip]:
    """``clips`` taken from their sources in turn (sources in order of first appearance), each
    source's clips in file order or, with ``rng``, shuffled."""
    by_source: dict[str, list[Clip]] = {}
    for clip in clips:
        by_source.setdefault(clip.source, []).append(clip)
    if rng is not None:
        for group in by_source.values():
            rng.shuffle(group)
    turns = itertools.zip_longest(*by_source.values())
    return [clip for turn in turns for clip in turn if clip is not None]
