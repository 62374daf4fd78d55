#!/usr/bin/env python
"""Speed of streamcodec's streaming encoder/decoder on CPU, against offline coding and naive chunking.

Real-time factor (RTF) = seconds of audio / seconds of compute; higher is better, 1.0 is just real
time. For every ``--threads`` setting this measures:

1. offline ``model.encode`` / ``model.decode`` of the whole signal in one call;
2. streaming with 1-frame pushes (``hop_length`` samples into the encoder, each frame's codes
   decoded at once): encode, decode and encode+decode RTF, and the per-push latency (p50/p99);
3. the same with 4-frame pushes, plus its throughput relative to offline encode+decode;
4. 8 streams in one batched session, 1-frame pushes: aggregate RTF (8 x audio / compute);
5. the naive baseline: ``transformers.EncodecModel`` called statelessly on each 320- and
   1920-sample chunk (encode + decode per chunk), which is how people "stream" a stateless codec;
6. the speedup of 1-frame streaming over the 320-sample naive baseline.

Usage (from the repository root)::

    python benchmarks/streaming_speed.py                    # full run, ~80 s on an idle 2-core machine
    python benchmarks/streaming_speed.py --quick            # smoke run, < 1 minute
    python benchmarks/streaming_speed.py --model default --threads 1

The table goes to stdout and every figure (plus machine info) to ``--json``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # benchmark the checkout this file lives in

import streamcodec  # noqa: E402
from streamcodec import EncodecConfig, EncodecModel, load_model  # noqa: E402
from tests.synthetic import fill_codebooks, speechlike  # noqa: E402

DEFAULT_JSON = REPO_ROOT / "benchmarks" / "results" / "streaming_speed.json"
BATCH_STREAMS = 8
NAIVE_CHUNKS = (320, 1920)  # samples per stateless call of the transformers baseline
TARGET_STREAM_RTF_1T = 3.0  # 1 thread, 1-frame pushes, encode+decode
TARGET_4FRAME_VS_OFFLINE = 0.8  # 4-frame streaming throughput / offline throughput
STATUS = {True: "PASS", False: "FAIL", None: "n/a"}


# --------------------------------------------------------------------------------------------
# Inputs


def build_model(spec: str) -> EncodecModel:
    if spec == "random24k":
        torch.manual_seed(0)
        model = EncodecModel(EncodecConfig(), name="random24k")
        fill_codebooks([layer.embed for layer in model.quantizer.layers])
        return model.eval().requires_grad_(False)  # frozen, as load_model returns: traced sessions
    from streamcodec.pretrained import CheckpointFormatError

    try:
        return load_model(spec)
    except (FileNotFoundError, CheckpointFormatError, ConnectionError) as error:
        sys.exit(f"error: cannot load model {spec!r}: {error}")


def build_naive_baseline() -> tuple[Any, str | None]:
    """Random-weight ``transformers`` EnCodec 24 kHz, or (None, why not)."""
    try:
        import transformers
    except Exception as error:  # ImportError, or a broken install
        return None, f"transformers is not importable ({error.__class__.__name__}: {error}); naive baseline skipped"
    torch.manual_seed(0)
    hf = transformers.EncodecModel(transformers.EncodecConfig()).eval()
    fill_codebooks([layer.codebook.embed for layer in hf.quantizer.layers])
    return hf, None


# --------------------------------------------------------------------------------------------
# Measurements


def _median(values: list[float]) -> float:
    return float(np.median(values))


def _segments(count: int, repeats: int) -> list[np.ndarray]:
    """Split ``count`` timed steps into ``repeats`` contiguous, non-empty segments."""
    return [s for s in np.array_split(np.arange(count), max(1, min(repeats, count))) if len(s)]


def _rtf(audio_seconds: float, compute_seconds: float) -> float:
    return audio_seconds / compute_seconds if compute_seconds > 0 else float("inf")


def measure_offline(model: EncodecModel, wav: torch.Tensor, repeats: int, max_seconds: float) -> dict[str, Any]:
    """Whole-signal encode and decode; median over ``repeats`` runs after one warm-up run.

    Runs stop early (after at least one) once ``max_seconds`` of wall time have passed.
    """
    audio = wav.shape[-1] / model.sample_rate
    start = time.perf_counter()
    with torch.inference_mode():
        codes, scale = model.encode(wav)  # warm-up (also builds oneDNN primitives for these shapes)
        model.decode(codes, scale)
        enc_times, dec_times = [], []
        for _ in range(repeats):
            if enc_times and time.perf_counter() - start > max_seconds:
                break
            gc.collect()
            t0 = time.perf_counter()
            codes, scale = model.encode(wav)
            t1 = time.perf_counter()
            model.decode(codes, scale)
            t2 = time.perf_counter()
            enc_times.append(t1 - t0)
            dec_times.append(t2 - t1)
    return {
        "audio_seconds": audio,
        "encode_seconds": enc_times,
        "decode_seconds": dec_times,
        "encode_rtf": _rtf(audio, _median(enc_times)),
        "decode_rtf": _rtf(audio, _median(dec_times)),
        "combined_rtf": _median([_rtf(audio, e + d) for e, d in zip(enc_times, dec_times)]),
        "truncated": len(enc_times) < repeats,
    }


def time_encode_decode(
    chunks: list[torch.Tensor],
    encode: Callable[[torch.Tensor], Any],
    decode: Callable[[Any], Any],
    min_chunks: int,
    max_seconds: float,
    keep_outputs: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[tuple[Any, Any]]]:
    """Time ``decode(encode(chunk))`` chunk by chunk, garbage collection off.

    Stops early once ``max_seconds`` of wall time have passed (after ``min_chunks``). Returns
    the encode and decode seconds of each chunk timed, and their outputs if ``keep_outputs``.
    """
    enc_t = np.zeros(len(chunks))
    dec_t = np.zeros(len(chunks))
    kept: list[tuple[Any, Any]] = []
    count = len(chunks)
    gc.collect()
    gc.disable()
    start = time.perf_counter()
    try:
        with torch.inference_mode():
            for i, chunk in enumerate(chunks):
                t0 = time.perf_counter()
                encoded = encode(chunk)
                t1 = time.perf_counter()
                decoded = decode(encoded)
                t2 = time.perf_counter()
                enc_t[i] = t1 - t0
                dec_t[i] = t2 - t1
                if keep_outputs:
                    kept.append((encoded, decoded))
                if i + 1 >= min_chunks and t2 - start > max_seconds:
                    count = i + 1
                    break
    finally:
        gc.enable()
    return enc_t[:count], dec_t[:count], kept


def measure_streaming(
    model: EncodecModel,
    wav: torch.Tensor,
    push_samples: int,
    repeats: int,
    warmup_pushes: int,
    max_seconds: float,
    keep_outputs: bool = False,
    traced: bool | None = None,
) -> dict[str, Any]:
    """One session over the signal, pushing ``push_samples`` at a time and decoding at once.

    ``traced=False`` runs the sessions step by step in Python (no TorchScript replay).

    Every push is timed; the RTFs are medians over ``repeats`` contiguous segments of the run.
    The run stops early (``truncated``) once ``max_seconds`` of wall time have passed.
    """
    batch = wav.shape[0]
    count = wav.shape[-1] // push_samples
    if count == 0:
        raise ValueError(f"signal of {wav.shape[-1]} samples is shorter than one {push_samples}-sample push")
    chunks = [wav[..., i * push_samples : (i + 1) * push_samples] for i in range(count)]

    def sessions():
        return model.streaming_encoder(batch, traced=traced), model.streaming_decoder(batch, traced=traced)

    with torch.inference_mode():
        enc, dec = sessions()
        for i in range(warmup_pushes):
            dec.push(enc.push(chunks[i % count]))
    enc, dec = sessions()
    enc_t, dec_t, kept = time_encode_decode(chunks, enc.push, dec.push, 4 * repeats, max_seconds, keep_outputs)
    planned, count = count, len(enc_t)
    frames_per_push = push_samples / model.hop_length
    if dec.frames != count * frames_per_push:
        raise RuntimeError(f"streaming decoded {dec.frames} frames, expected {count * frames_per_push:g}")
    seg_audio, seg_enc, seg_dec, seg_both = [], [], [], []
    for seg in _segments(count, repeats):
        seconds = len(seg) * push_samples / model.sample_rate
        seg_audio.append(seconds)
        seg_enc.append(_rtf(seconds, enc_t[seg].sum()))
        seg_dec.append(_rtf(seconds, dec_t[seg].sum()))
        seg_both.append(_rtf(seconds, enc_t[seg].sum() + dec_t[seg].sum()))
    latency_ms = (enc_t + dec_t) * 1e3
    audio_seconds = count * push_samples / model.sample_rate
    result = {
        "batch_size": batch,
        "push_samples": push_samples,
        "frames_per_push": frames_per_push,
        "pushes": count,
        "truncated": count < planned,
        "audio_seconds": audio_seconds,
        "aggregate_audio_seconds": batch * audio_seconds,
        "encode_seconds_total": float(enc_t.sum()),
        "decode_seconds_total": float(dec_t.sum()),
        "segment_encode_rtf": seg_enc,
        "segment_decode_rtf": seg_dec,
        "segment_combined_rtf": seg_both,
        # per-stream RTFs; multiply by batch_size for the aggregate
        "encode_rtf": _median(seg_enc),
        "decode_rtf": _median(seg_dec),
        "combined_rtf": _median(seg_both),
        "aggregate_combined_rtf": batch * _median(seg_both),
        "push_latency_ms": {
            "p50": float(np.percentile(latency_ms, 50)),
            "p90": float(np.percentile(latency_ms, 90)),
            "p99": float(np.percentile(latency_ms, 99)),
            "max": float(latency_ms.max()),
            "mean": float(latency_ms.mean()),
        },
        "push_budget_ms": 1e3 * push_samples / model.sample_rate,
    }
    if keep_outputs:
        result["_codes"] = torch.cat([codes for codes, _ in kept], dim=-1)
        result["_audio"] = torch.cat([audio for _, audio in kept], dim=-1)
    return result


def measure_naive(
    hf: Any,
    wav: torch.Tensor,
    chunk_samples: int,
    bandwidth: float,
    repeats: int,
    warmup_chunks: int,
    max_seconds: float,
) -> dict[str, Any]:
    """transformers EnCodec run statelessly on each chunk: encode + decode per chunk."""
    sample_rate = hf.config.sampling_rate
    count = wav.shape[-1] // chunk_samples
    chunks = [wav[..., i * chunk_samples : (i + 1) * chunk_samples] for i in range(count)]

    def encode(chunk: torch.Tensor) -> Any:
        return hf.encode(chunk, bandwidth=bandwidth)

    def decode(encoded: Any) -> torch.Tensor:
        return hf.decode(encoded.audio_codes, encoded.audio_scales)

    with torch.inference_mode():
        for i in range(warmup_chunks):
            decode(encode(chunks[i % count]))
    enc_t, dec_t, _ = time_encode_decode(chunks, encode, decode, 2 * repeats, max_seconds)
    planned, count = count, len(enc_t)
    seg_both = []
    for seg in _segments(count, repeats):
        seg_both.append(_rtf(len(seg) * chunk_samples / sample_rate, enc_t[seg].sum() + dec_t[seg].sum()))
    latency_ms = (enc_t + dec_t) * 1e3
    audio_seconds = count * chunk_samples / sample_rate
    return {
        "chunk_samples": chunk_samples,
        "chunks": count,
        "truncated": count < planned,
        "audio_seconds": audio_seconds,
        "encode_rtf": _rtf(audio_seconds, enc_t.sum()),
        "decode_rtf": _rtf(audio_seconds, dec_t.sum()),
        "segment_combined_rtf": seg_both,
        "combined_rtf": _median(seg_both),
        "chunk_latency_ms": {
            "p50": float(np.percentile(latency_ms, 50)),
            "p99": float(np.percentile(latency_ms, 99)),
        },
    }


def sanity_check(model: EncodecModel, wav: torch.Tensor, stream: dict[str, Any]) -> dict[str, Any]:
    """Streaming must reproduce offline coding with zero padding (the library's contract)."""
    codes = stream["_codes"]
    with torch.inference_mode():
        offline_codes, _ = model.encode(wav[..., : stream["pushes"] * stream["push_samples"]], pad_mode="constant")
        offline_audio = model.decode(codes, pad_mode="constant")
    same_shape = tuple(offline_codes.shape) == tuple(codes.shape)
    agreement = float((offline_codes == codes).float().mean()) if same_shape else 0.0
    streamed = stream["_audio"]
    audio_diff = float((offline_audio - streamed).abs().max()) if offline_audio.shape == streamed.shape else math.inf
    return {
        "stream_vs_offline_code_agreement": agreement,
        "stream_vs_offline_decode_max_abs_diff": audio_diff,
        "ok": agreement > 0.99 and audio_diff < 1e-3,
    }


# --------------------------------------------------------------------------------------------
# Report


def machine_info() -> dict[str, Any]:
    cpu_model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "streamcodec": getattr(streamcodec, "__version__", "?"),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model,
        "torch_parallel_info": torch.__config__.parallel_info().strip().splitlines()[:6],
        "mkldnn_available": torch.backends.mkldnn.is_available(),
        "mkldnn_enabled": torch.backends.mkldnn.enabled,
    }
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except Exception:
        info["transformers"] = None
    return info


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


