"""The latency harness end to end: server, send and receive children, the JSON it writes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from clients.latency import LatencyConfig, run_latency
from streamcodec import save_model

REQUIRED = ("p50_ms", "p95_ms", "p99_ms", "max_ms", "frames_sent", "frames_lost", "wire_bytes_per_s", "nominal_bytes_per_s")


@pytest.fixture(scope="module")
def model_dir(small_model, tmp_path_factory):
    return str(save_model(small_model, tmp_path_factory.mktemp("model") / "model"))


@pytest.mark.parametrize("codec, frames_per_packet", [("batched", 2), ("replicated", 1)])
def test_every_frame_is_timed_or_counted_lost(model_dir, codec, frames_per_packet):
    report = run_latency(LatencyConfig(model_dir, streams=2, seconds=2.0, codebooks=4,
                                       frames_per_packet=frames_per_packet, codec=codec))
    assert report["frames_sent"] == 2 * 150
    assert len(report["latencies_ms"]) + report["frames_lost"] == report["frames_sent"]
    assert report["frames_lost"] <= 0.1 * report["frames_sent"]
    # Capture to playout includes at least the packet's own buffering, and stays far from a second.
    assert (frames_per_packet - 1) * 13.3 * 0.5 < report["p50_ms"] < 1000
    stages = report["breakdown"]
    assert set(stages) == {"buffering", "encode", "network", "decode", "jitter"}
    assert sum(stage["p50_ms"] for stage in stages.values()) == pytest.approx(report["p50_ms"], rel=0.5)
    assert report["nominal_bytes_per_s"] == pytest.approx(4 * 10 * 75 / 8)  # 4 codebooks of 10 bits
    assert report["wire_bytes_per_s"] > report["nominal_bytes_per_s"]


def test_latency_command_writes_json_and_plot(model_dir, tmp_path):
    out, png = tmp_path / "latency.json", tmp_path / "latency.png"
    result = subprocess.run(
        [sys.executable, "-m", "streamcodec", "latency", "--model", model_dir, "--seconds", "1.5", "--bandwidth", "3",
         "--json", str(out), "--plot", str(png)],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    assert "| total |" in result.stdout
    report = json.loads(out.read_text())
    assert all(key in report for key in REQUIRED) and report["frames_sent"] == 112
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
