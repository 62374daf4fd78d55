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

Sessions over a frozen inference model (``model.eval().requires_grad_(False)``, as
``load_model`` returns it) replay each step through a TorchScript trace: the same tensor
operations without the Python interpreter between them, about half a frame's fixed cost.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

from .modules.streaming import StreamingState

if TYPE_CHECKING:
    from .models.encodec import EncodecModel

Step = Callable[[torch.Tensor, StreamingState], torch.Tensor]


class StepTraces:
    """TorchScript traces of a model's streaming steps, one per (step, input shape, codebooks).

    Traces hold the weights as constants: the model drops them whenever it changes mode,
    device, dtype or weights. Past ``max_traces`` distinct shapes, steps run eagerly.
    """

    max_traces = 64

    def __init__(self) -> None:
        self._traces: dict[tuple, torch.jit.ScriptFunction] = {}

    def clear(self) -> None:
        self._traces.clear()

    def run(self, key: tuple, step: Step, x: torch.Tensor, state: StreamingState) -> torch.Tensor:
        """``step(x, state)``, replayed from the trace cached under ``key`` (traced on first use)."""
        traced = self._traces.get(key)
        if traced is None:
            if len(self._traces) >= self.max_traces:
                return step(x, state)
            traced = self._traces[key] = _trace(step, x, state)
        outputs = traced(x, *state.tensors())
        state.load_tensors(iter(outputs[1:]))
        return outputs[0]


def _trace(step: Step, x: torch.Tensor, state: StreamingState) -> torch.jit.ScriptFunction:
    """Trace ``step`` as a pure function ``(x, *state tensors) -> (y, *new state tensors)``."""
    template = copy.deepcopy(state)  # tracing runs the step once: leave the session's state alone

    def pure_step(x: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        template.load_tensors(iter(tensors))
        y = step(x, template)
        return (y, *template.tensors())

    with warnings.catch_warnings():  # shape-specialisation notes, and trace's deprecation in torch 2.13
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.trace(pure_step, (x, *[t.clone() for t in state.tensors()]), check_trace=False)


def _use_traces(model: EncodecModel, traced: bool | None) -> bool:
    frozen = not any(p.requires_grad for p in model.parameters())
    if traced and not frozen:
        raise ValueError(
            "traced streaming needs a frozen inference model: call model.eval().requires_grad_(False) "
            "(load_model returns it so)"
        )
    return frozen if traced is None else traced


def _run_step(
    model: EncodecModel, traced: bool, key: tuple, step: Step, x: torch.Tensor, state: StreamingState
) -> torch.Tensor:
    """``step(x, state)``: replayed from the model's trace under ``key``, or eagerly when the session
    does not trace or the model is training."""
    if traced and not model.training:
        return model.step_traces.run(key, step, x, state)
    return step(x, state)


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

    def __init__(self, model: EncodecModel, batch_size: int = 1, traced: bool | None = None):
        self.model = model
        self.batch_size = _check_batch_size(batch_size)
        self.num_codebooks = model.num_codebooks
        self.traced = _use_traces(model, traced)
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
            codes = self._step(pending[..., :usable])
        self.frames += codes.shape[-1]
        return codes

    def _step(self, pcm: torch.Tensor) -> torch.Tensor:
        """Whole frames of audio ``[B, C, f * hop]`` -> codes ``[B, K, f]``."""
        model, num_codebooks = self.model, self.num_codebooks

        def step(pcm: torch.Tensor, state: StreamingState) -> torch.Tensor:
            return model.quantizer.encode(model.encoder.step(pcm, state), num_codebooks)

        return _run_step(model, self.traced, ("encode", tuple(pcm.shape), pcm.dtype, num_codebooks), step, pcm, self._state)

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

    def __init__(self, model: EncodecModel, batch_size: int = 1, traced: bool | None = None):
        self.model = model
        self.batch_size = _check_batch_size(batch_size)
        self.traced = _use_traces(model, traced)
        self._param = next(model.parameters())
        with torch.inference_mode():
            self._state = model.decoder.init_state(batch_size)
        self.frames = 0  # frames decoded so far

    def push(self, codes: torch.Tensor | np.ndarray) -> torch.Tensor:
        codes = self.model.check_codes(codes, self.batch_size, like=self._param)
        if codes.shape[-1] == 0:
            return torch.zeros(self.batch_size, self.model.channels, 0, device=codes.device)
        with torch.inference_mode():
            audio = self._step(codes)
        self.frames += codes.shape[-1]
        return audio

    def _step(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``[B, k, f]`` -> audio ``[B, C, f * hop]``."""
        model = self.model

        def step(codes: torch.Tensor, state: StreamingState) -> torch.Tensor:
            return model.decoder.step(model.quantizer.decode(codes), state)

        return _run_step(model, self.traced, ("decode", tuple(codes.shape)), step, codes, self._state)

    def reset(self, mask: torch.Tensor | None = None) -> None:
        """Restart all streams, or those where ``mask`` ([B] bool) is set."""
        mask = _check_mask(mask, self.batch_size)
        with torch.inference_mode():
            self._state.reset(mask)
        if mask is None:
            self.frames = 0
