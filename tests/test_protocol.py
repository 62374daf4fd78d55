"""The wire format: every message round-trips, every defect is refused with its close code."""

from __future__ import annotations

import math

import msgpack
import numpy as np
import pytest

from streamcodec.protocol import (
    MAX_FRAMES_PER_PACKET,
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    Accept,
    Bye,
    CloseCode,
    CodePacket,
    Error,
    Hello,
    Marker,
    Pcm,
    Ping,
    Pong,
    ProtocolError,
    SetCodebooks,
    Stats,
    StreamFormat,
    check_hello,
    decode_message,
    encode_message,
)
from streamcodec.quantization.bitpacking import pack_codes

HELLO = Hello(version=PROTOCOL_VERSION, model="default", sample_rate=24000, frame_rate=75.0, codebooks=8, cardinality=1024)


def packet(codebooks: int = 8, frames: int = 2, cardinality: int = 1024, seed: int = 0) -> CodePacket:
    codes = np.random.default_rng(seed).integers(0, cardinality, (codebooks, frames))
    return CodePacket.from_codes(codes, cardinality, seq=3, first_frame=40, capture_time=1.7e9 + 0.25)


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(HELLO, id="hello"),
        pytest.param(Accept(1, "s-1", "default", 24000, 75.0, 4, 1024), id="accept"),
        pytest.param(packet(), id="codes"),
        pytest.param(
            CodePacket.from_codes(np.zeros((2, 1), dtype=np.int64), 1024, seq=0, first_frame=0, capture_time=0.0, stamps={"encoded": 1.5}),
            id="codes-with-stamps",
        ),
        pytest.param(SetCodebooks(2), id="set_codebooks"),
        pytest.param(Pcm(seq=1, first_sample=320, samples=b"\x01\x00\xff\x7f", capture_time=2.0), id="pcm"),
        pytest.param(Ping(7, 12.5), id="ping"),
        pytest.param(Pong(7, 12.5, 13.0, 13.25), id="pong"),
        pytest.param(Marker(9), id="marker"),
        pytest.param(Stats({"frames_relayed": 10.0, "drops": 0.0}), id="stats"),
        pytest.param(Error(4001, "version 2 is not supported", False), id="error"),
        pytest.param(Bye("end of file"), id="bye"),
    ],
)
def test_every_message_round_trips(message):
    assert decode_message(encode_message(message)) == message


@pytest.mark.parametrize("codebooks, frames", [(1, 1), (8, 1), (8, 4), (32, 3)])
def test_codes_are_packed_frame_by_frame(codebooks, frames):
    codes = np.random.default_rng(1).integers(0, 1024, (codebooks, frames))
    sent = CodePacket.from_codes(codes, 1024, seq=0, first_frame=0, capture_time=0.0)
    assert sent.codes == pack_codes(codes.T.copy(), 10)  # all codebooks of frame 0, then frame 1, ...
    assert len(sent.codes) == math.ceil(codebooks * frames * 10 / 8)
    np.testing.assert_array_equal(decode_message(encode_message(sent)).unpack(1024), codes)


def test_truncation_keeps_the_leading_codebooks():
    full = packet(codebooks=8, frames=3)
    kept = full.truncated(3, 1024)
    assert (kept.codebooks, kept.frames, kept.seq, kept.first_frame) == (3, 3, full.seq, full.first_frame)
    np.testing.assert_array_equal(kept.unpack(1024), full.unpack(1024)[:3])
    assert full.truncated(8, 1024) is full


def test_code_packet_overhead_stays_small():
    sizes = {frames: len(encode_message(packet(codebooks=8, frames=frames))) - 10 * frames for frames in (1, 2, 4)}
    assert all(overhead <= 50 for overhead in sizes.values()), sizes


def test_from_codes_refuses_codes_outside_the_codebook():
    with pytest.raises(ValueError, match="lie in"):
        CodePacket.from_codes(np.array([[1024]]), 1024, seq=0, first_frame=0, capture_time=0.0)


def raw(**fields) -> bytes:
    return msgpack.packb(fields, use_bin_type=True)


def hello_fields(**changes):
    fields = {"type": "hello", "version": 1, "model": "default", "sample_rate": 24000, "frame_rate": 75.0, "codebooks": 8, "cardinality": 1024}
    fields.update(changes)
    return fields


