"""LSTM over convolutional layout, with its hidden and cell state kept between chunks."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .streaming import StreamingModule, StreamingState


@dataclasses.dataclass
class LSTMState(StreamingState):
    hidden: torch.Tensor  # [B, num_layers, dim]
    cell: torch.Tensor  # [B, num_layers, dim]


class StreamingLSTM(StreamingModule[LSTMState]):
    """Multi-layer LSTM with a skip connection. Shapes: ``[B, dim, T] -> [B, dim, T]``."""

    def __init__(self, dim: int, num_layers: int = 2, skip: bool = True):
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, num_layers)
        self.skip = skip

    def forward(self, x: torch.Tensor, pad_mode: str | None = None) -> torch.Tensor:
        x = x.permute(2, 0, 1)
        y, _ = self.lstm(x)
        if self.skip:
            y = y + x
        return y.permute(1, 2, 0)

    def init_state(self, batch_size: int) -> LSTMState:
        weight = self._param_like()
        shape = (batch_size, self.lstm.num_layers, self.lstm.hidden_size)
        return LSTMState(weight.new_zeros(shape), weight.new_zeros(shape))

    def step(self, x: torch.Tensor, state: LSTMState) -> torch.Tensor:
        if x.shape[-1] == 0:
            return x
        x = x.permute(2, 0, 1)
        h0 = state.hidden.transpose(0, 1).contiguous()
        c0 = state.cell.transpose(0, 1).contiguous()
        y, (h, c) = self.lstm(x, (h0, c0))
        state.hidden.copy_(h.transpose(0, 1))
        state.cell.copy_(c.transpose(0, 1))
        if self.skip:
            y = y + x
        return y.permute(1, 2, 0)
