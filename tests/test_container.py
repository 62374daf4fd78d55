"""Tests of the ``.sc`` codes container."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streamcodec.container import CodesFile, load_codes, save_codes
from streamcodec.quantization.bitpacking import packed_size, unpack_codes


def make_codes_file(
    num_codebooks: int = 8,
    num_frames: int = 75,
    cardinality: int = 1024,
    scale: float | None = None,
) -> CodesFile:
    """A valid 24 kHz codes file with random codes ``[num_codebooks, num_frames]``."""
    rng = np.random.default_rng(num_codebooks * 1000 + num_frames)
    return CodesFile(
        model="encodec_24khz",
        sample_rate=24000,
        channels=1,
        hop_length=320,
        cardinality=cardinality,
        num_samples=max(0, num_frames * 320 - 17),
        codes=rng.integers(0, cardinality, size=(num_codebooks, num_frames)),
        scale=scale,
    )


def to_bytes(codes_file: CodesFile) -> bytes:
    """The ``.sc`` encoding of ``codes_file``."""
    buffer = io.BytesIO()
    save_codes(buffer, codes_file)
    return buffer.getvalue()


def with_header(header: dict[str, Any] | bytes, payload: bytes = b"", version: int = 1) -> bytes:
    """A file with the given raw or JSON header and payload."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return b"SCDC" + struct.pack("<BI", version, len(raw)) + raw + payload


def header_of(data: bytes) -> dict[str, Any]:
    """The decoded JSON header of an encoded file."""
    (length,) = struct.unpack_from("<I", data, 5)
    return json.loads(data[9 : 9 + length])


@pytest.mark.parametrize(
    "codes_file",
    [
        pytest.param(make_codes_file(), id="k8-1024"),
        pytest.param(make_codes_file(scale=0.731), id="with-scale"),
        pytest.param(make_codes_file(num_codebooks=32, cardinality=2048), id="k32-2048"),
        pytest.param(make_codes_file(num_codebooks=3, num_frames=1, cardinality=3), id="one-frame"),
        pytest.param(make_codes_file(num_frames=0), id="no-frames"),
    ],
)
def test_round_trip_in_memory(codes_file: CodesFile) -> None:
    buffer = io.BytesIO(to_bytes(codes_file))
    loaded = load_codes(buffer)
    assert loaded == codes_file
    assert loaded.codes.dtype == np.int64
    assert loaded.codes.shape == codes_file.codes.shape
    assert loaded.scale == codes_file.scale


def test_round_trip_file(tmp_path: Path) -> None:
    codes_file = make_codes_file(scale=1.5)
    path = tmp_path / "speech.sc"
    save_codes(path, codes_file)
    assert load_codes(path) == codes_file
    assert load_codes(str(path)) == codes_file
    with path.open("rb") as f:
        assert load_codes(f) == codes_file


def test_layout() -> None:
    codes_file = make_codes_file(num_codebooks=4, num_frames=10)
    data = to_bytes(codes_file)
    assert data[:4] == b"SCDC"
    assert data[4] == 1
    (length,) = struct.unpack_from("<I", data, 5)
    header = json.loads(data[9 : 9 + length].decode("utf-8"))
    assert header == {
        "model": "encodec_24khz",
        "sample_rate": 24000,
        "channels": 1,
        "hop_length": 320,
        "cardinality": 1024,
        "num_samples": 10 * 320 - 17,
        "scale": None,
        "num_codebooks": 4,
        "num_frames": 10,
        "bits": 10,
    }
    payload = data[9 + length :]
    assert len(payload) == packed_size(4 * 10, 10) == 50
    # Frame-major: frame 0's four codes, then frame 1's, ...
    frames = unpack_codes(payload, 10, 40).reshape(10, 4)
    np.testing.assert_array_equal(frames, codes_file.codes.T)


def test_properties() -> None:
    codes_file = make_codes_file(num_codebooks=8, num_frames=75)
    assert codes_file.num_codebooks == 8
    assert codes_file.num_frames == 75
    assert codes_file.frame_rate == 75.0
    assert codes_file.bandwidth_kbps == pytest.approx(6.0)  # 8 codebooks * 10 bits * 75 Hz
    assert codes_file.duration == pytest.approx((75 * 320 - 17) / 24000)


