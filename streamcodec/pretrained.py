"""Model names and paths -> loaded models.

``load_model`` accepts:

- ``"default"``: the small codec bundled inside the package (no network);
- a Hugging Face Hub repository id in the ``transformers`` EnCodec format, e.g.
  ``"facebook/encodec_24khz"``, fetched with ``huggingface_hub`` (its cache, ``revision``,
  and ``HF_HUB_OFFLINE=1`` are honoured);
- a local directory: ``transformers`` format (``config.json`` with ``model_type: encodec`` plus
  ``model.safetensors`` or ``pytorch_model.bin``) or streamcodec's own (``config.json`` with
  ``format: streamcodec`` plus ``model.safetensors``);
- a file in the original ``encodec`` package's format, e.g. ``encodec_24khz-d7cc33bc.th``.

Weight-norm parameters (``weight_g``/``weight_v``, or ``parametrizations.weight.original0/1``)
are folded into plain weights with the same arithmetic the reference uses.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import torch

from .models.encodec import EncodecConfig, EncodecModel
from .modules.conv import WeightNormError, fold_weight_norm_keys
from .modules.seanet import SEANetConfig
from .quantization.vq import TRAINING_BUFFERS

DEFAULT_MODEL_DIR = Path(__file__).parent / "weights" / "default"
NATIVE_FORMAT = "streamcodec"
NATIVE_FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
SAFETENSORS_FILE = "model.safetensors"
TORCH_BIN_FILE = "pytorch_model.bin"
HUB_FILES = [CONFIG_FILE, SAFETENSORS_FILE, TORCH_BIN_FILE]


class CheckpointFormatError(WeightNormError):
    """A file or directory that is not a checkpoint format streamcodec knows."""


def load_model(
    name_or_path: str | Path,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
) -> EncodecModel:
    """Load a compression model for inference (eval mode, plain weights)."""
    path = Path(name_or_path).expanduser()
    if str(name_or_path) == "default":
        model = _load_default()
    elif path.is_dir():
        model = _load_directory(path, name=str(name_or_path))
    elif path.is_file():
        model = _load_file(path)
    elif _looks_like_repo_id(str(name_or_path)):
        model = _load_directory(_download(str(name_or_path), revision, cache_dir), name=str(name_or_path))
    else:
        raise FileNotFoundError(
            f"{name_or_path!r} is neither 'default', an existing file or directory, "
            "nor a Hugging Face Hub repository id such as 'facebook/encodec_24khz'"
        )
    return model.to(device).eval().requires_grad_(False)


def save_model(
    model: EncodecModel, directory: str | Path, dtype: torch.dtype | None = None, training_buffers: bool = True
) -> Path:
    """Write ``model`` in streamcodec's format: ``config.json`` + ``model.safetensors``.

    ``dtype`` and ``training_buffers`` shrink the file as ``EncodecModel.inference_state_dict`` says
    (the bundled default model ships as float16 without the EMA state).
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": NATIVE_FORMAT,
        "format_version": NATIVE_FORMAT_VERSION,
        "architecture": "encodec",
        "name": model.name,
        "config": model.config.to_dict(),
    }
    (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    save_file(model.inference_state_dict(dtype, training_buffers), str(directory / SAFETENSORS_FILE))
    return directory


# Resolution.


def _load_default() -> EncodecModel:
    if not (DEFAULT_MODEL_DIR / SAFETENSORS_FILE).is_file():
        raise FileNotFoundError(
            f"this installation has no bundled default model (expected {DEFAULT_MODEL_DIR / SAFETENSORS_FILE}); "
            "reinstall streamcodec, or load another model by name or path"
        )
    return _load_directory(DEFAULT_MODEL_DIR, name="default")


def _looks_like_repo_id(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", name) is not None


def _download(repo_id: str, revision: str | None, cache_dir: str | Path | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(
            snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, allow_patterns=HUB_FILES)
        )
    except (RepositoryNotFoundError, RevisionNotFoundError) as error:
        raise FileNotFoundError(f"the Hugging Face Hub has no {repo_id!r} at revision {revision or 'main'}") from error
    except LocalEntryNotFoundError as error:
        raise ConnectionError(
            f"cannot load {repo_id!r}: the Hugging Face Hub is unreachable (or HF_HUB_OFFLINE=1) and the model "
            "is not in the local cache. Download it once where the Hub is reachable "
            f"(`hf download {repo_id}`) and copy the cache here (HF_HUB_CACHE), or pass a local directory"
        ) from error
    except (HfHubHTTPError, HFValidationError, OSError) as error:
        raise ConnectionError(f"cannot download {repo_id!r} from the Hugging Face Hub: {error}") from error


def _load_directory(directory: Path, name: str) -> EncodecModel:
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointFormatError(f"{directory} has no {CONFIG_FILE}: not a model directory streamcodec knows")
    try:
        meta = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointFormatError(f"{config_path} is not valid JSON: {error}") from error
    if meta.get("format") == NATIVE_FORMAT:
        return _load_native(directory, meta, name)
    if meta.get("model_type") == "encodec":
        config = config_from_transformers(meta)
        state = convert_transformers_state_dict(_read_weights(directory))
        return _build(config, state, name)
    raise CheckpointFormatError(
        f"{config_path} describes neither a streamcodec model (format: streamcodec) "
        f"nor a transformers EnCodec model (model_type: encodec); got model_type {meta.get('model_type')!r}"
    )


def _load_native(directory: Path, meta: dict[str, Any], name: str) -> EncodecModel:
    from safetensors.torch import load_file

    if meta.get("format_version") != NATIVE_FORMAT_VERSION or meta.get("architecture") != "encodec":
        raise CheckpointFormatError(
            f"{directory}: unsupported streamcodec model format version {meta.get('format_version')!r} "
            f"/ architecture {meta.get('architecture')!r}; upgrade streamcodec"
        )
    weights = directory / SAFETENSORS_FILE
    if not weights.is_file():
        raise CheckpointFormatError(f"{directory} has no {SAFETENSORS_FILE}")
    return _build(EncodecConfig.from_dict(meta["config"]), load_file(str(weights)), meta.get("name", name))


def _read_weights(directory: Path) -> dict[str, torch.Tensor]:
    if (directory / SAFETENSORS_FILE).is_file():
        from safetensors.torch import load_file

        return load_file(str(directory / SAFETENSORS_FILE))
    if (directory / TORCH_BIN_FILE).is_file():
        return torch.load(directory / TORCH_BIN_FILE, map_location="cpu", weights_only=True)
    raise CheckpointFormatError(f"{directory} has neither {SAFETENSORS_FILE} nor {TORCH_BIN_FILE}")


def _load_file(path: Path) -> EncodecModel:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for non-checkpoint files
        raise CheckpointFormatError(f"{path} is not a PyTorch checkpoint streamcodec can read: {error}") from error
    if isinstance(state, dict) and "best_state" in state:
        state = state["best_state"]
    if not isinstance(state, dict) or "encoder.model.0.conv.conv.weight_v" not in state:
        raise CheckpointFormatError(
            f"{path} is not an original-format EnCodec checkpoint (no 'encoder.model.0.conv.conv.weight_v'); "
            "pass a transformers-format directory or a Hub id instead"
        )
    config = config_from_original(state, path.name)
    return _build(config, convert_original_state_dict(state), path.stem)


def _build(config: EncodecConfig, state: dict[str, torch.Tensor], name: str) -> EncodecModel:
    model = EncodecModel(config, name=name)
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Inference-only files (save_model(training_buffers=False)) leave out the codebooks' EMA state.
    ema_missing = {key for key in missing if key.startswith("quantizer.") and key.rsplit(".", 1)[-1] in TRAINING_BUFFERS}
    for codebook in sorted({key.rsplit(".", 1)[0] for key in ema_missing}):
        model.get_submodule(codebook).restore_training_buffers()
    missing = [key for key in missing if key not in ema_missing]
    if missing or unexpected:
        raise CheckpointFormatError(
            f"weights do not fit the {name} architecture: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    return model


# Format converters.


def config_from_transformers(meta: dict[str, Any]) -> EncodecConfig:
    """EncodecConfig from a transformers ``config.json`` (``model_type: encodec``)."""
    if meta.get("norm_type", "weight_norm") != "weight_norm":
        raise CheckpointFormatError(f"norm_type {meta['norm_type']!r} is not supported (weight_norm only)")
    if meta.get("chunk_length_s") is not None:
        raise CheckpointFormatError(
            "chunked EnCodec models (chunk_length_s set, e.g. encodec_48khz) are not supported"
        )
    hidden = meta.get("hidden_size", 128)
    if meta.get("codebook_dim", hidden) != hidden:
        raise CheckpointFormatError("codebook_dim different from hidden_size is not supported")
    seanet = SEANetConfig(
        channels=meta.get("audio_channels", 1),
        dimension=hidden,
        n_filters=meta.get("num_filters", 32),
        ratios=tuple(meta.get("upsampling_ratios", (8, 5, 4, 2))),
        n_residual_layers=meta.get("num_residual_layers", 1),
        residual_kernel_size=meta.get("residual_kernel_size", 3),
        kernel_size=meta.get("kernel_size", 7),
        last_kernel_size=meta.get("last_kernel_size", 7),
        dilation_base=meta.get("dilation_growth_rate", 2),
        compress=meta.get("compress", 2),
        lstm_layers=meta.get("num_lstm_layers", 2),
        conv_shortcut=meta.get("use_conv_shortcut", True),
        causal=meta.get("use_causal_conv", True),
        pad_mode=meta.get("pad_mode", "reflect"),
        trim_right_ratio=meta.get("trim_right_ratio", 1.0),
    )
    sample_rate = meta.get("sampling_rate", 24000)
    codebook_size = meta.get("codebook_size", 1024)
    bandwidths = tuple(float(b) for b in meta.get("target_bandwidths", (1.5, 3.0, 6.0, 12.0, 24.0)))
    # transformers: num_quantizers = 1000 * max bandwidth // (ceil(frame rate) * bits per code)
    frame_rate = math.ceil(sample_rate / seanet.hop_length)
    num_quantizers = int(1000 * bandwidths[-1] // (frame_rate * math.log2(codebook_size)))
    return EncodecConfig(
        sample_rate=sample_rate,
        seanet=seanet,
        num_codebooks=num_quantizers,
        codebook_size=codebook_size,
        normalize=meta.get("normalize", False),
        target_bandwidths=bandwidths,
    )


def config_from_original(state: dict[str, torch.Tensor], filename: str) -> EncodecConfig:
    """EncodecConfig of an original-format checkpoint: widths read off the weights, 24 kHz causal."""
    if any(".norm." in key for key in state) or "48khz" in filename:
        raise CheckpointFormatError(
            f"{filename}: the 48 kHz EnCodec (stereo, chunked, time group norm) is not supported; "
            "use the 24 kHz model"
        )
    first = state["encoder.model.0.conv.conv.weight_v"]
    codebooks = sorted(
        int(m.group(1)) for key in state if (m := re.fullmatch(r"quantizer\.vq\.layers\.(\d+)\._codebook\.embed", key))
    )
    embed = state["quantizer.vq.layers.0._codebook.embed"]
    upsample_kernels = [
        state[key].shape[-1]
        for key in sorted(
            (k for k in state if re.fullmatch(r"decoder\.model\.\d+\.convtr\.convtr\.weight_v", k)),
            key=lambda k: int(k.split(".")[2]),
        )
    ]
    seanet = SEANetConfig(
        channels=first.shape[1],
        dimension=embed.shape[1],
        n_filters=first.shape[0],
        ratios=tuple(kernel // 2 for kernel in upsample_kernels),
    )
    return EncodecConfig(sample_rate=24000, seanet=seanet, num_codebooks=len(codebooks), codebook_size=embed.shape[0])


def convert_transformers_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers ``EncodecModel`` keys -> streamcodec keys, weight norm folded."""
    renamed = {re.sub(r"^quantizer\.layers\.(\d+)\.codebook\.", r"quantizer.layers.\1.", k): v for k, v in state.items()}
    return fold_weight_norm_keys(renamed)


def convert_original_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original ``encodec`` package keys -> streamcodec keys, weight norm folded."""
    renamed = {}
    for key, value in state.items():
        key = re.sub(r"^(encoder|decoder)\.model\.", r"\1.layers.", key)
        key = key.replace(".conv.conv.", ".conv.").replace(".convtr.convtr.", ".conv.")
        key = re.sub(r"^quantizer\.vq\.layers\.(\d+)\._codebook\.", r"quantizer.layers.\1.", key)
        renamed[key] = value
    return fold_weight_norm_keys(renamed)
