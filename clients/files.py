"""``send FILE`` and ``receive OUT.wav`` over a ``/link/ROOM`` server.

``send`` encodes a file frame by frame and sends it paced in real time (as a microphone would),
or with ``fast`` as quickly as the room's slowest receiver keeps up (marker round trips report
the room's backlog). ``receive`` follows the first sender it hears, decodes through the jitter
buffer, and writes the WAV as it goes: it always leaves a complete, playable file, whether the
sender said bye, the link stayed idle, or the user pressed Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from pathlib import Path

import soundfile
import torch

from streamcodec.audio import read_audio
from streamcodec.jitter import FrameAccounting, StreamReceiver
from streamcodec.protocol import Bye, CodePacket

from .link import IncomingStream, LinkSession

FAST_MAX_BACKLOG = 16  # packets a receiver may have queued at the server before a fast send waits
FAST_SYNC_EVERY = 8  # packets between backlog probes of a fast send


@dataclasses.dataclass
class SendReport:
    frames: int
    packets: int
    bytes_sent: int
    seconds: float


async def send_file(
    path: str | Path, server: str, room: str, model, codebooks: int, frames_per_packet: int = 1, fast: bool = False
) -> SendReport:
    """Stream ``path`` into ``room``; returns what was sent."""
    wav = read_audio(path, sample_rate=model.sample_rate, channels=model.channels)[0][None]  # [1, C, T]
    session = await LinkSession.join(server, room, model, codebooks)
    reader = asyncio.create_task(_drain(session))
    encoder = model.streaming_encoder()
    encoder.set_num_codebooks(codebooks)
    chunk = frames_per_packet * model.hop_length
    started = time.time()
    try:
        for start in range(0, wav.shape[-1], chunk):
            end = min(start + chunk, wav.shape[-1])
            if not fast:  # the chunk's last sample is "captured" at its place in real time
                await asyncio.sleep(max(0.0, started + end / model.sample_rate - time.time()))
            codes = encoder.push(wav[..., start:end])
            if end == wav.shape[-1]:
                codes = torch.cat([codes, encoder.flush()], dim=-1)
            if codes.shape[-1]:
                first = encoder.frames - codes.shape[-1]
                await session.send_codes(codes[0].numpy(), first, started + (first + 1) / model.frame_rate)
            if fast and session.seq % FAST_SYNC_EVERY == 0:
                while (await session.sync()).values.get("room_backlog", 0) > FAST_MAX_BACKLOG:
                    await asyncio.sleep(0.01)
        await session.sync()  # everything relayed before the bye
        await session.bye(encoder.frames, "end of file")
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await session.close()
    return SendReport(encoder.frames, session.seq, session.bytes_sent, time.time() - started)


async def _drain(session: LinkSession) -> None:
    """Read what the room sends to a sender (markers, stats, others' packets) and drop it."""
    async for _ in session.messages():
        pass


@dataclasses.dataclass
class ReceiveReport:
    frames_written: int
    counts: FrameAccounting
    missing_packets: int
    ended_by: str  # "bye", "idle" or "cancelled"


async def receive_file(
    path: str | Path, server: str, room: str, model, codebooks: int, idle_timeout_s: float = 30.0
) -> ReceiveReport:
    """Write the first stream heard in ``room`` to the WAV ``path`` until bye, idle or cancel."""
    session = await LinkSession.join(server, room, model, codebooks)
    receiver = StreamReceiver(model, conceal_overdue=False)
    stream = IncomingStream()
    written, ended_by = 0, "idle"
    with soundfile.SoundFile(path, "w", model.sample_rate, model.channels, "PCM_16") as out:

        def write(frames) -> None:
            nonlocal written
            for item in frames:
                out.write(item.audio.T)
                written += 1
            out.flush()  # the header is updated: the file is playable at every moment

        # A file is not played out in real time: frames are written as soon as they decode, and
        # only frames known lost (sequence gaps, or missing before the bye) are concealed.
        messages = session.messages().__aiter__()
        try:
            while True:
                try:
                    message = await asyncio.wait_for(messages.__anext__(), idle_timeout_s)
                except asyncio.TimeoutError:
                    break
                except StopAsyncIteration:
                    ended_by = "closed"
                    break
                if not isinstance(message, (CodePacket, Bye)) or not stream.accept(message):
                    continue
                if isinstance(message, Bye):
                    write(receiver.finish(message.frames))
                    ended_by = "bye"
                    break
                write(receiver.receive(0, message.first_frame, message.unpack(model.cardinality), in_order=True))
        except asyncio.CancelledError:
            ended_by = "cancelled"
        finally:
            await session.close()
    return ReceiveReport(written, receiver.counts()[0], stream.missing_packets, ended_by)

