"""send -> server -> receive over loopback equals the offline decode at the receiver's codebooks."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from clients.files import receive_file, send_file
from clients.link import IncomingStream, LinkError, LinkSession
from server.app import LinkServer, link_format_of, start_server
from streamcodec import save_model
from streamcodec.protocol import Bye, CodePacket


@pytest.fixture
async def server_url(small_model):
    app = LinkServer(link_format_of(small_model), model=small_model)
    server = await start_server(app, "127.0.0.1", 0)
    yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


@pytest.fixture
def clip(tmp_path, speech_5s):
    path = tmp_path / "in.wav"
    soundfile.write(path, speech_5s[0, 0, : 24000 + 200].numpy(), 24000, subtype="FLOAT")
    return path


@pytest.mark.parametrize("frames_per_packet, fast", [(1, True), (3, True), (1, False)], ids=["1-frame-fast", "3-frame-fast", "1-frame-realtime"])
async def test_send_to_receive_equals_the_offline_decode(server_url, small_model, clip, tmp_path, frames_per_packet, fast):
    out = tmp_path / "out.wav"
    receiving = asyncio.create_task(receive_file(out, server_url, "r", small_model, 3, idle_timeout_s=10))
    await asyncio.sleep(0.3)  # the receiver joins first
    sent = await send_file(clip, server_url, "r", small_model, 6, frames_per_packet=frames_per_packet, fast=fast)
    report = await asyncio.wait_for(receiving, 30)
    assert report.ended_by == "bye" and sent.frames == 76  # 1.0083 s: 75 whole frames + the flushed one
    assert report.frames_written == 76 and report.missing_packets == 0
    counts = report.counts
    assert (counts.decoded, counts.concealed, counts.late, counts.duplicate) == (76, 0, 0, 0)
    got, rate = soundfile.read(out, dtype="float32")
    assert rate == 24000 and got.size == 76 * 320
    wav = soundfile.read(clip, dtype="float32")[0]
    codes, _ = small_model.encode(wav[None, None], pad_mode="constant")
    expected = small_model.decode(codes[:, :3], pad_mode="constant")[0, 0].numpy()  # the receiver asked for 3 codebooks
    np.testing.assert_allclose(got, np.clip(expected, -1, 32767 / 32768), atol=1.01 / 32768)


async def test_lost_packets_are_counted_and_concealed(server_url, small_model, tmp_path, speech_5s):
    out = tmp_path / "out.wav"
    receiving = asyncio.create_task(receive_file(out, server_url, "r", small_model, 8, idle_timeout_s=10))
    await asyncio.sleep(0.3)
    sender = await LinkSession.join(server_url, "r", small_model, 8)
    codes, _ = small_model.encode(speech_5s[..., :3200], pad_mode="constant")  # 10 frames
    for frame in range(10):
        if frame in (3, 4, 7):
            sender.seq += 1  # as if the relay had dropped the packet
            continue
        await sender.send_codes(codes[0, :, frame : frame + 1].numpy(), frame, 0.0)
    await sender.bye(12)  # two frames at the end never sent either
    report = await asyncio.wait_for(receiving, 10)
    await sender.close()
    assert report.missing_packets == 3 and report.frames_written == 12
    assert (report.counts.decoded, report.counts.concealed) == (7, 5)


def test_incoming_stream_follows_one_sender_and_checks_sequence_numbers():
    def packet(seq, first, source="a"):
        return CodePacket(seq, first, 1, 2, 0.0, b"\0\0\0", source=source)

    stream = IncomingStream()
    assert stream.accept(packet(0, 0)) and not stream.accept(packet(0, 0, source="b"))
    assert stream.accept(packet(2, 4))  # packet 1 (frames 2, 3) missing
    assert (stream.missing_packets, stream.missing_frames) == (1, 2)
    with pytest.raises(LinkError, match="repeated sequence number 2"):
        stream.accept(packet(2, 4))
    assert stream.accept(Bye(frames=6, source="a")) and stream.ended and stream.total_frames == 6


async def test_joining_a_server_that_is_not_there_is_a_clear_error(small_model):
    with pytest.raises(LinkError, match="cannot connect.*streamcodec serve"):
        await LinkSession.join("ws://127.0.0.1:9", "r", small_model, 8)


async def test_receive_that_hears_nothing_leaves_an_empty_playable_wav(server_url, small_model, tmp_path):
    out = tmp_path / "silence.wav"
    report = await receive_file(out, server_url, "quiet", small_model, 8, idle_timeout_s=0.3)
    assert report.ended_by == "idle" and report.frames_written == 0
    info = soundfile.info(out)
    assert (info.samplerate, info.frames) == (24000, 0)


async def test_a_cancelled_receive_leaves_a_complete_wav(server_url, small_model, clip, tmp_path):
    out = tmp_path / "cut.wav"
    receiving = asyncio.create_task(receive_file(out, server_url, "r", small_model, 8, idle_timeout_s=10))
    await asyncio.sleep(0.3)
    sending = asyncio.create_task(send_file(clip, server_url, "r", small_model, 8))  # real time: ~1 s
    await asyncio.sleep(0.5)
    receiving.cancel()
    report = await receiving
    sending.cancel()
    assert report.ended_by == "cancelled" and 10 < report.frames_written < 76
    got, _ = soundfile.read(out)
    assert got.size == report.frames_written * 320  # every frame written is in the file's header


def test_send_and_receive_commands_through_a_serve_child(small_model, clip, tmp_path):
    save_model(small_model, tmp_path / "model")
    model = str(tmp_path / "model")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamcodec", "serve", "--port", "0", "--model", model, "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        url = server.stdout.readline().split(" on ")[1].split()[0]
        out = tmp_path / "cli.wav"
        receiver = subprocess.Popen(
            [sys.executable, "-m", "streamcodec", "receive", str(out), "--server", url, "--model", model, "--codebooks", "2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        import time

        time.sleep(3.0)  # the receiver child loads torch and joins
        sent = subprocess.run(
            [sys.executable, "-m", "streamcodec", "send", str(clip), "--server", url, "--model", model, "--fast", "--bandwidth", "6"],
            capture_output=True, text=True, timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
        assert "sent 76 frames" in sent.stdout
        stdout, stderr = receiver.communicate(timeout=60)
        assert receiver.returncode == 0, stderr
        assert "wrote 76 frames" in stdout and "76 decoded, 0 concealed" in stdout
        assert soundfile.info(out).frames == 76 * 320
    finally:
        server.kill()
        server.wait()
