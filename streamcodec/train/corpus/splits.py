"""Train/valid split assignment: held-out speakers and a seeded fraction of each source's groups."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from .util import stable_hash


VALID_FRACTION = 0.05


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
    rng = np.random.default_rng([seed, stable_hash("held-out")])
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
        rng = np.random.default_rng([seed, stable_hash(source)])
        valid_groups.update((source, ordered[i]) for i in rng.choice(len(ordered), size=count, replace=False))
    return [
        "valid"
        if item.source in valid_only or item.speaker in held_out or (item.source, item.group) in valid_groups
        else "train"
        for item in items
    ]
