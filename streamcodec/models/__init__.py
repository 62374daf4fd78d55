"""Compression models."""

from .base import CompressionModel
from .encodec import EncodecConfig, EncodecModel

__all__ = ["CompressionModel", "EncodecConfig", "EncodecModel"]
