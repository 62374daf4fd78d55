"""Residual vector quantization and code bit-packing."""

from .vq import EuclideanCodebook, QuantizedResult, ResidualVectorQuantizer

__all__ = ["EuclideanCodebook", "QuantizedResult", "ResidualVectorQuantizer"]
