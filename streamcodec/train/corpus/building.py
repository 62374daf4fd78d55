"""Building the corpus: render the planned tasks in parallel, assign splits, write the manifest and
summary; and the command line."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .manifest import SPLITS, SUMMARY, Clip, write_manifest
from .planning import BuildConfig, plan
from .splits import SplitItem, assign_splits
from .tasks import Output, run_task
from .util import stable_hash


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
        futures = [pool.submit(run_task, task, out_dir) for task in the_plan.tasks]
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
    order = np.random.default_rng([config.seed, stable_hash("manifest")]).permutation(len(clips))
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m streamcodec.train.corpus",
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
