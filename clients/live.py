"""Live audio: ``talk`` (microphone -> server -> peer's speaker, full duplex) and ``loopback``
(microphone -> codec -> speaker in one process, to hear the codec at each bandwidth)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
import time

import torch

from streamcodec.jitter import StreamReceiver
from streamcodec.protocol import Bye, CodePacket

from .devices import Microphone, Speaker
from .link import IncomingStream, LinkSession


@dataclasses.dataclass
class LiveReport:
    captured_seconds: float = 0.0  # microphone audio delivered by the device
    frames_sent: int = 0
    frames_played: int = 0
    frames_concealed: int = 0
    speaker_underruns: int = 0
    bandwidths_kbps: list[float] = dataclasses.field(default_factory=list)


_last_status = [0.0]


def _status(line: str, quiet: bool, every_s: float = 0.25) -> None:
    """Rewrite the live stats line on stderr, at most every ``every_s`` (an empty line clears it)."""
    now = time.monotonic()
    if quiet or (line and now - _last_status[0] < every_s):
        return
    _last_status[0] = now
    print(f"\r{line}\033[K", end="" if line else "\r", file=sys.stderr, flush=True)


async def _run_for(seconds: float | None, *tasks: asyncio.Task) -> None:
    """Run ``tasks`` for ``seconds`` (forever if None), or until one ends; then cancel the others."""
    done, pending = await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in (*done, *pending):
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def loopback(
    model, codebooks: int, seconds: float | None = None, cycle_s: float | None = None,
    input_device=None, output_device=None, quiet: bool = False,
) -> LiveReport:
    """Microphone -> encoder -> decoder -> speaker; with ``cycle_s``, step through every bandwidth."""
    report = LiveReport()
    encoder, decoder = model.streaming_encoder(), model.streaming_decoder()
    counts = sorted({model.codebooks_for_bandwidth(kbps, clamp=True) for kbps in model.config.target_bandwidths})
    encoder.set_num_codebooks(codebooks)
    report.bandwidths_kbps.append(model.bandwidth_for(codebooks))
    with Microphone(model.sample_rate, input_device) as mic, Speaker(model.sample_rate, output_device) as speaker:

        async def run() -> None:
            started = switched = time.monotonic()
            while True:
                block, _ = await mic.blocks.get()
                report.captured_seconds += block.size / model.sample_rate
                codes = encoder.push(torch.from_numpy(block).view(1, 1, -1))
                audio = decoder.push(codes)
                if audio.shape[-1]:
                    speaker.play(audio[0, 0].numpy())
                    report.frames_sent += codes.shape[-1]
                    report.frames_played += codes.shape[-1]
                if cycle_s and time.monotonic() - switched >= cycle_s:
                    switched = time.monotonic()
                    encoder.set_num_codebooks(counts[(counts.index(encoder.num_codebooks) + 1) % len(counts)]
                                              if encoder.num_codebooks in counts else counts[0])
                    report.bandwidths_kbps.append(model.bandwidth_for(encoder.num_codebooks))
                _status(
                    f"loopback {model.bandwidth_for(encoder.num_codebooks):g} kbps | {report.frames_played} frames "
                    f"in {time.monotonic() - started:.1f} s | speaker buffer {speaker.buffered_s * 1000:.0f} ms, "
                    f"underruns {speaker.underruns}", quiet,
                )

        await _run_for(seconds, asyncio.create_task(run()))
        report.speaker_underruns = speaker.underruns
    _status("", quiet)
    return report


async def talk(
    server: str, room: str, model, codebooks: int, seconds: float | None = None,
    input_device=None, output_device=None, quiet: bool = False,
) -> LiveReport:
    """Full duplex: send the microphone into ``room``, play the first other peer heard."""
    report = LiveReport(bandwidths_kbps=[model.bandwidth_for(codebooks)])
    session = await LinkSession.join(server, room, model, codebooks)
    encoder = model.streaming_encoder()
    encoder.set_num_codebooks(codebooks)
    receiver = StreamReceiver(model)
    stream = IncomingStream()
    try:
        with Microphone(model.sample_rate, input_device) as mic, Speaker(model.sample_rate, output_device) as speaker:

            def play(frames) -> None:
                for item in frames:
                    speaker.play(item.audio[0])

            async def capture() -> None:
                while True:
                    block, _ = await mic.blocks.get()
                    report.captured_seconds += block.size / model.sample_rate
                    codes = encoder.push(torch.from_numpy(block).view(1, 1, -1))
                    if codes.shape[-1]:
                        first = encoder.frames - codes.shape[-1]
                        await session.send_codes(codes[0].numpy(), first, time.time())
                        report.frames_sent += codes.shape[-1]

            async def hear() -> None:
                async for message in session.messages():
                    if isinstance(message, (CodePacket, Bye)) and stream.accept(message):
                        if isinstance(message, Bye):
                            play(receiver.finish(message.frames))
                            return
                        play(receiver.receive(0, message.first_frame, message.unpack(model.cardinality), in_order=True))

            async def conceal_and_report() -> None:
                while True:
                    await asyncio.sleep(min(0.1, max(0.0, receiver.next_deadline() - time.time())))
                    play(receiver.poll())
                    counts = receiver.counts()[0]
                    _status(
                        f"talk {room} | sent {report.frames_sent} frames | heard {counts.decoded}, concealed "
                        f"{counts.concealed}, late {counts.late} | speaker buffer {speaker.buffered_s * 1000:.0f} ms, "
                        f"underruns {speaker.underruns}", quiet,
                    )

            await _run_for(seconds, *(asyncio.create_task(job()) for job in (capture, hear, conceal_and_report)))
            report.speaker_underruns = speaker.underruns
        counts = receiver.counts()[0]
        report.frames_played, report.frames_concealed = counts.decoded, counts.concealed
        await session.bye(encoder.frames)
    finally:
        await session.close()
        _status("", quiet)
    return report
