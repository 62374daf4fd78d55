"""Ship a trained model as the bundled default: compact weights inside the package.

    python -m streamcodec.train.bundle streamcodec/train/runs/default/best
    python -m streamcodec.train.bundle streamcodec/train/runs/default/checkpoint.pt   # the latest step

Writes ``streamcodec/weights/default/{config.json, model.safetensors}``: folded weights stored
as float16, without the codebooks' EMA learning state (the trainer's checkpoint keeps that).
The model card beside them (``MODEL_CARD.md``) is written by hand from the benchmarks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..models.encodec import EncodecModel
from ..pretrained import DEFAULT_MODEL_DIR, load_model, save_model
from .trainer import build_model


def load_trained(source: str | Path) -> EncodecModel:
    """A trainer checkpoint (``OUT/checkpoint.pt``) as an inference model, or any ``load_model`` name."""
    path = Path(source)
    if path.suffix != ".pt":
        return load_model(source)
    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or not {"model", "config", "step"} <= state.keys():
        raise ValueError(f"{path} is not a checkpoint of streamcodec's trainer (no model, config and step)")
    model = build_model(state["config"]["n_filters"])
    model.load_state_dict(state["model"])
    return model.eval().requires_grad_(False)


def bundle(source: str | Path, target: Path = DEFAULT_MODEL_DIR) -> Path:
    """Load the model at ``source`` and write it compactly to ``target``, named ``default``."""
    model = load_trained(source)
    model.name = "default"
    return save_model(model, target, dtype=torch.float16, training_buffers=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="a trained model: the trainer's OUT/best or OUT/checkpoint.pt, or any load_model name")
    parser.add_argument("--target", type=Path, default=DEFAULT_MODEL_DIR)
    args = parser.parse_args(argv)
    path = bundle(args.source, args.target)
    size = (path / "model.safetensors").stat().st_size / 2**20
    print(f"wrote {path} ({size:.1f} MiB)")


if __name__ == "__main__":
    main()
