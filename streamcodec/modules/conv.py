"""Convolutions that run offline with EnCodec's padding rules, or causally chunk by chunk.

Causal padding puts all of a convolution's padding before the first sample, so output ``t``
only depends on inputs up to ``t``. A stream starts from zeros; the published EnCodec models
were trained with ``reflect`` padding instead, which lets the first few output samples look a
few samples ahead. The two differ only near the start of a signal.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from .streaming import StreamingModule, StreamingState

PAD_MODES = ("reflect", "constant")


def pad1d(x: torch.Tensor, left: int, right: int, mode: str) -> torch.Tensor:
    """Pad the last axis of ``x``; ``reflect`` works on inputs shorter than the padding too."""
    if mode not in PAD_MODES:
        raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {mode!r}")
    if mode == "constant" or (left == 0 and right == 0):
        return F.pad(x, (left, right))
    length = x.shape[-1]
    extra = max(0, max(left, right) - length + 1)
    if extra:
        x = F.pad(x, (0, extra))
    padded = F.pad(x, (left, right), mode="reflect")
    return padded[..., : padded.shape[-1] - extra]


def extra_padding_for_conv1d(length: int, kernel_size: int, stride: int, padding_total: int) -> int:
    """Right padding that makes the last window of a strided conv complete."""
    n_frames = (length - kernel_size + padding_total) / stride + 1
    ideal_length = (math.ceil(n_frames) - 1) * stride + (kernel_size - padding_total)
    return ideal_length - length


def conv1d_few_outputs(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int, dilation: int
) -> torch.Tensor:
    """``F.conv1d`` without padding, computed as one matrix product when that is faster.

    On CPU, PyTorch's direct convolution is slow for a few outputs of a wide kernel (the shapes
    a frame-by-frame stream produces deep in the network); gathering the windows and
    multiplying by the flattened weight is 2-4x faster there. Shapes: ``[B, C_in, T] -> [B, C_out, T']``.
    """
    out_channels, in_channels, kernel_size = weight.shape
    span = (kernel_size - 1) * dilation + 1
    num_outputs = (x.shape[-1] - span) // stride + 1
    if num_outputs > 16 and in_channels * kernel_size < 1024:
        return F.conv1d(x, weight, bias, stride, 0, dilation)
    windows = x.unfold(-1, span, stride)  # [B, C_in, T', span]
    if dilation > 1:
        windows = windows[..., ::dilation]
    windows = windows.transpose(1, 2).reshape(-1, in_channels * kernel_size)
    flat_weight = weight.reshape(out_channels, -1).t()
    y = torch.addmm(bias, windows, flat_weight) if bias is not None else windows @ flat_weight
    return y.view(x.shape[0], num_outputs, out_channels).transpose(1, 2)


def conv_transpose1d_few_inputs(x: torch.Tensor, weight: torch.Tensor, stride: int) -> torch.Tensor:
    """``F.conv_transpose1d`` without bias or trimming, as a matrix product where that is faster.

    PyTorch's CPU kernel is pathologically slow for a few steps into many channels (10 ms for
    4 steps of 512 channels); a product with the flattened weight plus an overlap-add is not.
    Shapes: ``[B, C_in, T] -> [B, C_out, (T - 1) * stride + kernel_size]``.
    """
    batch, in_channels, steps = x.shape
    _, out_channels, kernel_size = weight.shape
    if steps > 8 and in_channels < 512:
        return F.conv_transpose1d(x, weight, None, stride)
    columns = x.transpose(1, 2).reshape(batch * steps, in_channels) @ weight.reshape(in_channels, -1)
    columns = columns.view(batch, steps, out_channels * kernel_size).transpose(1, 2)
    length = (steps - 1) * stride + kernel_size
    return F.fold(columns, (1, length), (1, kernel_size), stride=(1, stride)).view(batch, out_channels, length)


def _maybe_weight_norm(module: nn.Module, weight_norm: bool) -> nn.Module:
    return nn.utils.parametrizations.weight_norm(module) if weight_norm else module


class WeightNormError(ValueError):
    """Weight-norm parameters that do not come in (magnitude, direction) pairs."""


_WEIGHT_NORM_SUFFIXES = {
    "weight_g": "weight_v",
    "parametrizations.weight.original0": "parametrizations.weight.original1",
}


def fold_weight_norm_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace each (g, v) weight-norm pair by ``weight = g * v / ||v||`` (norm over dims > 0)."""
    folded: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for g_suffix, v_suffix in _WEIGHT_NORM_SUFFIXES.items():
            if key.endswith(v_suffix):
                break
            if key.endswith(g_suffix):
                prefix = key[: -len(g_suffix)]
                if prefix + v_suffix not in state:
                    raise WeightNormError(f"weight-norm magnitude {key} has no direction {prefix + v_suffix}")
                folded[prefix + "weight"] = torch._weight_norm(state[prefix + v_suffix], value, 0)
                break
        else:
            folded[key] = value
    return folded


@dataclasses.dataclass
class ConvState(StreamingState):
    previous: torch.Tensor  # [B, C_in, kernel_span - stride] inputs not yet consumed


