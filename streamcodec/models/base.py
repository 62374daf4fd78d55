"""The interface every compression model offers, and the input checks they share."""

from __future__ import annotations

import abc
import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ..quantization.bitpacking import bits_per_code

if TYPE_CHECKING:
    from ..streaming import StreamingDecoder, StreamingEncoder


class CompressionModel(nn.Module, abc.ABC):
    """Waveform ``[B, C, T]`` <-> RVQ codes ``[B, K, F]`` at ``frame_rate`` frames per second."""

    sample_rate: int
    channels: int
    hop_length: int
    cardinality: int
    total_codebooks: int
    name: str

    def __init__(self) -> None:
        super().__init__()
        self._num_codebooks = 1

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def num_codebooks(self) -> int:
        """Codebooks used by ``encode`` and new streaming encoders."""
        return self._num_codebooks

    def set_num_codebooks(self, num_codebooks: int) -> None:
        self._num_codebooks = self.check_num_codebooks(num_codebooks)

    @property
    def bits_per_codebook(self) -> int:
        return bits_per_code(self.cardinality)

    @property
    def bandwidth(self) -> float:
        """Bitrate of the codes at the current codebook count, in kbps."""
        return self.bandwidth_for(self.num_codebooks)

    def bandwidth_for(self, num_codebooks: int) -> float:
        return num_codebooks * self.bits_per_codebook * self.frame_rate / 1000

    def codebooks_for_bandwidth(self, kbps: float, clamp: bool = False) -> int:
        """Largest codebook count whose bitrate does not exceed ``kbps`` (at least one).

        Above the model's top bitrate: an error, or all codebooks with ``clamp=True``.
        """
        if not math.isfinite(kbps) or kbps <= 0:
            raise ValueError(f"bandwidth must be a positive number of kbps, got {kbps}")
        count = max(1, math.floor(kbps / self.bandwidth_for(1) + 1e-9))
        if count <= self.total_codebooks:
            return count
        if clamp:
            return self.total_codebooks
        raise ValueError(
            f"{kbps} kbps needs {count} codebooks but {self.name} has {self.total_codebooks} "
            f"(at most {self.bandwidth_for(self.total_codebooks):g} kbps)"
        )

    def set_bandwidth(self, kbps: float) -> None:
        self.set_num_codebooks(self.codebooks_for_bandwidth(kbps))

    def check_num_codebooks(self, num_codebooks: int) -> int:
        if isinstance(num_codebooks, bool) or not isinstance(num_codebooks, (int, np.integer)):
            raise TypeError(f"num_codebooks must be an int, got {type(num_codebooks).__name__}")
        if not 1 <= num_codebooks <= self.total_codebooks:
            raise ValueError(
                f"num_codebooks must be between 1 and {self.total_codebooks} for {self.name}, got {num_codebooks}"
            )
        return int(num_codebooks)

    @abc.abstractmethod
    def encode(
        self, wav: torch.Tensor, sample_rate: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Waveform ``[B, C, T]`` -> (codes int64 ``[B, K, F]``, scale ``[B, 1]`` or None)."""

    @abc.abstractmethod
    def decode(self, codes: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """Codes ``[B, K, F]`` -> waveform ``[B, C, F * hop_length]``."""

    @abc.abstractmethod
    def decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``[B, K, F]`` -> quantized latent ``[B, D, F]``."""

    @abc.abstractmethod
    def streaming_encoder(self, batch_size: int = 1, traced: bool | None = None) -> StreamingEncoder:
        """A fresh streaming encoder session of ``batch_size`` independent streams."""

    @abc.abstractmethod
    def streaming_decoder(self, batch_size: int = 1, traced: bool | None = None) -> StreamingDecoder:
        """A fresh streaming decoder session of ``batch_size`` independent streams."""

    # Input checks shared by the offline and the streaming paths.

    def check_audio(
        self, wav: torch.Tensor | np.ndarray, batch_size: int | None = None, like: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Validate a waveform ``[B, C, T]``; return it as a float tensor on the model's device.

        ``like``: a parameter of the model, passed by callers that check often (saves a lookup).
        """
        if isinstance(wav, np.ndarray):
            wav = torch.from_numpy(wav)
        if not isinstance(wav, torch.Tensor):
            raise TypeError(f"audio must be a torch.Tensor or numpy array, got {type(wav).__name__}")
        if wav.dim() != 3:
            raise ValueError(
                f"audio must have shape [batch, channels, samples], got {tuple(wav.shape)}; "
                "add missing axes, e.g. wav[None, None] for a mono 1-d signal"
            )
        if batch_size is not None and wav.shape[0] != batch_size:
            raise ValueError(f"this session has {batch_size} streams but the audio has batch size {wav.shape[0]}")
        if wav.shape[1] != self.channels:
            raise ValueError(f"{self.name} takes {self.channels}-channel audio, got {wav.shape[1]} channels")
        if not wav.is_floating_point():
            raise ValueError(f"audio must be floating point samples in [-1, 1], got dtype {wav.dtype}")
        if not torch.isfinite(wav).all():
            raise ValueError("audio contains NaN or infinite samples")
        like = next(self.parameters()) if like is None else like
        return wav.to(device=like.device, dtype=like.dtype)

    def check_sample_rate(self, sample_rate: int | None) -> None:
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise ValueError(
                f"{self.name} runs at {self.sample_rate} Hz but the audio is at {sample_rate} Hz; "
                "resample it first (streamcodec.audio.resample)"
            )

    def check_codes(
        self, codes: torch.Tensor | np.ndarray, batch_size: int | None = None, like: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Validate codes ``[B, K, F]``; return them as int64 on the model's device (``like``'s)."""
        if isinstance(codes, np.ndarray):
            codes = torch.from_numpy(codes)
        if not isinstance(codes, torch.Tensor):
            raise TypeError(f"codes must be a torch.Tensor or numpy array, got {type(codes).__name__}")
        if codes.dim() != 3:
            raise ValueError(f"codes must have shape [batch, codebooks, frames], got {tuple(codes.shape)}")
        if codes.is_floating_point() or codes.is_complex() or codes.dtype == torch.bool:
            raise ValueError(f"codes must be integers, got dtype {codes.dtype}")
        if batch_size is not None and codes.shape[0] != batch_size:
            raise ValueError(f"this session has {batch_size} streams but the codes have batch size {codes.shape[0]}")
        if not 1 <= codes.shape[1] <= self.total_codebooks:
            raise ValueError(
                f"codes have {codes.shape[1]} codebooks; {self.name} decodes 1 to {self.total_codebooks}"
            )
        if codes.numel() and (codes.min() < 0 or codes.max() >= self.cardinality):
            raise ValueError(
                f"codes must lie in [0, {self.cardinality - 1}], got values from {int(codes.min())} to {int(codes.max())}"
            )
        like = next(self.parameters()) if like is None else like
        return codes.to(device=like.device, dtype=torch.int64)