class ForeignLoad:
    """CPU time used by *other* processes between ``start()`` and ``stop()``, in cores (Linux only).

    Busy time of all CPUs from /proc/stat minus this process's own CPU time, over wall time.
    """

    def __init__(self) -> None:
        self._start: tuple[float, float, float] | None = None

    @staticmethod
    def _sample() -> tuple[float, float, float] | None:
        try:
            fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except (OSError, ValueError, IndexError):
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
        busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
        own = os.times()
        return busy, own.user + own.system, time.perf_counter()

    def start(self) -> None:
        self._start = self._sample()

    def stop(self) -> float | None:
        end = self._sample()
        if self._start is None or end is None or end[2] <= self._start[2]:
            return None
        busy, own, wall = (e - s for e, s in zip(end, self._start))
        return max(0.0, (busy - own) / wall)


FOREIGN_LOAD_WARN = 0.2  # cores busy with other processes above which figures are suspect


def _get(results: dict[str, Any], path: str) -> Any:
    value: Any = results
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def evaluate_targets(results: dict[int, dict[str, Any]], threads: list[int]) -> list[dict[str, Any]]:
    targets = []
    value = _get(results.get(1, {}), "stream_1frame.combined_rtf")
    targets.append(
        {
            "name": "1 thread, 1-frame streaming encode+decode RTF",
            "row": "stream_1frame.combined_rtf",
            "threshold": TARGET_STREAM_RTF_1T,
            "threads": {1: value} if 1 in threads else {},
            "passed": None if value is None else bool(value >= TARGET_STREAM_RTF_1T),
        }
    )
    ratios = {n: _get(results[n], "stream_4frame.ratio_to_offline") for n in threads}
    checks = [r >= TARGET_4FRAME_VS_OFFLINE for r in ratios.values() if r is not None]
    targets.append(
        {
            "name": "4-frame streaming throughput / offline throughput (every thread count)",
            "row": "stream_4frame.ratio_to_offline",
            "threshold": TARGET_4FRAME_VS_OFFLINE,
            "threads": ratios,
            "passed": bool(all(checks)) if checks else None,
        }
    )
    return targets


