"""The link server over real loopback websockets: relay, per-receiver codebooks, misbehaviour."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import urllib.request

import msgpack
import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.app import LinkServer, start_server
from server.relay import LinkFormat, Relay
from streamcodec.protocol import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    SUBPROTOCOL,
    Accept,
    Bye,
    CloseCode,
    CodePacket,
    Error,
    Hello,
    Marker,
    Ping,
    Pong,
    SetCodebooks,
    Stats,
    decode_message,
    encode_message,
)
from streamcodec.quantization.bitpacking import pack_codes

FORMAT = LinkFormat(model="default", sample_rate=24000, frame_rate=75.0, cardinality=1024, max_codebooks=32)


def hello(codebooks: int = 8, **changes) -> Hello:
    fields = dict(version=PROTOCOL_VERSION, model="default", sample_rate=24000, frame_rate=75.0, codebooks=codebooks, cardinality=1024)
    fields.update(changes)
    return Hello(**fields)


def packet(seq: int, codebooks: int = 8, frames: int = 1) -> CodePacket:
    codes = np.random.default_rng(seq).integers(0, 1024, (codebooks, frames))
    return CodePacket.from_codes(codes, 1024, seq=seq, first_frame=seq * frames, capture_time=100.0 + seq)


@pytest.fixture
async def link():
    app = LinkServer(FORMAT, max_room_peers=4)
    server = await start_server(app, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield app, f"ws://127.0.0.1:{port}"
    server.close()
    await server.wait_closed()


async def join(url: str, room: str = "r", codebooks: int = 8) -> ClientConnection:
    connection = await connect(f"{url}/link/{room}", subprotocols=[SUBPROTOCOL], compression=None)
    await connection.send(encode_message(hello(codebooks)))
    accept = decode_message(await connection.recv())
    assert isinstance(accept, Accept) and accept.codebooks == codebooks
    return connection


async def receive(connection: ClientConnection):
    return decode_message(await asyncio.wait_for(connection.recv(), 5))


async def test_packets_reach_each_receiver_at_its_codebook_count(link):
    _, url = link
    sender, full, narrow = await join(url, codebooks=8), await join(url, codebooks=8), await join(url, codebooks=2)
    assert sender.subprotocol == SUBPROTOCOL
    sent = [packet(seq) for seq in range(5)]
    sent[1] = dataclasses.replace(sent[1], stamps={"sent": 1.0})
    for item in sent:
        await sender.send(encode_message(item))
    for item in sent:
        got_full, got_narrow = await receive(full), await receive(narrow)
        np.testing.assert_array_equal(got_full.unpack(1024), item.unpack(1024))
        np.testing.assert_array_equal(got_narrow.unpack(1024), item.unpack(1024)[:2])
        assert (got_narrow.seq, got_narrow.first_frame, got_narrow.capture_time) == (item.seq, item.first_frame, item.capture_time)
        assert ("relayed" in got_narrow.stamps) == bool(item.stamps)  # only stamped packets get the relay's stamp
        assert got_full.source == got_narrow.source != ""
    await narrow.send(encode_message(SetCodebooks(4)))
    await narrow.send(encode_message(Marker(1)))  # once echoed, the new count is in force
    assert await receive(narrow) == Marker(1)
    assert isinstance(await receive(narrow), Stats)
    await sender.send(encode_message(packet(5)))
    assert (await receive(narrow)).codebooks == 4
    await full.recv()
    await sender.send(encode_message(Bye("done", frames=6)))
    byes = [await receive(full), await receive(narrow)]
    assert all(bye.reason == "done" and bye.frames == 6 and bye.source == got_full.source for bye in byes)
    await sender.wait_closed()
    assert sender.close_code == CloseCode.NORMAL


async def test_ping_is_answered_with_the_servers_clock(link):
    _, url = link
    client = await join(url)
    await client.send(encode_message(Ping(3, 1.0)))
    pong = await receive(client)
    assert isinstance(pong, Pong) and (pong.id, pong.sent) == (3, 1.0) and pong.replied >= pong.received > 1.0


def raw(**fields) -> bytes:
    return msgpack.packb(fields, use_bin_type=True)


MISBEHAVIOUR = [
    pytest.param([b"\xc1"], CloseCode.PROTOCOL_ERROR, id="not-msgpack-hello"),
    pytest.param([encode_message(packet(0))], CloseCode.POLICY, id="codes-before-hello"),
    pytest.param([encode_message(hello(version=2))], CloseCode.VERSION_MISMATCH, id="unknown-version"),
    pytest.param([encode_message(hello(sample_rate=16000))], CloseCode.FORMAT_MISMATCH, id="other-sample-rate"),
    pytest.param([encode_message(hello(codebooks=33))], CloseCode.BAD_HELLO, id="too-many-codebooks-hello"),
    pytest.param([encode_message(hello()), raw(type="ping", id="x", sent=1.0)], CloseCode.PROTOCOL_ERROR, id="wrong-types"),
    pytest.param([encode_message(hello()), "text"], CloseCode.UNSUPPORTED_DATA, id="text"),
    pytest.param([encode_message(hello()), encode_message(hello())], CloseCode.POLICY, id="second-hello"),
    pytest.param(
        [encode_message(hello()), encode_message(CodePacket(0, 0, 1, 1, 0.0, pack_codes(np.array([1023]), 10)[:1]))],
        CloseCode.INVALID_PAYLOAD,
        id="short-codes",
    ),
    pytest.param([encode_message(hello()), encode_message(packet(0, codebooks=33))], CloseCode.INVALID_PAYLOAD, id="wrong-codebook-count"),
    pytest.param([encode_message(hello()), encode_message(SetCodebooks(40))], CloseCode.INVALID_PAYLOAD, id="set-too-many"),
    pytest.param([encode_message(hello()), b"\x00" * (MAX_MESSAGE_BYTES + 10)], CloseCode.TOO_BIG, id="oversized"),
]


@pytest.mark.parametrize("messages, code", MISBEHAVIOUR)
async def test_misbehaviour_closes_that_session_alone(link, messages, code):
    app, url = link
    sender, listener = await join(url), await join(url)
    culprit = await connect(f"{url}/link/r", compression=None, max_size=None)
    for data in messages:
        await culprit.send(data)
    error = None
    with contextlib.suppress(ConnectionClosed):
        while True:  # skip the accept, if any, up to the error
            message = decode_message(await culprit.recv())
            if isinstance(message, Error):
                error = message
    await culprit.wait_closed()
    assert error is not None and error.code == code and error.message
    assert culprit.close_code == code
    assert app.errors[int(code)] == 1
    await sender.send(encode_message(packet(1)))  # the others carry on
    assert (await receive(listener)).seq == 1


async def test_full_room_is_refused_as_retryable(link):
    _, url = link
    members = [await join(url, room="small") for _ in range(4)]
    extra = await connect(f"{url}/link/small")
    await extra.send(encode_message(hello()))
    error = decode_message(await extra.recv())
    assert isinstance(error, Error) and error.code == CloseCode.TRY_AGAIN_LATER and error.retryable
    await members[0].send(encode_message(packet(0)))
    assert (await receive(members[1])).seq == 0


async def test_health_and_metrics(link):
    app, url = link
    sender, receiver = await join(url), await join(url)
    await sender.send(encode_message(packet(0, frames=2)))
    await receive(receiver)
    http = url.replace("ws://", "http://")

    def get(path: str) -> tuple[int, str]:
        with urllib.request.urlopen(http + path, timeout=5) as response:
            return response.status, response.read().decode()

    assert await asyncio.to_thread(get, "/health") == (200, "ok\n")
    status, text = await asyncio.to_thread(get, "/metrics")
    assert status == 200
    assert "streamcodec_sessions 2\n" in text and "streamcodec_frames_relayed_total 2\n" in text
    with pytest.raises(urllib.error.HTTPError) as missing:
        await asyncio.to_thread(get, "/nowhere")
    assert missing.value.code == 404


async def test_a_slow_receiver_loses_its_oldest_packets_and_nobody_waits():
    relay = Relay(FORMAT)
    sender, slow = relay.join("r", 8), relay.join("r", 8, outbox_packets=4)
    for seq in range(10):
        relay.relay(sender, packet(seq))
    kept = [decode_message(slow.outbox.get_nowait()[0]).seq for _ in range(slow.outbox.qsize())]
    assert kept == [6, 7, 8, 9]
    assert slow.counters.dropped_packets == relay.packets_dropped == 6
    assert sender.outbox.empty()


def test_serve_command_starts_a_server_for_a_model(small_model, tmp_path):
    import subprocess
    import sys

    from streamcodec import save_model

    save_model(small_model, tmp_path / "model")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamcodec", "serve", "--port", "0", "--model", str(tmp_path / "model")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        assert banner.startswith("streamcodec server on ws://127.0.0.1:"), banner + process.stderr.read()
        address = banner.split()[3]
        with urllib.request.urlopen(address.replace("ws://", "http://") + "/health", timeout=10) as response:
            assert response.read() == b"ok\n"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_command_explains_a_missing_model(tmp_path):
    from streamcodec.cli import main

    assert main(["serve", "--port", "0", "--model", str(tmp_path / "absent")]) == 2
