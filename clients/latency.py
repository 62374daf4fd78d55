"""Latency harness: N streams through a server over loopback, every frame timed from capture to playout.

The send side and the receive side each run in a child process (as two peers would), and a
server child is started unless ``server`` is given. The send side plays a microphone: the last
sample of frame ``f`` is "captured" at ``t0 + (f + 1) * frame_duration``; it encodes each packet
as soon as its last frame is captured and sends it. The receive side decodes through the jitter
buffer (:class:`streamcodec.jitter.StreamReceiver`); a frame's audio is ready for playout at
its scheduled slot. Both sides share this machine's clock (``time.time``), so for each frame:

    total      = playout - capture
    buffering  = encode start - capture      (waiting for the packet's later frames)
    encode     = encode end - encode start
    network    = arrival - encode end        (send, relay, receive, websocket framing)
    decode     = decode end - decode start
    jitter     = (decode start - arrival) + (playout - decode end)

Sound-device buffers are not included. ``codec="batched"`` encodes (and decodes) all streams in
one batched session per side; ``"replicated"`` gives each stream its own session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import math
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from streamcodec.protocol import Bye, CodePacket, encode_message

STAGES = ("buffering", "encode", "network", "decode", "jitter")
START_MARGIN_S = 1.0  # between both sides being ready and the first capture


@dataclasses.dataclass(frozen=True)
class LatencyConfig:
    model: str = "default"
    streams: int = 1
    seconds: float = 10.0
    codebooks: int = 8
    frames_per_packet: int = 1
    codec: str = "batched"  # or "replicated"
    server: str | None = None  # ws://HOST:PORT; None starts a server child
    room: str = "latency"

    def __post_init__(self) -> None:
        if self.codec not in ("batched", "replicated"):
            raise ValueError(f"codec must be 'batched' or 'replicated', got {self.codec!r}")
        if self.streams < 1 or self.seconds <= 0 or self.frames_per_packet < 1:
            raise ValueError("streams and frames_per_packet must be >= 1 and seconds > 0")


def test_signal(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """A speech-like signal ``[T]``: a gliding harmonic tone under a syllable-rate envelope, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2
    return (0.1 * envelope * voiced + 0.005 * rng.standard_normal(t.size)).astype(np.float32)


def _warm_up(model, batch_size: int, codebooks: int, frames_per_packet: int) -> None:
    """Trace the codec's steps for this run's shapes before the clock starts (the first use of a
    shape traces it, which takes far longer than a frame)."""
    import torch

    encoder, decoder = model.streaming_encoder(batch_size), model.streaming_decoder(batch_size)
    encoder.set_num_codebooks(codebooks)
    for frames in sorted({1, frames_per_packet}):
        for _ in range(3):
            decoder.push(encoder.push(torch.zeros(batch_size, model.channels, frames * model.hop_length)))


def _prepare_child() -> Any:
    """Both sides: one torch thread (two sides and a server share the cores) and a quiet GC."""
    import torch

    torch.set_num_threads(1)
    gc.collect()
    gc.freeze()
    return torch


# Send side.


def _send_side(config: LatencyConfig, url: str, t0: float, results: Any) -> None:
    results.put(asyncio.run(_send(config, url, t0)))


async def _send(config: LatencyConfig, url: str, t0: float) -> dict[str, Any]:
    torch = _prepare_child()
    from streamcodec.pretrained import load_model

    from .link import LinkSession

    model = load_model(config.model)
    n = config.streams
    sessions = [await LinkSession.join(url, f"{config.room}-{i}", model, config.codebooks) for i in range(n)]
    _warm_up(model, n if config.codec == "batched" else 1, config.codebooks, config.frames_per_packet)
    encoders = [model.streaming_encoder(n)] if config.codec == "batched" else [model.streaming_encoder() for _ in range(n)]
    for encoder in encoders:
        encoder.set_num_codebooks(config.codebooks)
    signal = torch.from_numpy(np.stack([np.roll(test_signal(config.seconds, model.sample_rate), 997 * i) for i in range(n)]))
    hop, dt = model.hop_length, 1 / model.frame_rate
    frames = signal.shape[-1] // hop
    plain_bytes = 0  # the packets as a client sends them without the harness's stamps
    await asyncio.sleep(max(0.0, t0 - time.time()))
    for first in range(0, frames, config.frames_per_packet):
        count = min(config.frames_per_packet, frames - first)
        await asyncio.sleep(max(0.0, t0 + (first + count) * dt - time.time()))
        chunk = signal[:, None, first * hop : (first + count) * hop]
        capture = t0 + (first + 1) * dt
        if config.codec == "batched":
            encoding = time.time()
            codes = encoders[0].push(chunk).numpy()
            stamps = {"encoding": encoding, "encoded": time.time()}
            for stream, session in enumerate(sessions):
                await session.send_codes(codes[stream], first, capture, dict(stamps))
        else:
            for stream, (session, encoder) in enumerate(zip(sessions, encoders)):
                encoding = time.time()
                codes = encoder.push(chunk[stream : stream + 1]).numpy()
                await session.send_codes(codes[0], first, capture, {"encoding": encoding, "encoded": time.time()})
        plain = CodePacket.from_codes(codes[0], model.cardinality, seq=first, first_frame=first, capture_time=capture)
        plain_bytes += n * len(encode_message(plain))
    for session in sessions:
        await session.bye(frames)
    await asyncio.sleep(0.2)
    for session in sessions:
        await session.close()
    return {
        "side": "send",
        "frames_per_stream": frames,
        "packets": sum(session.seq for session in sessions),
        "bytes_with_stamps": sum(session.bytes_sent for session in sessions),
        "bytes": plain_bytes,
        "model": {"sample_rate": model.sample_rate, "frame_rate": model.frame_rate,
                  "bandwidth_kbps": model.bandwidth_for(config.codebooks)},
    }


