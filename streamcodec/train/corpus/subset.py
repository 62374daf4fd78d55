"""A compact, seeded copy of a corpus, small enough to travel to a lent GPU machine.

    python -m streamcodec.train.corpus.subset --data /work/data --out gpu-data --max-mib 60

The full corpus is ~900 MB of FLAC; a device run carries at most 64 MiB. This keeps a random
share of every source (validation clips included, so held-out speakers stay held out), re-encoded
as Ogg Vorbis (~6 KB per second of audio: about 2.5 hours in 60 MiB), with its own manifest, so
``python -m streamcodec.train.trainer --data gpu-data`` reads it like the full corpus.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from .manifest import SAMPLE_RATE, Clip, interleave_sources, load_manifest, write_manifest
from .signal import read_mono


def write_subset(data_dir: Path, out_dir: Path, max_bytes: int, valid_share: float = 0.1, seed: int = 0) -> list[Clip]:
    """Copy clips of ``data_dir`` to ``out_dir`` as Ogg Vorbis until ``max_bytes`` are written,
    ``valid_share`` of them on validation clips.

    Returns the clips written (their manifest is ``out_dir/manifest.jsonl``).
    """
    if max_bytes <= 0:
        raise ValueError(f"the size budget must be positive, got {max_bytes} bytes")
    if not 0 < valid_share < 1:
        raise ValueError(f"valid_share must lie between 0 and 1, got {valid_share}")
    out_dir.mkdir(parents=True, exist_ok=True)
    valid_bytes = int(max_bytes * valid_share)
    budgets = {"valid": valid_bytes, "train": max_bytes - valid_bytes}
    kept: list[Clip] = []
    for split, budget in budgets.items():
        spent = 0
        candidates = interleave_sources(load_manifest(data_dir, split), random.Random(seed))
        for clip in tqdm(candidates, desc=f"subset {split}", unit="clip"):
            path = Path(clip.path).with_suffix(".ogg")
            target = out_dir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            sf.write(target, read_mono(clip.file), SAMPLE_RATE, format="OGG", subtype="VORBIS")
            size = target.stat().st_size
            if spent + size > budget:
                target.unlink()
                break
            spent += size
            kept.append(dataclasses.replace(clip, path=str(path), root=out_dir))
    if not any(clip.split == "train" for clip in kept) or not any(clip.split == "valid" for clip in kept):
        raise ValueError(f"{max_bytes} bytes do not hold one training and one validation clip; raise --max-mib")
    write_manifest(out_dir, kept)
    return kept


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the full corpus directory")
    parser.add_argument("--out", type=Path, required=True, help="directory of the compact copy")
    parser.add_argument("--max-mib", type=float, default=60.0, help="size budget of the copy in MiB")
    parser.add_argument("--valid-share", type=float, default=0.1, help="share of the budget for validation clips")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    clips = write_subset(args.data, args.out, int(args.max_mib * 2**20), args.valid_share, args.seed)
    for split in ("train", "valid"):
        chosen = [clip for clip in clips if clip.split == split]
        minutes = sum(clip.seconds for clip in chosen) / 60
        print(f"{split}: {len(chosen)} clips, {minutes:.1f} min, {len({c.source for c in chosen})} sources")


if __name__ == "__main__":
    main()