@pytest.mark.parametrize(
    "data, code, words",
    [
        pytest.param(b"\xc1", CloseCode.PROTOCOL_ERROR, "not one msgpack value", id="not-msgpack"),
        pytest.param(b"\x92\x01", CloseCode.PROTOCOL_ERROR, "not one msgpack value", id="truncated"),
        pytest.param(raw(type="bye") + b"\x00", CloseCode.PROTOCOL_ERROR, "not one msgpack value", id="trailing-bytes"),
        pytest.param(msgpack.packb([1, 2]), CloseCode.PROTOCOL_ERROR, "must be a msgpack map", id="not-a-map"),
        pytest.param(raw(kind="hello"), CloseCode.PROTOCOL_ERROR, "no 'type'", id="no-type"),
        pytest.param(raw(type="subscribe"), CloseCode.PROTOCOL_ERROR, "unknown message type", id="unknown-type"),
        pytest.param(raw(**hello_fields(extra=1)), CloseCode.PROTOCOL_ERROR, "unknown fields", id="unknown-field"),
        pytest.param(raw(type="hello", version=1), CloseCode.PROTOCOL_ERROR, "lacks field", id="missing-field"),
        pytest.param(raw(**hello_fields(version="1")), CloseCode.PROTOCOL_ERROR, "must be an integer", id="str-for-int"),
        pytest.param(raw(**hello_fields(codebooks=True)), CloseCode.PROTOCOL_ERROR, "must be an integer", id="bool-for-int"),
        pytest.param(raw(**hello_fields(frame_rate=float("nan"))), CloseCode.PROTOCOL_ERROR, "finite number", id="nan"),
        pytest.param(raw(**hello_fields(model=b"default")), CloseCode.PROTOCOL_ERROR, "must be a string", id="bin-for-str"),
        pytest.param(raw(**hello_fields(model="m" * 300)), CloseCode.PROTOCOL_ERROR, "must be a string", id="long-str"),
        pytest.param(raw(**hello_fields(sample_rate=0)), CloseCode.PROTOCOL_ERROR, "must be positive", id="zero-rate"),
        pytest.param(raw(type="codes", s=0, f=0, k=1, n=1, t=0.0, c="x"), CloseCode.PROTOCOL_ERROR, "msgpack bin", id="str-for-bin"),
        pytest.param(raw(type="codes", s=-1, f=0, k=1, n=1, t=0.0, c=b"\x00\x00"), CloseCode.PROTOCOL_ERROR, "non-negative", id="negative-seq"),
        pytest.param(
            raw(type="codes", s=0, f=0, k=1, n=MAX_FRAMES_PER_PACKET + 1, t=0.0, c=b""), CloseCode.PROTOCOL_ERROR, "frames must be", id="too-many-frames"
        ),
        pytest.param(raw(type="codes", s=0, f=0, k=1, n=1, t=0.0, c=b"\x00\x00", ts=[1]), CloseCode.PROTOCOL_ERROR, "map of at most", id="stamps-not-map"),
        pytest.param(raw(type="pcm", seq=0, first_sample=0, samples=b"\x00", capture_time=0.0), CloseCode.PROTOCOL_ERROR, "whole 16-bit", id="odd-pcm"),
        pytest.param(raw(type="error", code=1002, message="x", retryable=1), CloseCode.PROTOCOL_ERROR, "true or false", id="int-for-bool"),
        pytest.param("{\"type\": \"hello\"}", CloseCode.UNSUPPORTED_DATA, "not text", id="text-message"),
        pytest.param(b"\x00" * (MAX_MESSAGE_BYTES + 1), CloseCode.TOO_BIG, "exceeds", id="oversized"),
    ],
)
def test_malformed_messages_are_refused_with_their_close_code(data, code, words):
    with pytest.raises(ProtocolError, match=words) as caught:
        decode_message(data)
    assert caught.value.code == code
    error = caught.value.to_message()
    assert decode_message(encode_message(error)) == error and error.code == int(code)


FORMAT = StreamFormat(cardinality=1000, max_codebooks=8)


def test_stream_format_accepts_a_conforming_packet():
    sent = packet(codebooks=8, frames=2, cardinality=1000)
    FORMAT.check_packet(decode_message(encode_message(sent)))  # raises on any defect


@pytest.mark.parametrize(
    "bad, words",
    [
        pytest.param(CodePacket(0, 0, 9, 1, 0.0, bytes(12)), "9 codebooks", id="too-many-codebooks"),
        pytest.param(CodePacket(0, 0, 2, 2, 0.0, bytes(4)), "take 5", id="short-codes"),
        pytest.param(CodePacket(0, 0, 2, 1, 0.0, bytes(4)), "take 3", id="long-codes"),
        pytest.param(CodePacket(0, 0, 1, 1, 0.0, pack_codes(np.array([1010]), 10)), "outside", id="code-out-of-range"),
    ],
)
def test_stream_format_refuses_packets_that_break_it(bad, words):
    with pytest.raises(ProtocolError, match=words) as caught:
        FORMAT.check_packet(decode_message(encode_message(bad)))
    assert caught.value.code == CloseCode.INVALID_PAYLOAD


def test_a_session_must_open_with_a_hello_of_this_version():
    assert check_hello(HELLO) is HELLO
    with pytest.raises(ProtocolError, match="first message must be a hello") as caught:
        check_hello(packet())
    assert caught.value.code == CloseCode.POLICY
    with pytest.raises(ProtocolError, match="version 2") as caught:
        check_hello(Hello(2, "default", 24000, 75.0, 8, 1024))
    assert caught.value.code == CloseCode.VERSION_MISMATCH