# Receive side.


def _receive_side(config: LatencyConfig, url: str, ready: Any, results: Any) -> None:
    results.put(asyncio.run(_receive(config, url, ready)))


async def _receive(config: LatencyConfig, url: str, ready: Any) -> dict[str, Any]:
    _prepare_child()
    from streamcodec.jitter import StreamReceiver
    from streamcodec.pretrained import load_model

    from .link import LinkSession

    model = load_model(config.model)
    n = config.streams
    sessions = [await LinkSession.join(url, f"{config.room}-{i}", model, config.codebooks) for i in range(n)]
    _warm_up(model, n if config.codec == "batched" else 1, config.codebooks, config.frames_per_packet)
    if config.codec == "batched":
        receivers = [StreamReceiver(model, n, push_frames=config.frames_per_packet)]
        route = [(0, stream) for stream in range(n)]  # stream -> (receiver, its stream index)
    else:
        receivers = [StreamReceiver(model, push_frames=config.frames_per_packet) for _ in range(n)]
        route = [(stream, 0) for stream in range(n)]
    dt = 1 / model.frame_rate
    arrivals: dict[tuple[int, int], tuple[float, float, float, float]] = {}  # (stream, frame) -> times
    played: list[dict[str, Any]] = []
    totals: dict[int, int] = {}
    wake = asyncio.Event()

    def collect(receiver_index: int, frames) -> None:
        for item in frames:
            stream = receiver_index if config.codec == "replicated" else item.stream
            record = {"stream": stream, "frame": item.frame, "concealed": item.concealed}
            times = arrivals.pop((stream, item.frame), None)
            if times is not None and not item.concealed:
                capture, encoding, encoded, arrival = times
                record.update(
                    total=item.playout - capture, buffering=encoding - capture, encode=encoded - encoding,
                    network=arrival - encoded, decode=item.ready - item.decode_start,
                    jitter=(item.decode_start - arrival) + (item.playout - item.ready),
                )
            played.append(record)

    async def read(stream: int) -> None:
        receiver_index, index = route[stream]
        async for message in sessions[stream].messages():
            if isinstance(message, CodePacket):
                arrival = time.time()
                for offset in range(message.frames):
                    arrivals[(stream, message.first_frame + offset)] = (
                        message.capture_time + offset * dt, message.stamps["encoding"], message.stamps["encoded"], arrival
                    )
                codes = message.unpack(model.cardinality)
                collect(receiver_index, receivers[receiver_index].receive(index, message.first_frame, codes))
                wake.set()
            elif isinstance(message, Bye):
                totals[stream] = message.frames
                return

    async def conceal_due() -> None:
        while True:
            deadline = min(receiver.next_deadline() for receiver in receivers)
            wake.clear()
            if math.isfinite(deadline):
                timeout = max(0.0, deadline - time.time())
                try:
                    await asyncio.wait_for(wake.wait(), timeout)
                except asyncio.TimeoutError:
                    for index, receiver in enumerate(receivers):
                        collect(index, receiver.poll())
            else:
                await wake.wait()

    ready.set()
    poller = asyncio.create_task(conceal_due())
    await asyncio.gather(*(read(stream) for stream in range(n)))
    poller.cancel()
    for index, receiver in enumerate(receivers):
        collect(index, receiver.finish(max(totals.values(), default=0)))
    for session in sessions:
        await session.close()
    counts = [dataclasses.asdict(c) for receiver in receivers for c in receiver.counts()]
    return {"side": "receive", "played": played, "counts": counts, "totals": totals}


# The harness.


