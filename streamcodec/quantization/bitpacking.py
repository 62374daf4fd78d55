"""Dense bit-packing of integer codes.

Each code takes exactly ``bits`` bits. Codes are laid out one after another in little-endian bit
order: bit ``j`` of code ``i`` is bit number ``i * bits + j`` of the stream, and stream bit ``n``
is bit ``n % 8`` (counting from the least significant) of byte ``n // 8``. The last byte is padded
with zero bits.

Example with ``bits=10``: the codes ``[1023, 1]`` pack to ``b"\\xff\\x07\\x00"``.
"""

from __future__ import annotations

import numpy as np
import torch

MAX_BITS = 32


def bits_per_code(cardinality: int) -> int:
    """Bits needed to store a code in ``[0, cardinality)``: ``ceil(log2(cardinality))``."""
    if cardinality < 2:
        raise ValueError(f"cardinality must be at least 2, got {cardinality}")
    return (cardinality - 1).bit_length()


def packed_size(count: int, bits: int) -> int:
    """Bytes taken by ``count`` codes of ``bits`` bits each: ``ceil(count * bits / 8)``."""
    _check_bits(bits)
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    return (count * bits + 7) // 8


def pack_codes(codes: np.ndarray | torch.Tensor, bits: int) -> bytes:
    """Pack integer ``codes`` (any shape, flattened in C order) into ``bits`` bits each.

    Raises ``ValueError`` if the codes are not integers or do not fit in ``[0, 2**bits)``.
    """
    _check_bits(bits)
    if isinstance(codes, torch.Tensor):
        codes = codes.detach().cpu().numpy()
    flat = np.asarray(codes).reshape(-1)
    if not np.issubdtype(flat.dtype, np.integer):
        raise ValueError(f"codes must have an integer dtype, got {flat.dtype}")
    if flat.size and (flat.min() < 0 or flat.max() >= 2**bits):
        raise ValueError(
            f"codes must lie in [0, {2**bits}) to fit in {bits} bits, "
            f"got values in [{flat.min()}, {flat.max()}]; use more bits"
        )
    # [N, 4] little-endian bytes -> [N, 32] bits (least significant first) -> keep the low `bits`.
    as_bytes = flat.astype("<u4").view(np.uint8).reshape(-1, 4)
    code_bits = np.unpackbits(as_bytes, axis=1, bitorder="little")[:, :bits]
    return np.packbits(code_bits.reshape(-1), bitorder="little").tobytes()


def unpack_codes(data: bytes, bits: int, count: int) -> np.ndarray:
    """Unpack ``count`` codes of ``bits`` bits from ``data``; returns int64 ``[count]``.

    Bytes past the first ``packed_size(count, bits)`` are ignored.
    """
    expected = packed_size(count, bits)
    if len(data) < expected:
        raise ValueError(
            f"packed data too short: {count} codes of {bits} bits need {expected} bytes, "
            f"got {len(data)}"
        )
    stream = np.frombuffer(data, dtype=np.uint8, count=expected)
    code_bits = np.unpackbits(stream, count=count * bits, bitorder="little").reshape(count, bits)
    padded = np.zeros((count, MAX_BITS), dtype=np.uint8)
    padded[:, :bits] = code_bits
    as_bytes = np.packbits(padded, axis=1, bitorder="little")
    return as_bytes.view("<u4").reshape(count).astype(np.int64)


def _check_bits(bits: int) -> None:
    if not 1 <= bits <= MAX_BITS:
        raise ValueError(f"bits must be in 1..{MAX_BITS}, got {bits}")
