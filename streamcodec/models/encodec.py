"""EnCodec: SEANet encoder -> residual vector quantizer -> SEANet decoder."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F

from ..modules.conv import fold_weight_norm_keys
from ..modules.seanet import SEANetConfig, SEANetDecoder, SEANetEncoder
from ..quantization.vq import TRAINING_BUFFERS, QuantizedResult, ResidualVectorQuantizer
from ..streaming import StepTraces, StreamingDecoder, StreamingEncoder
from .base import CompressionModel

DEFAULT_BANDWIDTH_KBPS = 6.0


@dataclasses.dataclass(frozen=True)
class EncodecConfig:
    """Everything that fixes an EnCodec model's shapes and arithmetic. Defaults: ``encodec_24khz``."""

    sample_rate: int = 24000
    seanet: SEANetConfig = SEANetConfig()
    num_codebooks: int = 32
    codebook_size: int = 1024
    normalize: bool = False  # scale each input to unit RMS and return the scale (EnCodec 48 kHz)
    target_bandwidths: tuple[float, ...] = (1.5, 3.0, 6.0, 12.0, 24.0)

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.num_codebooks < 1 or self.codebook_size < 2:
            raise ValueError("an EnCodec model needs at least one codebook of at least two entries")

    @property
    def hop_length(self) -> int:
        return self.seanet.hop_length

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncodecConfig:
        data = dict(data)
        seanet = dict(data.pop("seanet", {}))
        if "ratios" in seanet:
            seanet["ratios"] = tuple(seanet["ratios"])
        if "target_bandwidths" in data:
            data["target_bandwidths"] = tuple(data["target_bandwidths"])
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        unknown |= set(seanet) - {f.name for f in dataclasses.fields(SEANetConfig)}
        if unknown:
            raise ValueError(f"unknown EnCodec config fields: {sorted(unknown)}")
        return cls(seanet=SEANetConfig(**seanet), **data)