class StreamingConv1d(StreamingModule[ConvState]):
    """1-d convolution with EnCodec padding (causal or centred), weight norm optional.

    Args:
        causal: all padding on the left; only causal convolutions can ``step``.
        pad_mode: offline start padding, ``"reflect"`` (published EnCodec) or ``"constant"``.
        weight_norm: parametrise the weight (for training; fold it before export).
    Shapes: ``[B, in_channels, T] -> [B, out_channels, T / stride]``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        causal: bool = True,
        pad_mode: str = "reflect",
        weight_norm: bool = False,
    ):
        super().__init__()
        if pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
        self.conv = _maybe_weight_norm(
            nn.Conv1d(in_channels, out_channels, kernel_size, stride, dilation=dilation), weight_norm
        )
        self.causal = causal
        self.pad_mode = pad_mode
        self.stride = stride
        self.kernel_span = (kernel_size - 1) * dilation + 1
        if self.kernel_span < stride:
            raise ValueError(f"a kernel spanning {self.kernel_span} samples would skip inputs at stride {stride}")
        self.padding_total = self.kernel_span - stride

    def forward(self, x: torch.Tensor, pad_mode: str | None = None) -> torch.Tensor:
        mode = pad_mode or self.pad_mode
        extra = extra_padding_for_conv1d(x.shape[-1], self.kernel_span, self.stride, self.padding_total)
        if self.causal:
            x = pad1d(x, self.padding_total, extra, mode)
        else:
            right = self.padding_total // 2
            x = pad1d(x, self.padding_total - right, right + extra, mode)
        return self.conv(x)

    def init_state(self, batch_size: int) -> ConvState:
        weight = self._param_like()
        return ConvState(weight.new_zeros(batch_size, self.conv.in_channels, self.padding_total))

    def step(self, x: torch.Tensor, state: ConvState) -> torch.Tensor:
        if not self.causal:
            raise RuntimeError("a non-causal convolution cannot stream")
        weight, bias = self.conv.weight, self.conv.bias
        if self.kernel_span == self.stride == 1 and x.shape[-1]:  # a 1x1 convolution remembers nothing
            return conv1d_few_outputs(x, weight, bias, 1, 1)
        if state.previous.shape[-1]:
            x = torch.cat([state.previous, x], dim=-1)
        num_outputs = max(0, (x.shape[-1] - self.kernel_span) // self.stride + 1)
        consumed = num_outputs * self.stride
        state.previous = x[..., consumed:]
        if num_outputs == 0:
            return x.new_empty(x.shape[0], self.conv.out_channels, 0)
        window = x[..., : consumed - self.stride + self.kernel_span]
        return conv1d_few_outputs(window, weight, bias, self.stride, self.conv.dilation[0])


@dataclasses.dataclass
class ConvTransposeState(StreamingState):
    partial: torch.Tensor  # [B, C_out, kernel_size - stride] overlap-add tail, without bias


class StreamingConvTranspose1d(StreamingModule[ConvTransposeState]):
    """Transposed 1-d convolution trimmed as EnCodec trims it.

    Streaming emits ``stride`` samples per input step and keeps the overlapping
    ``kernel_size - stride`` samples as state until the next step completes them.
    Shapes: ``[B, in_channels, T] -> [B, out_channels, T * stride]``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        causal: bool = True,
        trim_right_ratio: float = 1.0,
        weight_norm: bool = False,
    ):
        super().__init__()
        if not (causal or trim_right_ratio == 1.0):
            raise ValueError("trim_right_ratio != 1.0 only makes sense for causal convolutions")
        self.conv = _maybe_weight_norm(
            nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride), weight_norm
        )
        self.causal = causal
        self.stride = stride
        padding_total = kernel_size - stride
        self.trim_right = math.ceil(padding_total * trim_right_ratio) if causal else padding_total // 2
        self.trim_left = padding_total - self.trim_right

    def forward(self, x: torch.Tensor, pad_mode: str | None = None) -> torch.Tensor:
        y = self.conv(x)
        return y[..., self.trim_left : y.shape[-1] - self.trim_right]

    def init_state(self, batch_size: int) -> ConvTransposeState:
        weight = self._param_like()
        return ConvTransposeState(weight.new_zeros(batch_size, self.conv.out_channels, self.trim_right))

    def step(self, x: torch.Tensor, state: ConvTransposeState) -> torch.Tensor:
        if not self.causal or self.trim_left:
            raise RuntimeError("only a causal transposed convolution trimmed on the right can stream")
        steps = x.shape[-1]
        if steps == 0:
            return x.new_empty(x.shape[0], self.conv.out_channels, 0)
        y = conv_transpose1d_few_inputs(x, self.conv.weight, self.stride)
        tail = state.partial.shape[-1]
        y[..., :tail] += state.partial
        emitted = steps * self.stride
        state.partial = y[..., emitted:]
        out = y[..., :emitted]
        if self.conv.bias is not None:
            out = out + self.conv.bias[:, None]
        return out
