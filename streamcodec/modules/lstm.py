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
        """Same recurrence as ``nn.LSTM``, written out: for a few time steps on CPU this avoids
        the oneDNN LSTM kernel, which re-packs the weights on every call (~10x slower per frame)."""
        if x.shape[-1] == 0:
            return x
        layer_input = x.permute(2, 0, 1)  # [T, B, C]
        for layer in range(self.lstm.num_layers):
            layer_input = self._layer_step(layer, layer_input, state)
        y = layer_input.permute(1, 2, 0)
        return y + x if self.skip else y

    def _layer_step(self, layer: int, inputs: torch.Tensor, state: LSTMState) -> torch.Tensor:
        """One layer over ``inputs`` [T, B, C_in] -> [T, B, H], updating its (h, c) in ``state``."""
        w_ih = getattr(self.lstm, f"weight_ih_l{layer}")
        w_hh = getattr(self.lstm, f"weight_hh_l{layer}")
        bias = getattr(self.lstm, f"bias_ih_l{layer}") + getattr(self.lstm, f"bias_hh_l{layer}")
        steps, batch, _ = inputs.shape
        projected = torch.addmm(bias, inputs.reshape(steps * batch, -1), w_ih.t()).view(steps, batch, -1)
        hidden, cell = state.hidden[:, layer], state.cell[:, layer]
        size = self.lstm.hidden_size
        w_hh_t = w_hh.t()
        outputs = []
        for t in range(steps):
            gates = torch.addmm(projected[t], hidden, w_hh_t)  # input, forget, cell, output
            sigmoids = gates.sigmoid()
            cell_input = gates[:, 2 * size : 3 * size].tanh()
            cell = torch.addcmul(sigmoids[:, size : 2 * size] * cell, sigmoids[:, :size], cell_input)
            hidden = sigmoids[:, 3 * size :] * cell.tanh()
            outputs.append(hidden)
        state.hidden[:, layer] = hidden
        state.cell[:, layer] = cell
        return torch.stack(outputs)
