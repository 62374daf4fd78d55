"""Streaming encoder and decoder sessions over a causal compression model.

A session owns the streaming state of ``batch_size`` independent streams; the model only holds
weights, so any number of sessions can share one model. Example::

    enc = model.streaming_encoder()
    dec = model.streaming_decoder()
    for chunk in microphone_chunks:          # [1, C, n], any n
        codes = enc.push(chunk)              # [1, K, f]: the frames completed by this chunk
        audio = dec.push(codes)              # [1, C, f * hop_length]
    audio = dec.push(enc.flush())            # the last partial frame, zero-padded

The concatenated outputs do not depend on how the input was chunked: they equal the offline
``model.encode(wav, pad_mode="constant")`` / ``model.decode(codes, pad_mode="constant")``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .models.encodec import EncodecModel


def _check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return batch_size


def _check_mask(mask: torch.Tensor | None, batch_size: int) -> torch.Tensor | None:
    if mask is None:
        return None
    mask = torch.as_tensor(mask)
    if mask.dtype != torch.bool or mask.shape != (batch_size,):
        raise ValueError(f"reset mask must be a bool tensor of shape [{batch_size}], got {mask.dtype} {tuple(mask.shape)}")
    return mask


class StreamingEncoder:
    """Audio chunks ``[B, C, n]`` (any ``n >= 0``) -> codes ``[B, K, f]`` of the frames completed.

    Samples that do not fill a frame wait for the next push; ``flush`` zero-pads and encodes them.
    ``num_codebooks`` starts at the model's setting and may be changed at any time.
    """

    def __init__(self, model: EncodecModel, batch_size: int = 1):
        self.model = model
        self.batch_size = _check_batch_size(batch_size)
        self.num_codebooks = model.num_codebooks
        self._param = next(model.parameters())
        with torch.inference_mode():
            self._state = model.encoder.init_state(batch_size)
            self._pending = self._param.new_zeros(batch_size, model.channels, 0)
        self.frames = 0  # frames emitted so far

    def set_num_codebooks(self, num_codebooks: int) -> None:
        self.num_codebooks = self.model.check_num_codebooks(num_codebooks)

    @property
    def pending_samples(self) -> int:
        """Samples accepted that do not yet make a whole frame."""
        return self._pending.shape[-1]

    def push(self, pcm: torch.Tensor | np.ndarray) -> torch.Tensor:
        pcm = self.model.check_audio(pcm, self.batch_size, like=self._param)
        with torch.inference_mode():
            pending = torch.cat([self._pending, pcm], dim=-1) if self._pending.shape[-1] else pcm
            usable = pending.shape[-1] - pending.shape[-1] % self.model.hop_length
            self._pending = pending[..., usable:]
            if usable == 0:
                return torch.zeros(self.batch_size, self.num_codebooks, 0, dtype=torch.int64, device=pcm.device)
            latent = self.model.encoder.step(pending[..., :usable], self._state)
            codes = self.model.quantizer.encode(latent, self.num_codebooks)
        self.frames += codes.shape[-1]
        return codes

    def flush(self) -> torch.Tensor:
        """Zero-pad the pending samples to a whole frame and encode it (``[B, K, 0 or 1]``)."""
        missing = -self.pending_samples % self.model.hop_length
        with torch.inference_mode():
            padding = self._pending.new_zeros(self.batch_size, self.model.channels, missing)
        return self.push(padding)

    def reset(self, mask: torch.Tensor | None = None) -> None:
        """Restart all streams, or those where ``mask`` ([B] bool) is set."""
        mask = _check_mask(mask, self.batch_size)
        if mask is not None and self.pending_samples:
            raise ValueError(
                f"reset(mask) needs the streams at a frame boundary, but {self.pending_samples} samples "
                "of a partial frame are pending; push whole frames (multiples of hop_length) in batched sessions"
            )
        with torch.inference_mode():
            self._state.reset(mask)
            if mask is None:
                self._pending = self._pending[..., :0]
                self.frames = 0


class StreamingDecoder:
    """Codes ``[B, k, f]`` -> audio ``[B, C, f * hop_length]``, with ``k`` free to change per push."""

    def __init__(self, model: EncodecModel, batch_size: int = 1):
        self.model = model
        self.batch_size = _check_batch_size(batch_size)
        self._param = next(model.parameters())
        with torch.inference_mode():
            self._state = model.decoder.init_state(batch_size)
        self.frames = 0  # frames decoded so far

    def push(self, codes: torch.Tensor | np.ndarray) -> torch.Tensor:
        codes = self.model.check_codes(codes, self.batch_size, like=self._param)
        if codes.shape[-1] == 0:
            return torch.zeros(self.batch_size, self.model.channels, 0, device=codes.device)
        with torch.inference_mode():
            latent = self.model.quantizer.decode(codes)
            audio = self.model.decoder.step(latent, self._state)
        self.frames += codes.shape[-1]
        return audio

    def reset(self, mask: torch.Tensor | None = None) -> None:
        """Restart all streams, or those where ``mask`` ([B] bool) is set."""
        mask = _check_mask(mask, self.batch_size)
        with torch.inference_mode():
            self._state.reset(mask)
        if mask is None:
            self.frames = 0
