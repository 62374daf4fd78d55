"""Coding quality of a streamcodec model against Opus at matching bitrates, in one run.

    python benchmarks/quality.py                         # bundled default model, ALSA clips + corpus
    python benchmarks/quality.py --data /work/data       # held-out corpus clips too
    python benchmarks/quality.py --model streamcodec/train/runs/default/best --clips 6

For each bandwidth (1.5, 3, 6, 12 kbps) every clip is coded by the model (offline with zero
start padding, which equals the stream) and by Opus (libopus through ffmpeg, ``-application
voip``, at the same nominal bitrate), then scored against the original:

- PESQ wide-band (ITU-T P.862.2, pip ``pesq``, at 16 kHz; speech only),
- STOI (pip ``pystoi``; speech only),
- SI-SNR (dB) and log-mel distance (24 kHz, lower is better),
- level: output loudness relative to the original in dB (0 keeps it).

Clip groups: ``alsa`` (the real voices alsa-utils installs, never trained on), and with
``--data``: ``real-speech`` (held-out klettres/hedgewars speakers), ``synthetic-speech``
(held-out espeak-ng/festival voices) and ``music`` (held-out tracks). Prints a table, writes
JSON and a plot of quality against bitrate.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # benchmark the checkout this file lives in

from streamcodec import load_model  # noqa: E402
from streamcodec.models.encodec import EncodecModel  # noqa: E402
from streamcodec.train.corpus import SAMPLE_RATE, load_manifest  # noqa: E402
from streamcodec.train.corpus.signal import read_mono  # noqa: E402
from streamcodec.train.evaluation import require_speech_metrics, speech_scores  # noqa: E402
from streamcodec.train.losses import level_db, mel_distance, si_snr  # noqa: E402

DEFAULT_JSON = REPO_ROOT / "benchmarks" / "results" / "quality.json"
ALSA_DIR = Path("/usr/share/sounds/alsa")
BANDWIDTHS = (1.5, 3.0, 6.0, 12.0)
SPEECH_GROUPS = ("alsa", "real-speech", "synthetic-speech")
CORPUS_GROUPS = {  # group -> (kind, sources) among the corpus's held-out clips
    "real-speech": ("speech", {"klettres", "hedgewars-voices"}),
    "synthetic-speech": ("speech", {"espeak-ng", "festival"}),
    "music": ("music", {"wesnoth", "hedgewars-music", "fluidsynth-midi"}),
}
METRICS = ("pesq_wb", "stoi", "si_snr", "mel", "level_db")


# --------------------------------------------------------------------------------------------
# Clips


def alsa_clips() -> list[tuple[str, np.ndarray]]:
    """The voice clips of alsa-utils (``Noise.wav`` left out), 24 kHz mono."""
    files = sorted(p for p in ALSA_DIR.glob("*.wav") if p.stem != "Noise")
    return [(p.stem, read_mono(p)) for p in files]


def corpus_clips(data_dir: Path, group: str, count: int, seed: int, max_seconds: float) -> list[tuple[str, np.ndarray]]:
    kind, sources = CORPUS_GROUPS[group]
    clips = [c for c in load_manifest(data_dir, "valid") if c.kind == kind and c.source in sources]
    random.Random(seed).shuffle(clips)
    return [(Path(c.path).stem, read_mono(c.file)[: int(max_seconds * SAMPLE_RATE)]) for c in clips[:count]]


# --------------------------------------------------------------------------------------------
# Coders


def model_roundtrip(model: EncodecModel, audio: np.ndarray) -> np.ndarray:
    """Encode + decode at the model's current bandwidth; what a fresh stream produces."""
    wav = torch.from_numpy(audio)[None, None]
    with torch.inference_mode():
        codes, scale = model.encode(wav, pad_mode="constant")
        decoded = model.decode(codes, scale, pad_mode="constant")
    return decoded[0, 0, : len(audio)].numpy()


def opus_roundtrip(ffmpeg: str, audio: np.ndarray, kbps: float, workdir: Path) -> tuple[np.ndarray, float]:
    """Encode with libopus (voip) at ``kbps`` and decode back to 24 kHz; also the real bitrate."""
    source, coded, decoded = workdir / "in.wav", workdir / "coded.opus", workdir / "out.wav"
    sf.write(source, audio, SAMPLE_RATE, subtype="FLOAT")
    quiet = [ffmpeg, "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(
        [*quiet, "-i", source, "-c:a", "libopus", "-b:a", f"{kbps * 1000:.0f}", "-application", "voip", coded],
        check=True,
    )
    subprocess.run([*quiet, "-i", coded, "-ar", str(SAMPLE_RATE), "-ac", "1", decoded], check=True)
    out, _ = sf.read(decoded, dtype="float32")
    out = np.pad(out, (0, max(0, len(audio) - len(out))))[: len(audio)]
    return out, coded.stat().st_size * 8 / (len(audio) / SAMPLE_RATE) / 1000


# --------------------------------------------------------------------------------------------
# Metrics


def score(reference: np.ndarray, estimate: np.ndarray, speech: bool) -> dict[str, float]:
    ref_t, est_t = torch.from_numpy(reference)[None, None], torch.from_numpy(estimate)[None, None]
    result = {
        "si_snr": si_snr(est_t, ref_t).item(),
        "mel": mel_distance(est_t, ref_t, SAMPLE_RATE).item(),
        "level_db": level_db(est_t, ref_t).item(),
        "pesq_wb": float("nan"),
        "stoi": float("nan"),
    }
    if speech:
        result.update(speech_scores(reference, estimate, SAMPLE_RATE))
    return result


