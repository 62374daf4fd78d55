"""SEANet encoder and decoder (EnCodec's convolutional backbone) from streaming layers."""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from .conv import PAD_MODES, ConvState, StreamingConv1d, StreamingConvTranspose1d
from .lstm import StreamingLSTM
from .streaming import (
    SequentialState,
    StreamingModule,
    StreamingSequential,
    StreamingState,
    init_sequential_state,
    sequential_forward,
    sequential_step,
)


@dataclasses.dataclass(frozen=True)
class SEANetConfig:
    """Architecture of the SEANet encoder/decoder pair. Defaults: EnCodec 24 kHz."""

    channels: int = 1
    dimension: int = 128
    n_filters: int = 32
    ratios: tuple[int, ...] = (8, 5, 4, 2)  # decoder order; the encoder downsamples in reverse
    n_residual_layers: int = 1
    residual_kernel_size: int = 3
    kernel_size: int = 7
    last_kernel_size: int = 7
    dilation_base: int = 2
    compress: int = 2
    lstm_layers: int = 2
    conv_shortcut: bool = True  # 1x1 conv on the residual path (EnCodec); identity when False
    causal: bool = True
    pad_mode: str = "reflect"
    trim_right_ratio: float = 1.0

    def __post_init__(self) -> None:
        if not self.ratios or any(r < 1 for r in self.ratios):
            raise ValueError(f"ratios must be positive integers, got {self.ratios}")
        if self.pad_mode not in PAD_MODES:
            raise ValueError(f"pad_mode must be one of {PAD_MODES}, got {self.pad_mode!r}")
        for name in ("channels", "dimension", "n_filters", "compress", "kernel_size", "last_kernel_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def hop_length(self) -> int:
        hop = 1
        for ratio in self.ratios:
            hop *= ratio
        return hop


@dataclasses.dataclass
class ResnetState(StreamingState):
    block: SequentialState
    shortcut: ConvState | None  # None for an identity shortcut


class SEANetResnetBlock(StreamingModule[ResnetState]):
    """ELU -> conv(k, dilation) -> ELU -> conv(1), plus a (1x1 conv) shortcut. ``[B, dim, T]``."""

    def __init__(self, config: SEANetConfig, dim: int, dilation: int, weight_norm: bool):
        super().__init__()
        hidden = dim // config.compress
        conv = _conv_factory(config, weight_norm)
        self.block = nn.ModuleList(
            [
                nn.ELU(),
                conv(dim, hidden, config.residual_kernel_size, dilation=dilation),
                nn.ELU(),
                conv(hidden, dim, 1),
            ]
        )
        self.shortcut = conv(dim, dim, 1) if config.conv_shortcut else nn.Identity()

    def forward(self, x: torch.Tensor, pad_mode: str | None = None) -> torch.Tensor:
        return self.shortcut(x) + sequential_forward(self.block, x, pad_mode)

    def init_state(self, batch_size: int) -> ResnetState:
        shortcut = self.shortcut.init_state(batch_size) if isinstance(self.shortcut, StreamingConv1d) else None
        return ResnetState(init_sequential_state(self.block, batch_size), shortcut)

    def step(self, x: torch.Tensor, state: ResnetState) -> torch.Tensor:
        residual = self.shortcut.step(x, state.shortcut) if state.shortcut is not None else x
        return residual + sequential_step(self.block, x, state.block)


def _conv_factory(config: SEANetConfig, weight_norm: bool):
    def conv(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1):
        return StreamingConv1d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            dilation=dilation,
            causal=config.causal,
            pad_mode=config.pad_mode,
            weight_norm=weight_norm,
        )

    return conv


class SEANetEncoder(StreamingSequential):
    """Waveform to latent frames: ``[B, channels, T] -> [B, dimension, T / hop_length]``."""

    def __init__(self, config: SEANetConfig, weight_norm: bool = False):
        conv = _conv_factory(config, weight_norm)
        width = config.n_filters
        layers: list[nn.Module] = [conv(config.channels, width, config.kernel_size)]
        for ratio in reversed(config.ratios):
            for j in range(config.n_residual_layers):
                layers.append(SEANetResnetBlock(config, width, config.dilation_base**j, weight_norm))
            layers += [nn.ELU(), conv(width, width * 2, kernel_size=ratio * 2, stride=ratio)]
            width *= 2
        layers += [
            StreamingLSTM(width, config.lstm_layers),
            nn.ELU(),
            conv(width, config.dimension, config.last_kernel_size),
        ]
        super().__init__(layers)


class SEANetDecoder(StreamingSequential):
    """Latent frames to waveform: ``[B, dimension, F] -> [B, channels, F * hop_length]``."""

    def __init__(self, config: SEANetConfig, weight_norm: bool = False):
        conv = _conv_factory(config, weight_norm)
        width = config.n_filters * 2 ** len(config.ratios)
        layers: list[nn.Module] = [
            conv(config.dimension, width, config.kernel_size),
            StreamingLSTM(width, config.lstm_layers),
        ]
        for ratio in config.ratios:
            upsample = StreamingConvTranspose1d(
                width,
                width // 2,
                kernel_size=ratio * 2,
                stride=ratio,
                causal=config.causal,
                trim_right_ratio=config.trim_right_ratio,
                weight_norm=weight_norm,
            )
            layers += [nn.ELU(), upsample]
            for j in range(config.n_residual_layers):
                layers.append(SEANetResnetBlock(config, width // 2, config.dilation_base**j, weight_norm))
            width //= 2
        layers += [nn.ELU(), conv(config.n_filters, config.channels, config.last_kernel_size)]
        super().__init__(layers)