def start_server_child(model: str) -> tuple[subprocess.Popen, str]:
    """``streamcodec serve`` on a free loopback port; returns the process and its ws:// URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "streamcodec", "--threads", "1", "serve", "--port", "0", "--model", model, "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    banner = process.stdout.readline()
    if " on ws://" not in banner:
        process.kill()
        raise RuntimeError(f"the server child did not start: {banner}{process.stderr.read()}")
    return process, banner.split(" on ")[1].split()[0]


def run_latency(config: LatencyConfig) -> dict[str, Any]:
    """Run the harness; returns the report (``summarize``'s keys)."""
    server, url = (None, config.server) if config.server else start_server_child(config.model)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    ready = context.Event()
    try:
        receiver = context.Process(target=_receive_side, args=(config, url, ready, results), daemon=True)
        receiver.start()
        if not ready.wait(120):
            raise RuntimeError("the receive side did not join in 120 s")
        sender = context.Process(
            target=_send_side, args=(config, url, time.time() + START_MARGIN_S + 5.0, results), daemon=True
        )
        sender.start()
        timeout = config.seconds + 180
        sides = {}
        for _ in range(2):
            item = results.get(timeout=timeout)
            sides[item["side"]] = item
        sender.join(10)
        receiver.join(10)
    finally:
        if server is not None:
            server.kill()
            server.wait()
    return summarize(config, sides["send"], sides["receive"])


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50_ms": math.nan, "p95_ms": math.nan, "p99_ms": math.nan, "max_ms": math.nan}
    ms = np.asarray(values) * 1000
    return {f"p{q}_ms": float(np.percentile(ms, q)) for q in (50, 95, 99)} | {"max_ms": float(ms.max())}


def _ws_header_bytes(payload: int) -> int:
    """A client's websocket frame header: 2 bytes, 2 or 8 more for longer payloads, a 4-byte mask."""
    return 2 + (0 if payload < 126 else 2 if payload < 65536 else 8) + 4


def summarize(config: LatencyConfig, send: dict[str, Any], receive: dict[str, Any]) -> dict[str, Any]:
    played = [record for record in receive["played"] if "total" in record]
    frames_sent = send["frames_per_stream"] * config.streams
    stream_seconds = frames_sent / send["model"]["frame_rate"]
    packets = send["packets"]
    message_bytes = send["bytes"] / packets
    wire = (send["bytes"] + packets * _ws_header_bytes(round(message_bytes))) / stream_seconds
    counts = receive["counts"]
    return {
        **_percentiles([record["total"] for record in played]),
        "frames_sent": frames_sent,
        "frames_lost": frames_sent - len(played),
        "frames_late": sum(c["late"] for c in counts),
        "wire_bytes_per_s": wire,
        "wire_bytes_per_s_with_tcpip": wire + packets * 52 / stream_seconds,  # IPv4 + TCP with timestamps
        "nominal_bytes_per_s": send["model"]["bandwidth_kbps"] * 1000 / 8,
        "message_bytes": message_bytes,
        "breakdown": {stage: _percentiles([record[stage] for record in played]) for stage in STAGES},
        "config": dataclasses.asdict(config),
        "latencies_ms": [round(record["total"] * 1000, 3) for record in played],
    }


def format_table(report: dict[str, Any]) -> str:
    rows = [("total", report)] + list(report["breakdown"].items())
    lines = ["| stage | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|"]
    lines += [f"| {name} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} |" for name, r in rows]
    lines.append(
        f"\nframes sent {report['frames_sent']}, lost {report['frames_lost']} (late {report['frames_late']}); "
        f"wire {report['wire_bytes_per_s']:.0f} B/s per stream (+TCP/IP {report['wire_bytes_per_s_with_tcpip']:.0f}), "
        f"nominal {report['nominal_bytes_per_s']:.0f} B/s; {report['message_bytes']:.0f}-byte messages"
    )
    return "\n".join(lines)


def plot(report: dict[str, Any], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist(report["latencies_ms"], bins=60, color="tab:blue")
    for q, style in (("p50_ms", "--"), ("p99_ms", ":")):
        left.axvline(report[q], color="k", linestyle=style, label=f"{q[:3]} {report[q]:.1f} ms")
    left.set(xlabel="capture to playout (ms)", ylabel="frames", title="end-to-end latency per frame")
    left.legend()
    stages = list(report["breakdown"])
    right.bar(stages, [report["breakdown"][s]["p50_ms"] for s in stages], label="p50")
    right.bar(stages, [report["breakdown"][s]["p99_ms"] - report["breakdown"][s]["p50_ms"] for s in stages],
              bottom=[report["breakdown"][s]["p50_ms"] for s in stages], alpha=0.4, label="to p99")
    c = report["config"]
    right.set(ylabel="ms", title=f"{c['streams']} stream(s), {c['frames_per_packet']} frame(s)/packet, {c['codec']}")
    right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_json(report: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(report, indent=1))