ROWS: list[tuple[str, str, str, str]] = [
    # (label, result path, unit, format)
    ("offline encode (whole signal)", "offline.encode_rtf", "x RT", "{:.2f}"),
    ("offline decode (whole signal)", "offline.decode_rtf", "x RT", "{:.2f}"),
    ("offline encode+decode", "offline.combined_rtf", "x RT", "{:.2f}"),
    ("stream 1-frame encode", "stream_1frame.encode_rtf", "x RT", "{:.2f}"),
    ("stream 1-frame decode", "stream_1frame.decode_rtf", "x RT", "{:.2f}"),
    ("stream 1-frame encode+decode", "stream_1frame.combined_rtf", "x RT", "{:.2f}"),
    ("stream 1-frame latency p50", "stream_1frame.push_latency_ms.p50", "ms", "{:.2f}"),
    ("stream 1-frame latency p99", "stream_1frame.push_latency_ms.p99", "ms", "{:.2f}"),
    ("stream 1-frame / offline throughput", "stream_1frame.ratio_to_offline", "ratio", "{:.2f}"),
    ("stream 1-frame enc+dec, eager (no traces)", "stream_1frame_eager.combined_rtf", "x RT", "{:.2f}"),
    ("stream 4-frame encode", "stream_4frame.encode_rtf", "x RT", "{:.2f}"),
    ("stream 4-frame decode", "stream_4frame.decode_rtf", "x RT", "{:.2f}"),
    ("stream 4-frame encode+decode", "stream_4frame.combined_rtf", "x RT", "{:.2f}"),
    ("stream 4-frame push latency p50", "stream_4frame.push_latency_ms.p50", "ms", "{:.2f}"),
    ("stream 4-frame push latency p99", "stream_4frame.push_latency_ms.p99", "ms", "{:.2f}"),
    ("stream 4-frame / offline throughput", "stream_4frame.ratio_to_offline", "ratio", "{:.2f}"),
    (f"batched {BATCH_STREAMS} streams 1-frame enc+dec (aggregate)", "batched.aggregate_combined_rtf", "x RT",
     "{:.2f}"),
    (f"batched {BATCH_STREAMS} streams latency p50 (per push)", "batched.push_latency_ms.p50", "ms", "{:.2f}"),
    ("naive HF stateless 320-sample chunks enc+dec", "naive_320.combined_rtf", "x RT", "{:.2f}"),
    ("naive HF stateless 1920-sample chunks enc+dec", "naive_1920.combined_rtf", "x RT", "{:.2f}"),
    ("speedup: stream 1-frame vs naive 320", "speedup_vs_naive_320", "x", "{:.2f}"),
]


