"""Test configuration: everything runs offline, deterministic seeds."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere

import pytest  # noqa: E402
import torch  # noqa: E402

from streamcodec import EncodecConfig, EncodecModel  # noqa: E402
from streamcodec.modules import SEANetConfig  # noqa: E402

from .synthetic import fill_codebooks, speechlike  # noqa: E402


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def random_codebooks(model: EncodecModel, seed: int = 0) -> EncodecModel:
    """``model`` with random codebooks (see ``fill_codebooks``)."""
    fill_codebooks((layer.embed for layer in model.quantizer.layers), seed)
    return model


@pytest.fixture(scope="session")
def small_config() -> EncodecConfig:
    """A narrow causal model with the 24 kHz structure, fast enough for exhaustive streaming tests."""
    return EncodecConfig(seanet=SEANetConfig(n_filters=4, dimension=16, pad_mode="reflect"), num_codebooks=32)


@pytest.fixture(scope="session")
def small_model(small_config: EncodecConfig) -> EncodecModel:
    torch.manual_seed(1)
    return random_codebooks(EncodecModel(small_config, name="small-test")).eval().requires_grad_(False)


@pytest.fixture(scope="session")
def full_model() -> EncodecModel:
    """The full 24 kHz architecture with random weights."""
    torch.manual_seed(2)
    return random_codebooks(EncodecModel(name="encodec-24khz-random")).eval().requires_grad_(False)


@pytest.fixture(params=[False, True], ids=["eager", "traced"])
def traced(request) -> bool:
    """Streaming sessions run step by step in Python, or replayed from TorchScript traces."""
    return request.param


@pytest.fixture(scope="session")
def speech_5s() -> torch.Tensor:
    return speechlike(5.0, seed=3)[None, None]
