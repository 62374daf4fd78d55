"""The /codec endpoint over real loopback websockets: PCM in -> codes out, codes in -> PCM out."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.app import LinkServer, link_format_of, start_server
from server.codec import float_to_pcm, pcm_to_float
from streamcodec.protocol import (
    SUBPROTOCOL,
    Accept,
    Bye,
    CloseCode,
    CodePacket,
    Error,
    Marker,
    Pcm,
    Stats,
    decode_message,
    encode_message,
)
from clients.link import hello_for

CODEBOOKS = 6


@pytest.fixture
async def codec_server(small_model):
    app = LinkServer(link_format_of(small_model), model=small_model)
    server = await start_server(app, "127.0.0.1", 0)
    yield app, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


async def open_codec(url: str, model, codebooks: int = CODEBOOKS):
    connection = await connect(f"{url}/codec", subprotocols=[SUBPROTOCOL], compression=None)
    await connection.send(encode_message(hello_for(model, codebooks)))
    accept = decode_message(await connection.recv())
    assert isinstance(accept, Accept) and accept.codebooks == codebooks
    return connection


async def receive(connection):
    return decode_message(await asyncio.wait_for(connection.recv(), 10))


def pcm_signal(speech: np.ndarray) -> np.ndarray:
    """The test signal as the 16-bit samples a client would send, back as floats."""
    return pcm_to_float(float_to_pcm(speech))


async def test_pcm_in_gives_the_offline_codes_out(codec_server, small_model, speech_5s):
    app, url = codec_server
    audio = pcm_signal(speech_5s[0, 0, :24000 + 123].numpy())  # not a whole number of frames
    connection = await open_codec(url, small_model)
    sizes = [1, 319, 320, 641, 4000]
    start, seq = 0, 0
    while start < audio.size:
        size = sizes[seq % len(sizes)]
        chunk = audio[start : start + size]
        await connection.send(encode_message(Pcm(seq, start, float_to_pcm(chunk), 10.0 + (start + chunk.size) / 24000)))
        start, seq = start + chunk.size, seq + 1
    await connection.send(encode_message(Bye()))
    packets = []
    while True:
        message = await receive(connection)
        if isinstance(message, Bye):
            break
        packets.append(message)
    assert [p.seq for p in packets] == list(range(len(packets)))
    assert [p.first_frame for p in packets] == list(np.cumsum([0] + [p.frames for p in packets[:-1]]))
    codes = np.concatenate([p.unpack(small_model.cardinality) for p in packets], axis=1)
    expected, _ = small_model.encode(audio[None, None], pad_mode="constant")
    assert message.frames == codes.shape[1] == expected.shape[-1] == 76  # the last partial frame is flushed
    np.testing.assert_array_equal(codes, expected[0, :CODEBOOKS].numpy())
    # capture_time: when the last sample of each packet's first frame was captured.
    first = packets[1]
    assert first.capture_time == pytest.approx(10.0 + (first.first_frame + 1) * 320 / 24000)
    assert app.codec_stats.frames_encoded == 76


async def test_codes_in_give_the_offline_decode_out(codec_server, small_model, speech_5s):
    app, url = codec_server
    codes, _ = small_model.encode(speech_5s[..., :12000], pad_mode="constant")
    codes = codes[0, :4].numpy()  # fewer codebooks than the session's: the decoder takes any count
    connection = await open_codec(url, small_model)
    first, seq, pieces = 0, 0, []
    for count in (1, 3, 2, 10, 22):  # 38 frames
        packet = CodePacket.from_codes(codes[:, first : first + count], 1024, seq=seq, first_frame=first, capture_time=1.0)
        await connection.send(encode_message(packet))
        reply = await receive(connection)
        assert isinstance(reply, Pcm) and (reply.seq, reply.first_sample) == (seq, first * 320)
        pieces.append(pcm_to_float(reply.samples))
        first, seq = first + count, seq + 1
    expected = small_model.decode(codes[None], pad_mode="constant")[0, 0].numpy()
    np.testing.assert_allclose(np.concatenate(pieces), expected, atol=1.5 / 32768)
    await connection.send(encode_message(Marker(7)))
    assert await receive(connection) == Marker(7)
    stats = await receive(connection)
    assert isinstance(stats, Stats) and stats.values["frames_decoded"] == 38

    http = url.replace("ws://", "http://")
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(http + "/metrics", timeout=5).read().decode())
    assert "streamcodec_codec_sessions 1\n" in text and "streamcodec_codec_frames_decoded_total 38\n" in text
    assert 'streamcodec_codec_decode_seconds_bucket{le="+Inf"} 5\n' in text


@pytest.mark.parametrize(
    "make_message, close_code",
    [
        pytest.param(lambda: Pcm(0, 320, b"\0\0", 0.0), CloseCode.INVALID_PAYLOAD, id="pcm-gap"),
        pytest.param(lambda: Pcm(1, 0, b"\0\0", 0.0), CloseCode.INVALID_PAYLOAD, id="pcm-seq"),
        pytest.param(
            lambda: CodePacket.from_codes(np.zeros((2, 1), int), 1024, seq=0, first_frame=3, capture_time=0.0),
            CloseCode.INVALID_PAYLOAD,
            id="codes-gap",
        ),
        pytest.param(lambda: Accept(1, "x", "m", 24000, 75.0, 2, 1024), CloseCode.POLICY, id="not-allowed"),
    ],
)
async def test_a_defect_ends_that_session_only(codec_server, small_model, make_message, close_code):
    _, url = codec_server
    bystander, culprit = await open_codec(url, small_model), await open_codec(url, small_model)
    await culprit.send(encode_message(make_message()))
    error = await receive(culprit)
    assert isinstance(error, Error) and error.code == close_code
    with pytest.raises(ConnectionClosed):
        await culprit.recv()
    assert culprit.close_code == close_code
    await bystander.send(encode_message(Pcm(0, 0, float_to_pcm(np.zeros(320, np.float32)), 0.0)))
    assert isinstance(await receive(bystander), CodePacket)


async def test_without_a_model_there_is_no_codec_route(small_model):
    app = LinkServer(link_format_of(small_model))
    server = await start_server(app, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(urllib.error.HTTPError) as missing:
            await asyncio.to_thread(urllib.request.urlopen, f"http://127.0.0.1:{port}/codec", None, 5)
        assert missing.value.code == 404
    finally:
        server.close()
        await server.wait_closed()