def format_table(results: dict[int, dict[str, Any]], threads: list[int], targets: list[dict[str, Any]]) -> str:
    by_row = {t["row"]: t for t in targets}
    header = ["measurement", "unit"] + [f"{n} thread{'s' if n != 1 else ''}" for n in threads] + ["target", "status"]
    lines = []
    for label, path, unit, fmt in ROWS:
        cells = [label, unit]
        for n in threads:
            value = _get(results[n], path)
            cells.append("-" if value is None else fmt.format(value))
        target = by_row.get(path)
        if target is None:
            cells += ["", ""]
        elif path == "stream_1frame.combined_rtf":
            cells.append(f">= {target['threshold']:g} @1t")
            cells.append(STATUS[target["passed"]])
        else:
            cells.append(f">= {target['threshold']:g}")
            marks = {n: (None if v is None else v >= target["threshold"]) for n, v in target["threads"].items()}
            distinct = set(marks.values())
            if len(distinct) == 1:
                cells.append(STATUS[distinct.pop()])
            else:
                cells.append(" ".join(f"{n}t:{STATUS[m]}" for n, m in marks.items()))
        lines.append(cells)
    widths = [max(len(str(row[i])) for row in [header] + lines) for i in range(len(header))]

    def render(row: list[str]) -> str:
        out = [str(row[0]).ljust(widths[0]), str(row[1]).ljust(widths[1])]
        out += [str(c).rjust(w) for c, w in zip(row[2:-2], widths[2:-2])]
        out += [str(row[-2]).ljust(widths[-2]), str(row[-1]).ljust(widths[-1])]
        return "  ".join(out).rstrip()

    rule = "-" * len(render(header))
    return "\n".join([render(header), rule] + [render(row) for row in lines])


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--model", default="random24k",
        help="random24k (random weights, 24 kHz architecture), default, or a path / Hub id")
    add("--threads", type=int, nargs="+", default=[1, 2], help="torch intra-op thread counts to measure")
    add("--seconds", type=float, default=10.0, help="audio for the offline and single-stream measurements")
    add("--batch-seconds", type=float, default=2.5,
        help=f"audio per stream in the batched ({BATCH_STREAMS} streams) measurement")
    add("--naive-seconds", type=float, default=2.0, help="audio for the (slow) naive transformers baseline")
    add("--bandwidth", type=float, default=6.0, help="kbps (6 = 8 codebooks at 24 kHz)")
    add("--repeats", type=int, default=3,
        help="offline: runs; streaming/naive: segments of the run; medians are reported")
    add("--warmup", type=int, default=25, help="warm-up pushes / chunks before each timed streaming or naive run")
    add("--max-measure-seconds", type=float, default=30.0,
        help="stop a timed loop early after this much wall time (keeps a loaded machine's run bounded)")
    add("--json", type=Path, default=DEFAULT_JSON, help="where to write the results")
    add("--quick", action="store_true", help="short durations: a smoke run in well under a minute")
    add("--no-naive", action="store_true", help="skip the transformers baseline")
    add("--no-mkldnn", action="store_true", help="diagnostic: torch.backends.mkldnn.enabled = False (oneDNN off)")
    add("--check", action="store_true", help="exit with status 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = min(args.seconds, 1.0)
        args.batch_seconds = min(args.batch_seconds, 0.4)
        args.naive_seconds = min(args.naive_seconds, 0.32)
        args.repeats = min(args.repeats, 2)
        args.warmup = min(args.warmup, 5)
    if any(n < 1 for n in args.threads):
        parser.error("--threads must be positive")
    durations = (args.seconds, args.batch_seconds, args.naive_seconds, args.max_measure_seconds)
    if min(durations) <= 0 or args.repeats < 1 or args.warmup < 0:
        parser.error("durations and --repeats must be positive, --warmup non-negative")
    args.threads = list(dict.fromkeys(args.threads))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or inter-op work already started
        pass
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    notes: list[str] = []

    model = build_model(args.model)
    try:
        model.set_bandwidth(args.bandwidth)
        model.streaming_encoder(batch_size=1)  # raises if the model cannot stream
    except ValueError as error:
        sys.exit(f"error: {error}")
    sr, hop = model.sample_rate, model.hop_length
    hf, why_not = (None, "naive baseline skipped (--no-naive)") if args.no_naive else build_naive_baseline()
    if why_not:
        notes.append(why_not)
    if hf is not None and args.bandwidth not in hf.config.target_bandwidths:
        notes.append(f"naive baseline skipped: transformers EnCodec has no {args.bandwidth} kbps "
                     f"(has {hf.config.target_bandwidths})")
        hf = None
    if hf is not None:
        if hf.config.sampling_rate != sr or math.prod(hf.config.upsampling_ratios) != hop:
            notes.append("the naive baseline is the 24 kHz transformers architecture, which differs from --model")
        notes.append("naive baseline: random-weight transformers EncodecModel with its weight-norm parametrisations, "
                     "as from_pretrained loads it")

    wav = speechlike(args.seconds, sr, seed=0)[None, None]
    batch_wav = torch.stack([speechlike(args.batch_seconds, sr, seed=s) for s in range(BATCH_STREAMS)])[:, None]
    naive_seconds = max(args.naive_seconds, 2 * max(NAIVE_CHUNKS) / 24000)
    naive_wav = speechlike(naive_seconds, 24000, seed=0)[None, None]
    if wav.shape[-1] < 4 * hop or batch_wav.shape[-1] < hop:
        sys.exit(f"error: --seconds must cover a {4 * hop}-sample push and --batch-seconds a {hop}-sample frame")

    print(f"streamcodec streaming speed: model {args.model} ({model.name}, {sr} Hz, hop {hop} = "
          f"{1e3 * hop / sr:.2f} ms/frame), {args.bandwidth:g} kbps = {model.num_codebooks} codebooks")
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {platform.platform()}, "
          f"oneDNN {'on' if torch.backends.mkldnn.enabled else 'OFF'}")
    print(f"signal: {args.seconds:g} s (batched: {BATCH_STREAMS} x {args.batch_seconds:g} s, "
          f"naive: {naive_seconds:g} s), "
          f"medians of {args.repeats}, {args.warmup} warm-up pushes; RT = real time, higher is better")
    probe = ForeignLoad()
    probe.start()
    time.sleep(1.0)
    foreign = probe.stop()
    if foreign is not None and foreign > FOREIGN_LOAD_WARN:
        note = (f"other processes kept {foreign:.2f} of {os.cpu_count()} CPUs busy just before the start: "
                "figures may be low and noisy (multi-thread ones worst)")
        notes.append(note)
        print(f"warning: {note}")
    print(flush=True)

    results: dict[int, dict[str, Any]] = {}
    sanity: dict[str, Any] | None = None
    cap = args.max_measure_seconds
    for n in args.threads:
        torch.set_num_threads(n)
        if os.cpu_count() and n > os.cpu_count():
            notes.append(f"{n} threads on {os.cpu_count()} CPUs: oversubscribed")
        res: dict[str, Any] = {"torch_num_threads": torch.get_num_threads(), "load_average_before": load_average()}
        t_block = time.perf_counter()
        probe.start()

        def step(label: str, fn: Callable[[], Any]) -> Any:
            t0 = time.perf_counter()
            print(f"  [{n} thread{'s' if n != 1 else ''}] {label} ...", end="", flush=True)
            value = fn()
            print(f" {time.perf_counter() - t0:.1f} s", end="")
            if value.get("truncated"):
                note = (f"{n} thread(s), {label}: stopped after {cap:g} s ({value['audio_seconds']:.2f} s of audio "
                        "per stream) - the machine is slower or busier than expected")
                notes.append(note)
                print(" (truncated)", end="")
            print(flush=True)
            return value

        reps, warm = args.repeats, args.warmup
        res["offline"] = step("offline", lambda: measure_offline(model, wav, reps, cap))
        keep = sanity is None
        one = step("stream 1-frame", lambda: measure_streaming(model, wav, hop, reps, warm, cap, keep_outputs=keep))
        if sanity is None:
            sanity = sanity_check(model, wav, one)
            if not sanity["ok"]:
                notes.append(f"SANITY: streaming differs from offline constant-pad coding: {sanity}")
            one.pop("_codes", None)
            one.pop("_audio", None)
        res["stream_1frame"] = one
        res["stream_1frame_eager"] = step(
            "stream 1-frame eager", lambda: measure_streaming(model, wav, hop, reps, warm, cap, traced=False)
        )
        res["stream_4frame"] = step(
            "stream 4-frame", lambda: measure_streaming(model, wav, 4 * hop, reps, max(1, warm // 4), cap)
        )
        res["batched"] = step(
            f"batched {BATCH_STREAMS}", lambda: measure_streaming(model, batch_wav, hop, reps, warm, cap)
        )
        offline_rtf = res["offline"]["combined_rtf"]
        for key in ("stream_1frame", "stream_4frame"):
            res[key]["ratio_to_offline"] = res[key]["combined_rtf"] / offline_rtf
        if hf is not None:
            for chunk in NAIVE_CHUNKS:
                res[f"naive_{chunk}"] = step(
                    f"naive HF {chunk}",
                    lambda chunk=chunk: measure_naive(
                        hf, naive_wav, chunk, args.bandwidth, reps, max(2, warm // 5), cap
                    ),
                )
            res["speedup_vs_naive_320"] = res["stream_1frame"]["combined_rtf"] / res["naive_320"]["combined_rtf"]
        res["load_average_after"] = load_average()
        res["foreign_cpu_load_cores"] = probe.stop()
        if res["foreign_cpu_load_cores"] is not None and res["foreign_cpu_load_cores"] > FOREIGN_LOAD_WARN:
            notes.append(f"{n} thread(s): other processes used {res['foreign_cpu_load_cores']:.2f} CPUs on average "
                         "during this block; its figures are not trustworthy, rerun on an idle machine")
        res["block_seconds"] = time.perf_counter() - t_block
        results[n] = res

    targets = evaluate_targets(results, args.threads)
    print()
    print(format_table(results, args.threads, targets))
    print()
    if sanity is not None:
        print(
            "sanity: streaming vs offline (constant padding) code agreement "
            f"{sanity['stream_vs_offline_code_agreement']:.4f}, "
            f"decode max |diff| {sanity['stream_vs_offline_decode_max_abs_diff']:.2e}"
        )
    loads = ", ".join(
        f"{n}t {results[n]['foreign_cpu_load_cores']:.2f}" for n in args.threads
        if results[n]["foreign_cpu_load_cores"] is not None
    )
    if loads:
        print(f"CPUs used by other processes during each thread block: {loads} (of {os.cpu_count()})")
    for note in notes:
        print(f"note: {note}")

    total = time.perf_counter() - started
    report = {
        "benchmark": "streaming_speed",
        "schema_version": 1,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "parameters": {
            "model": args.model,
            "model_name": model.name,
            "sample_rate": sr,
            "hop_length": hop,
            "bandwidth_kbps": args.bandwidth,
            "num_codebooks": model.num_codebooks,
            "threads": args.threads,
            "interop_threads": torch.get_num_interop_threads(),
            "seconds": args.seconds,
            "signal_samples": wav.shape[-1],
            "batch_streams": BATCH_STREAMS,
            "batch_seconds": args.batch_seconds,
            "naive_seconds": naive_seconds,
            "naive_chunks": list(NAIVE_CHUNKS) if hf is not None else [],
            "repeats": args.repeats,
            "warmup_pushes": args.warmup,
            "quick": args.quick,
            "mkldnn_enabled": torch.backends.mkldnn.enabled,
            "foreign_cpu_load_at_start_cores": foreign,
            "signal": "speechlike (tests/synthetic.py), seed 0; batched streams seeds 0..7",
        },
        "results": results,
        "targets": targets,
        "sanity": sanity,
        "notes": notes,
        "total_seconds": total,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_jsonable(report), indent=2) + "\n")
    print(f"wrote {args.json} ({total:.0f} s in all)")
    failed = [t["name"] for t in targets if t["passed"] is False]
    return 1 if args.check and failed else 0


if __name__ == "__main__":
    sys.exit(main())
