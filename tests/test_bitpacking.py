"""Tests of dense bit-packing of integer codes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from streamcodec.quantization.bitpacking import (
    bits_per_code,
    pack_codes,
    packed_size,
    unpack_codes,
)


@pytest.mark.parametrize(
    ("cardinality", "bits"),
    [
        pytest.param(2, 1, id="2"),
        pytest.param(3, 2, id="3"),
        pytest.param(4, 2, id="4"),
        pytest.param(5, 3, id="5"),
        pytest.param(1023, 10, id="1023"),
        pytest.param(1024, 10, id="1024"),
        pytest.param(1025, 11, id="1025"),
        pytest.param(2048, 11, id="2048"),
        pytest.param(2**32, 32, id="2**32"),
    ],
)
def test_bits_per_code(cardinality: int, bits: int) -> None:
    assert bits_per_code(cardinality) == bits


@pytest.mark.parametrize("cardinality", [pytest.param(1, id="1"), pytest.param(0, id="0")])
def test_bits_per_code_rejects_tiny_cardinality(cardinality: int) -> None:
    with pytest.raises(ValueError, match="cardinality"):
        bits_per_code(cardinality)


@pytest.mark.parametrize("bits", [pytest.param(b, id=f"{b}bits") for b in range(1, 17)])
@pytest.mark.parametrize("count", [pytest.param(n, id=f"n{n}") for n in (0, 1, 7, 8, 9, 1001)])
def test_round_trip(bits: int, count: int) -> None:
    rng = np.random.default_rng(1000 * bits + count)
    codes = rng.integers(0, 2**bits, size=count)
    if count:
        codes[0] = 2**bits - 1  # the largest code must survive
    data = pack_codes(codes, bits)
    assert len(data) == math.ceil(count * bits / 8) == packed_size(count, bits)
    out = unpack_codes(data, bits, count)
    assert out.dtype == np.int64
    assert out.shape == (count,)
    np.testing.assert_array_equal(out, codes)


@pytest.mark.parametrize(
    "cardinality", [pytest.param(1024, id="1024"), pytest.param(2048, id="2048")]
)
def test_round_trip_codebook_shaped(cardinality: int) -> None:
    bits = bits_per_code(cardinality)
    codes = torch.randint(0, cardinality, (8, 75), generator=torch.Generator().manual_seed(0))
    data = pack_codes(codes, bits)
    assert len(data) == math.ceil(8 * 75 * bits / 8)
    out = unpack_codes(data, bits, codes.numel())
    np.testing.assert_array_equal(out.reshape(8, 75), codes.numpy())


def test_round_trip_32_bits() -> None:
    codes = np.array([0, 1, 2**31, 2**32 - 1], dtype=np.uint64)
    np.testing.assert_array_equal(unpack_codes(pack_codes(codes, 32), 32, 4), codes)


@pytest.mark.parametrize(
    ("codes", "bits", "expected"),
    [
        pytest.param([1, 0, 1], 1, b"\x05", id="1bit"),
        pytest.param([1, 3], 2, b"\x0d", id="2bits"),
        pytest.param([1023, 1], 10, b"\xff\x07\x00", id="10bits"),
        pytest.param([0x1234], 16, b"\x34\x12", id="16bits"),
    ],
)
def test_bit_layout_is_little_endian(codes: list[int], bits: int, expected: bytes) -> None:
    assert pack_codes(np.array(codes), bits) == expected


def test_flattens_in_c_order() -> None:
    codes = np.arange(6).reshape(2, 3)
    assert pack_codes(codes, 4) == pack_codes(np.arange(6), 4)
    assert pack_codes(codes.T, 4) == pack_codes(np.array([0, 3, 1, 4, 2, 5]), 4)


@pytest.mark.parametrize(
    ("codes", "bits"),
    [
        pytest.param([0, 4], 2, id="too-large"),
        pytest.param([1024], 10, id="cardinality-1024-in-10-bits"),
        pytest.param([-1, 0], 8, id="negative"),
    ],
)
def test_out_of_range_codes_raise(codes: list[int], bits: int) -> None:
    with pytest.raises(ValueError, match=r"must lie in \[0, "):
        pack_codes(np.array(codes), bits)


def test_float_codes_raise() -> None:
    with pytest.raises(ValueError, match="integer dtype"):
        pack_codes(np.array([1.0, 2.0]), 4)


@pytest.mark.parametrize("bits", [pytest.param(0, id="0"), pytest.param(33, id="33")])
def test_bad_bits_raise(bits: int) -> None:
    with pytest.raises(ValueError, match="bits must be in 1..32"):
        pack_codes(np.array([0]), bits)
    with pytest.raises(ValueError, match="bits must be in 1..32"):
        unpack_codes(b"\x00", bits, 1)


@pytest.mark.parametrize(
    ("count", "bits", "given"),
    [
        pytest.param(3, 10, 3, id="one-byte-short"),
        pytest.param(1, 1, 0, id="empty"),
        pytest.param(100, 11, 100, id="much-too-short"),
    ],
)
def test_truncated_data_raises(count: int, bits: int, given: int) -> None:
    expected = packed_size(count, bits)
    with pytest.raises(ValueError, match=f"need {expected} bytes, got {given}"):
        unpack_codes(bytes(given), bits, count)


@pytest.mark.parametrize(
    ("count", "bits", "size"),
    [
        pytest.param(0, 10, 0, id="empty"),
        pytest.param(1, 1, 1, id="1x1"),
        pytest.param(8, 1, 1, id="8x1"),
        pytest.param(9, 1, 2, id="9x1"),
        pytest.param(4, 10, 5, id="4x10"),
        pytest.param(5, 11, 7, id="5x11"),
    ],
)
def test_packed_size(count: int, bits: int, size: int) -> None:
    assert packed_size(count, bits) == size
