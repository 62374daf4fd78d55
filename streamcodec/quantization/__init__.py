"""Residual vector quantization and code bit-packing."""

from .bitpacking import bits_per_code, pack_codes, packed_size, unpack_codes
from .vq import EuclideanCodebook, QuantizedResult, ResidualVectorQuantizer

__all__ = [
    "EuclideanCodebook",
    "QuantizedResult",
    "ResidualVectorQuantizer",
    "bits_per_code",
    "pack_codes",
    "packed_size",
    "unpack_codes",
]
