"""End-to-end latency scenarios through a server over loopback (``streamcodec latency``), one table.

    python benchmarks/latency.py                       # all scenarios, 20 s each
    python benchmarks/latency.py --seconds 5 --only 1x1 16x1

Without ``--model`` it measures the bundled default model's architecture (16 filters) with random
weights, saved to a temporary directory: latency depends on the architecture, not the weights,
and it runs whether or not trained weights are bundled. Each scenario is one harness run
(server, send side and receive side in separate processes); the JSON of each goes to
``benchmarks/results/latency-<scenario>.json`` and the summary table to stdout and
``benchmarks/results/latency.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clients.latency import LatencyConfig, run_latency, write_json  # noqa: E402
from streamcodec.pretrained import save_model  # noqa: E402
from streamcodec.train.trainer import TrainConfig, build_model  # noqa: E402
from tests.synthetic import fill_codebooks  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
# name -> (streams, frames per packet, codec)
SCENARIOS = {
    "1x1": (1, 1, "batched"),
    "1x2": (1, 2, "batched"),
    "1x4": (1, 4, "batched"),
    "4x1-replicated": (4, 1, "replicated"),
    "4x1": (4, 1, "batched"),
    "16x1": (16, 1, "batched"),
    "16x2": (16, 2, "batched"),
}


def default_architecture(directory: Path) -> str:
    torch.manual_seed(0)
    model = build_model(TrainConfig.n_filters).eval().requires_grad_(False)
    fill_codebooks([layer.embed for layer in model.quantizer.layers])
    return str(save_model(model, directory / "default-architecture"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model to measure (default: the default architecture, random weights)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--codebooks", type=int, default=8, help="8 = 6 kbps")
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), help="scenarios to run")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        model = args.model or default_architecture(Path(scratch))
        for name in args.only or SCENARIOS:
            streams, frames, codec = SCENARIOS[name]
            report = run_latency(LatencyConfig(model, streams, args.seconds, args.codebooks, frames, codec))
            write_json(report, RESULTS / f"latency-{name}.json")
            stages = {stage: round(values["p50_ms"], 1) for stage, values in report["breakdown"].items()}
            rows.append({"scenario": name, **{k: report[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "frames_sent",
                         "frames_lost", "wire_bytes_per_s", "wire_bytes_per_s_with_tcpip", "nominal_bytes_per_s",
                         "message_bytes")}, "stage_p50_ms": stages})
            print(f"{name}: p50 {report['p50_ms']:.1f} p99 {report['p99_ms']:.1f} lost {report['frames_lost']}", file=sys.stderr)
    print("| scenario | p50 ms | p95 ms | p99 ms | max ms | frames lost | message B | wire B/s | + TCP/IP B/s | nominal B/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scenario']} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | "
              f"{r['frames_lost']} of {r['frames_sent']} | {r['message_bytes']:.0f} | {r['wire_bytes_per_s']:.0f} | "
              f"{r['wire_bytes_per_s_with_tcpip']:.0f} | {r['nominal_bytes_per_s']:.0f} |")
    print("\nstage medians (ms):")
    for r in rows:
        print(f"  {r['scenario']}: {r['stage_p50_ms']}")
    (RESULTS / "latency.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
