"""The streaming state protocol shared by every streaming module.

A streaming module processes a signal in consecutive chunks and keeps what it needs of the past
in an explicit state object, created by the caller and passed to every ``step``. The module
itself holds only weights, so one model can serve many independent sessions at once.

- ``init_state(batch_size)`` builds the state of a fresh stream (all zeros: the causal
  start-of-stream padding).
- ``step(x, state)`` consumes a chunk ``[B, C, T]`` and returns the outputs that are complete;
  it updates ``state`` in place.
- ``forward(x, pad_mode)`` is the offline path over a whole signal. With ``pad_mode="constant"``
  it computes exactly what a fresh stream computes, whatever the chunking.

States are dataclasses whose tensor fields are batch-first, so ``state.reset(mask)`` can return
chosen streams of a batch to a fresh start while the others go on.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

import torch
from torch import nn


@dataclasses.dataclass
class StreamingState:
    """Base class of streaming states. Tensor fields are batch-first ``[B, ...]``."""

    def reset(self, mask: torch.Tensor | None = None) -> None:
        """Return streams to a fresh start: all of them, or those where ``mask`` ([B] bool) is set."""
        for tensor in self.tensors():
            if mask is None:
                tensor.zero_()
            else:
                tensor[mask] = 0

    def tensors(self) -> list[torch.Tensor]:
        """Every tensor of the state, depth-first in field order (the order ``load_tensors`` reads)."""
        found: list[torch.Tensor] = []
        for _, _, value in _field_slots(self):
            if isinstance(value, torch.Tensor):
                found.append(value)
            else:
                found.extend(value.tensors())
        return found

    def load_tensors(self, tensors: Iterator[torch.Tensor]) -> None:
        """Replace the state's tensors by the next ones of ``tensors``, in ``tensors()`` order."""
        for holder, key, value in _field_slots(self):
            if isinstance(value, torch.Tensor):
                _assign(holder, key, next(tensors))
            else:
                value.load_tensors(tensors)


def _field_slots(state: StreamingState) -> Iterator[tuple[Any, Any, Any]]:
    """(holder, key, value) of every tensor or sub-state, lists flattened, ``None`` skipped."""
    for field in dataclasses.fields(state):
        value = getattr(state, field.name)
        if isinstance(value, list):
            for index, item in enumerate(value):
                if item is not None:
                    yield value, index, item
        elif value is not None:
            yield state, field.name, value


def _assign(holder: Any, key: Any, value: torch.Tensor) -> None:
    if isinstance(holder, list):
        holder[key] = value
    else:
        setattr(holder, key, value)


State = TypeVar("State", bound=StreamingState)


class StreamingModule(nn.Module, Generic[State], abc.ABC):
    """A module that can run offline (``forward``) or chunk by chunk (``step``)."""

    @abc.abstractmethod
    def init_state(self, batch_size: int) -> State:
        """State of ``batch_size`` fresh streams, on this module's device and dtype."""

    @abc.abstractmethod
    def step(self, x: torch.Tensor, state: State) -> torch.Tensor:
        """Consume a chunk ``[B, C, T]``; return the complete outputs ``[B, C', T']``."""

    @abc.abstractmethod
    def forward(self, x: torch.Tensor, pad_mode: str | None = None) -> torch.Tensor:
        """Offline pass over a whole signal ``[B, C, T]``.

        ``pad_mode`` overrides the configured start padding; ``"constant"`` reproduces the stream.
        """

    def _param_like(self) -> torch.Tensor:
        return next(self.parameters())


@dataclasses.dataclass
class SequentialState(StreamingState):
    children: list[StreamingState | None]


def init_sequential_state(layers: nn.ModuleList, batch_size: int) -> SequentialState:
    """One child state per streaming layer, ``None`` for stateless layers (activations)."""
    return SequentialState(
        [layer.init_state(batch_size) if isinstance(layer, StreamingModule) else None for layer in layers]
    )


def sequential_step(layers: nn.ModuleList, x: torch.Tensor, state: SequentialState) -> torch.Tensor:
    # ``forward`` directly, not ``__call__``: a stream runs hundreds of tiny layers per frame and
    # the hook machinery of ``__call__`` would cost more than the activations themselves.
    for layer, layer_state in zip(layers, state.children):
        x = layer.step(x, layer_state) if layer_state is not None else layer.forward(x)
    return x


def sequential_forward(layers: nn.ModuleList, x: torch.Tensor, pad_mode: str | None) -> torch.Tensor:
    for layer in layers:
        x = layer(x, pad_mode) if isinstance(layer, StreamingModule) else layer(x)
    return x


class StreamingSequential(StreamingModule[SequentialState]):
    """Runs its ``layers`` in order; stateless layers are applied as they are."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def init_state(self, batch_size: int) -> SequentialState:
        return init_sequential_state(self.layers, batch_size)

    def step(self, x: torch.Tensor, state: SequentialState) -> torch.Tensor:
        return sequential_step(self.layers, x, state)

    def forward(self, x: torch.Tensor, pad_mode: str | None = None) -> torch.Tensor:
        return sequential_forward(self.layers, x, pad_mode)