def mean_scores(rows: list[dict[str, float]]) -> dict[str, float]:
    return {m: float(np.nanmean([r[m] for r in rows])) if any(np.isfinite(r[m]) for r in rows) else float("nan") for m in METRICS}


# --------------------------------------------------------------------------------------------
# Report


def print_table(results: dict[str, Any]) -> None:
    header = f"{'group':<17} {'codec':<11} {'kbps':>6} {'real':>6} {'PESQ-wb':>8} {'STOI':>6} {'SI-SNR':>7} {'mel':>6} {'level':>6}"
    print("\nkbps: nominal; real: Opus's measured file bitrate (libopus does not go below ~6 kbps)")
    print(header + "\n" + "-" * len(header))
    for group, by_codec in results["groups"].items():
        for codec, rows in by_codec.items():
            for row in rows:
                print(
                    f"{group:<17} {codec:<11} {row['kbps']:>6.2f} {row.get('measured_kbps', row['kbps']):>6.2f} {row['pesq_wb']:>8.2f} {row['stoi']:>6.3f} "
                    f"{row['si_snr']:>7.1f} {row['mel']:>6.3f} {row['level_db']:>6.1f}"
                )


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(results["groups"])
    fig, axes = plt.subplots(len(groups), 3, figsize=(12, 3.2 * len(groups)), squeeze=False)
    for row_axes, group in zip(axes, groups):
        for ax, metric, label in zip(row_axes, ("pesq_wb", "stoi", "mel"), ("PESQ-wb", "STOI", "mel distance")):
            for codec, rows in results["groups"][group].items():
                xs = [r.get("measured_kbps", r["kbps"]) for r in rows]  # Opus at its real bitrate
                ys = [r[metric] for r in rows]
                if any(np.isfinite(ys)):
                    ax.plot(xs, ys, marker="o", label=codec)
            ax.set_xscale("log", base=2)
            ax.set_xticks(BANDWIDTHS, [f"{b:g}" for b in BANDWIDTHS])
            ax.set_xlabel("kbps")
            ax.set_title(f"{group}: {label}")
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=8)
            else:
                ax.text(0.5, 0.5, "speech groups only", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="'default', a model directory, file or Hub id")
    parser.add_argument("--data", type=Path, default=None, help="corpus directory: adds its held-out clips")
    parser.add_argument("--clips", type=int, default=12, help="clips per corpus group")
    parser.add_argument("--max-seconds", type=float, default=6.0, help="longest corpus clip scored")
    parser.add_argument("--bandwidths", type=float, nargs="+", default=list(BANDWIDTHS))
    parser.add_argument("--no-opus", action="store_true", help="skip the Opus reference")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--plot", type=Path, default=None, help="PNG path (default: beside the JSON)")
    args = parser.parse_args(argv)
    try:
        require_speech_metrics()
    except ImportError as error:
        sys.exit(f"error: {error}")

    started = time.perf_counter()
    model = load_model(args.model)
    for bandwidth in args.bandwidths:
        model.codebooks_for_bandwidth(bandwidth)  # a clear error before any work
    ffmpeg = None if args.no_opus else shutil.which("ffmpeg")
    if not args.no_opus and ffmpeg is None:
        sys.exit("error: ffmpeg (with libopus) is needed for the Opus reference: apt-get install ffmpeg, or pass --no-opus")

    groups: dict[str, list[tuple[str, np.ndarray]]] = {}
    if ALSA_DIR.is_dir():
        groups["alsa"] = alsa_clips()
    if args.data is not None:
        for group in CORPUS_GROUPS:
            groups[group] = corpus_clips(args.data, group, args.clips, args.seed, args.max_seconds)
    groups = {g: clips for g, clips in groups.items() if clips}
    if not groups:
        sys.exit(f"error: no clips: install alsa-utils (for {ALSA_DIR}) or pass --data with a corpus")

    results: dict[str, Any] = {"model": args.model, "bandwidths": args.bandwidths, "groups": {}, "clips": {}}
    jobs = sum(len(c) for c in groups.values()) * len(args.bandwidths)
    progress = tqdm(total=jobs, desc="scoring", unit="clip", dynamic_ncols=True)
    with tempfile.TemporaryDirectory() as tmp:
        for group, clips in groups.items():
            speech = group in SPEECH_GROUPS
            by_codec: dict[str, list[dict[str, float]]] = {"streamcodec": []}
            if ffmpeg:
                by_codec["opus"] = []
            results["clips"][group] = [name for name, _ in clips]
            for bandwidth in args.bandwidths:
                model.set_bandwidth(bandwidth)
                ours, opus, opus_kbps = [], [], []
                for _, audio in clips:
                    ours.append(score(audio, model_roundtrip(model, audio), speech))
                    if ffmpeg:
                        decoded, kbps = opus_roundtrip(ffmpeg, audio, bandwidth, Path(tmp))
                        opus.append(score(audio, decoded, speech))
                        opus_kbps.append(kbps)
                    progress.update(1)
                by_codec["streamcodec"].append({"kbps": bandwidth, **mean_scores(ours)})
                if ffmpeg:
                    by_codec["opus"].append({"kbps": bandwidth, "measured_kbps": float(np.mean(opus_kbps)), **mean_scores(opus)})
            results["groups"][group] = by_codec
    progress.close()
    results["seconds"] = time.perf_counter() - started

    print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    plot_path = args.plot or args.json.with_suffix(".png")
    plot(results, plot_path)
    print(f"\nwrote {args.json} and {plot_path} ({results['seconds']:.0f} s in all)")


if __name__ == "__main__":
    main()
