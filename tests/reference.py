"""Reference implementations with random weights, saved in their published checkpoint formats."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import torch

from .synthetic import fill_codebooks


def transformers_encodec(seed: int = 0):
    """transformers' EncodecModel with the 24 kHz config, random weights and random codebooks."""
    from transformers import EncodecConfig, EncodecModel

    torch.manual_seed(seed)
    model = EncodecModel(EncodecConfig()).eval()
    fill_codebooks((layer.codebook.embed for layer in model.quantizer.layers), seed)
    return model


def save_transformers_legacy(model, directory: Path) -> Path:
    """Save as the Hub's facebook/encodec_24khz is stored: pytorch_model.bin with weight_g/weight_v keys."""
    directory.mkdir(parents=True, exist_ok=True)
    model.config.save_pretrained(directory)
    state = {
        key.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): value
        for key, value in model.state_dict().items()
    }
    torch.save(state, directory / "pytorch_model.bin")
    return directory


def import_encodec():
    """The original ``encodec`` package; it imports torchaudio only for file I/O, so a stand-in will do."""
    try:
        importlib.import_module("torchaudio")
    except (ImportError, OSError):
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    return importlib.import_module("encodec")


def original_encodec(seed: int = 0):
    """The original package's 24 kHz model with random weights and random codebooks."""
    encodec = import_encodec()
    torch.manual_seed(seed)
    model = encodec.EncodecModel._get_model(
        target_bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0],
        sample_rate=24000,
        channels=1,
        causal=True,
        model_norm="weight_norm",
        audio_normalize=False,
        segment=None,
        name="encodec_24khz",
    ).eval()
    fill_codebooks((layer._codebook.embed for layer in model.quantizer.vq.layers), seed)
    return model
