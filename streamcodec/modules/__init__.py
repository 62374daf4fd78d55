"""Streaming building blocks: one explicit state protocol for every layer."""

from .conv import StreamingConv1d, StreamingConvTranspose1d, pad1d
from .lstm import StreamingLSTM
from .seanet import SEANetConfig, SEANetDecoder, SEANetEncoder, SEANetResnetBlock
from .streaming import StreamingModule, StreamingSequential, StreamingState

__all__ = [
    "SEANetConfig",
    "SEANetDecoder",
    "SEANetEncoder",
    "SEANetResnetBlock",
    "StreamingConv1d",
    "StreamingConvTranspose1d",
    "StreamingLSTM",
    "StreamingModule",
    "StreamingSequential",
    "StreamingState",
    "pad1d",
]