class EncodecModel(CompressionModel):
    """EnCodec with stateful streaming. See ``CompressionModel`` for shapes.

    Args:
        config: the architecture.
        weight_norm: parametrise conv weights with weight norm (training); inference models
            hold plain weights (``inference_state_dict`` folds them).
        name: shown in messages and written into encoded files.
    """

    def __init__(self, config: EncodecConfig = EncodecConfig(), weight_norm: bool = False, name: str = "encodec"):
        super().__init__()
        self.config = config
        self.name = name
        self.sample_rate = config.sample_rate
        self.channels = config.seanet.channels
        self.hop_length = config.hop_length
        self.cardinality = config.codebook_size
        self.total_codebooks = config.num_codebooks
        self.encoder = SEANetEncoder(config.seanet, weight_norm)
        self.decoder = SEANetDecoder(config.seanet, weight_norm)
        self.quantizer = ResidualVectorQuantizer(
            config.seanet.dimension,
            config.num_codebooks,
            config.codebook_size,
            dropout_choices=self._bandwidth_codebook_counts(),
        )
        self._num_codebooks = self.codebooks_for_bandwidth(DEFAULT_BANDWIDTH_KBPS, clamp=True)
        self.step_traces = StepTraces()

    def _bandwidth_codebook_counts(self) -> tuple[int, ...]:
        """Codebook counts of the target bandwidths: the quantizer-dropout choices."""
        return tuple(sorted({self.codebooks_for_bandwidth(bw, clamp=True) for bw in self.config.target_bandwidths}))

    # Offline path.

    def encode(
        self, wav: torch.Tensor, sample_rate: int | None = None, pad_mode: str | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Waveform ``[B, C, T]`` -> (codes ``[B, K, ceil(T / hop)]``, scale ``[B, 1]`` or None).

        ``pad_mode=None`` pads as the model was trained (``reflect`` for the published EnCodec
        models: the reference output). ``pad_mode="constant"`` pads the start with zeros and the
        end to a whole frame with zeros, which is exactly what a streaming encoder computes.
        """
        self.check_sample_rate(sample_rate)
        wav = self.check_audio(wav)
        if wav.shape[-1] == 0:
            raise ValueError("cannot encode an empty signal (0 samples)")
        with torch.inference_mode():
            wav, scale = self._preprocess(wav)
            if pad_mode == "constant":
                wav = F.pad(wav, (0, -wav.shape[-1] % self.hop_length))
            latent = self.encoder(wav, pad_mode)
            return self.quantizer.encode(latent, self.num_codebooks), scale

    def decode(
        self, codes: torch.Tensor, scale: torch.Tensor | None = None, pad_mode: str | None = None
    ) -> torch.Tensor:
        """Codes ``[B, K, F]`` (any ``K`` up to the total) -> waveform ``[B, C, F * hop]``.

        ``pad_mode`` as in ``encode``: ``"constant"`` matches a streaming decoder.
        """
        with torch.inference_mode():
            wav = self.decoder(self.decode_latent(codes), pad_mode)
            return wav if scale is None else wav * scale.view(-1, 1, 1)

    def decode_latent(self, codes: torch.Tensor) -> torch.Tensor:
        codes = self.check_codes(codes)
        with torch.inference_mode():
            return self.quantizer.decode(codes)

    def _preprocess(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if not self.config.normalize:
            return wav, None
        mono = wav.mean(dim=1, keepdim=True)
        scale = mono.pow(2).mean(dim=-1, keepdim=True).sqrt() + 1e-8
        return wav / scale, scale.view(-1, 1)

    # Training path.

    def forward(self, wav: torch.Tensor, num_codebooks: int | None = None) -> tuple[torch.Tensor, QuantizedResult]:
        """Training pass: waveform ``[B, C, T]`` (T a multiple of hop) -> (reconstruction, quantizer result)."""
        latent = self.encoder(wav)
        quantized = self.quantizer(latent, num_codebooks)
        return self.decoder(quantized.quantized), quantized

    def inference_state_dict(
        self, dtype: torch.dtype | None = None, training_buffers: bool = True
    ) -> dict[str, torch.Tensor]:
        """State dict with weight norm folded into plain weights: the layout of shipped weights.

        Args:
            dtype: storage type of floating-point tensors (``torch.float16`` halves the file);
                loading casts them back to the model's type.
            training_buffers: keep the codebooks' EMA learning state (``TRAINING_BUFFERS``);
                without it a loaded model codes identically but restarts EMA learning afresh.
        """
        state = {}
        for key, value in fold_weight_norm_keys(self.state_dict()).items():
            if not training_buffers and key.rsplit(".", 1)[-1] in TRAINING_BUFFERS:
                continue
            if dtype is not None and value.is_floating_point():
                value = value.to(dtype)
            state[key] = value.detach().contiguous()
        return state

    # Streaming path.

    def _check_streamable(self) -> None:
        if not self.config.seanet.causal:
            raise ValueError(
                f"{self.name} is not causal (its convolutions look ahead), so it cannot stream; "
                "use encode()/decode() on whole signals, or a causal model such as facebook/encodec_24khz"
            )
        if self.config.normalize:
            raise ValueError(
                f"{self.name} renormalises each input by its whole-signal loudness, so it cannot stream; "
                "use encode()/decode() on whole signals"
            )

    def streaming_encoder(self, batch_size: int = 1, traced: bool | None = None) -> StreamingEncoder:
        """``traced``: replay steps from TorchScript traces (default: when the model is frozen)."""
        self._check_streamable()
        return StreamingEncoder(self, batch_size, traced)

    def streaming_decoder(self, batch_size: int = 1, traced: bool | None = None) -> StreamingDecoder:
        """``traced``: replay steps from TorchScript traces (default: when the model is frozen)."""
        self._check_streamable()
        return StreamingDecoder(self, batch_size, traced)

    # Traces embed the weights: drop them whenever the weights or their placement may change.

    def train(self, mode: bool = True) -> EncodecModel:
        self.step_traces.clear()
        return super().train(mode)

    def _apply(self, fn, recurse: bool = True):  # .to(), .float(), .cuda(), ...
        self.step_traces.clear()
        return super()._apply(fn, recurse)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self.step_traces.clear()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)
