"""streamcodec: a real-time streaming neural audio codec (causal EnCodec with stateful convolutions)."""

from .models import CompressionModel, EncodecConfig, EncodecModel
from .pretrained import load_model, save_model
from .streaming import StreamingDecoder, StreamingEncoder

__version__ = "0.1.0"

__all__ = [
    "CompressionModel",
    "EncodecConfig",
    "EncodecModel",
    "StreamingDecoder",
    "StreamingEncoder",
    "load_model",
    "save_model",
]