def test_codes_are_a_read_only_copy() -> None:
    source = np.zeros((2, 3), dtype=np.int32)
    codes_file = CodesFile("m", 24000, 1, 320, 1024, 3 * 320, source)
    source[0, 0] = 5
    assert codes_file.codes[0, 0] == 0
    assert codes_file.codes.dtype == np.int64
    with pytest.raises(ValueError):
        codes_file.codes[0, 0] = 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"codes": np.zeros(5, dtype=np.int64)}, "2-D integer", id="1d-codes"),
        pytest.param({"codes": np.zeros((2, 5))}, "2-D integer", id="float-codes"),
        pytest.param(
            {"codes": np.zeros((0, 5), dtype=np.int64)}, "at least one", id="no-codebooks"
        ),
        pytest.param({"codes": np.full((2, 5), 1024)}, r"\[0, 1024\)", id="code-too-large"),
        pytest.param({"codes": np.full((2, 5), -1)}, r"\[0, 1024\)", id="negative-code"),
        pytest.param({"num_samples": 5 * 320 + 1}, r"\[1281, 1600\]", id="too-many-samples"),
        pytest.param({"num_samples": 4 * 320}, r"\[1281, 1600\]", id="too-few-samples"),
        pytest.param({"codes": np.zeros((2, 0), dtype=np.int64)}, "must be 0", id="no-frames"),
        pytest.param({"cardinality": 1}, "at least 2", id="cardinality"),
        pytest.param({"hop_length": 0}, "hop_length must be positive", id="hop"),
        pytest.param({"sample_rate": 24000.0}, "must be an integer", id="float-rate"),
        pytest.param({"model": ""}, "model", id="empty-model"),
        pytest.param({"scale": float("nan")}, "finite", id="nan-scale"),
    ],
)
def test_invalid_codes_file_raises(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "model": "m",
        "sample_rate": 24000,
        "channels": 1,
        "hop_length": 320,
        "cardinality": 1024,
        "num_samples": 5 * 320,
        "codes": np.zeros((2, 5), dtype=np.int64),
        **changes,
    }
    with pytest.raises(ValueError, match=message):
        CodesFile(**fields)


GOOD = to_bytes(make_codes_file(num_codebooks=2, num_frames=3))
GOOD_HEADER = header_of(GOOD)
GOOD_PAYLOAD = GOOD[9 + struct.unpack_from("<I", GOOD, 5)[0] :]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"", "not a streamcodec codes file", id="empty"),
        pytest.param(b"RIFF" + GOOD[4:], "not a streamcodec codes file", id="wrong-magic"),
        pytest.param(GOOD[:7], "truncated file", id="truncated-preamble"),
        pytest.param(
            with_header(GOOD_HEADER, GOOD_PAYLOAD, version=2),
            "unsupported codes file version 2",
            id="version",
        ),
        pytest.param(GOOD[:20], "truncated header", id="truncated-header"),
        pytest.param(with_header(b"{not json", GOOD_PAYLOAD), "malformed JSON", id="bad-json"),
        pytest.param(with_header(b"\xff\xfe", GOOD_PAYLOAD), "malformed JSON", id="bad-utf8"),
        pytest.param(with_header(b"[1, 2]", GOOD_PAYLOAD), "expected an object", id="json-list"),
        pytest.param(
            with_header({k: v for k, v in GOOD_HEADER.items() if k != "hop_length"}, GOOD_PAYLOAD),
            "missing fields: hop_length",
            id="missing-field",
        ),
        pytest.param(
            with_header({**GOOD_HEADER, "num_frames": "3"}, GOOD_PAYLOAD),
            "'num_frames' must be a non-negative integer",
            id="string-field",
        ),
        pytest.param(
            with_header({**GOOD_HEADER, "bits": 16}, GOOD_PAYLOAD),
            "'bits' is 16 but cardinality 1024 needs 10",
            id="bits-mismatch",
        ),
        pytest.param(
            with_header({**GOOD_HEADER, "num_samples": 10**6}, GOOD_PAYLOAD),
            "invalid codes file: num_samples",
            id="inconsistent-num-samples",
        ),
        pytest.param(GOOD[:-1], "truncated codes payload: expected 8 bytes, got 7", id="truncated"),
        pytest.param(GOOD + b"\x00", "1 bytes of trailing garbage", id="trailing-garbage"),
    ],
)
def test_corrupt_file_raises(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_codes(io.BytesIO(data))


def test_corrupt_file_error_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.sc"
    path.write_bytes(GOOD[:-1])
    with pytest.raises(ValueError, match="broken.sc: truncated codes payload"):
        load_codes(path)
