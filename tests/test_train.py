"""The training loop: learns, checkpoints, resumes, and exports a model load_model can stream."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import streamcodec
from streamcodec.train.bundle import bundle
from streamcodec.train.corpus import Clip, load_manifest, write_manifest
from streamcodec.train.corpus.signal import read_mono
from streamcodec.train.corpus.subset import write_subset
from streamcodec.train.evaluation import speech_scores
from streamcodec.train.losses import (
    latent_decorrelation,
    level_db,
    mel_distance,
    multiresolution_stft_loss,
    multiscale_mel_loss,
    si_snr,
)
from streamcodec.train.trainer import TrainConfig, Trainer

from .synthetic import speechlike


def tiny_corpus(root: Path) -> Path:
    clips = []
    for index in range(6):
        split = "valid" if index == 5 else "train"
        kind = "speech" if index % 2 == 0 else "music"
        path = f"clips/{index}.flac"
        (root / "clips").mkdir(parents=True, exist_ok=True)
        sf.write(root / path, speechlike(2.0, seed=index).numpy(), 24000)
        clips.append(Clip(path, "test", kind, f"s{index}", "a test signal", split, 2.0))
    write_manifest(root, clips)
    return root


def config(tmp_path: Path, steps: int) -> TrainConfig:
    return TrainConfig(
        data_dir=tiny_corpus(tmp_path / "data"), out_dir=tmp_path / "run", n_filters=2, segment_seconds=0.2,
        batch_size=2, steps=steps, valid_every=2, checkpoint_every=2, valid_clips=2, decorrelation_weight=0.1, device="cpu",
    )


def test_losses_are_zero_on_identity_and_grow_with_error():
    wav = speechlike(0.5)[None, None]
    assert multiscale_mel_loss(wav, wav, 24000).item() == 0.0
    assert multiscale_mel_loss(0.3 * wav, wav, 24000).item() > 0.5  # level errors count
    assert si_snr(wav, wav).item() > 80
    assert si_snr(wav + 0.1 * torch.randn_like(wav), wav).item() < 20
    assert mel_distance(wav, wav, 24000).item() == 0.0
    assert abs(level_db(wav, wav).item()) < 1e-4
    assert abs(level_db(0.1 * wav, wav).item() + 20) < 1e-3  # a 10x quieter output reads -20 dB


def test_stft_loss_is_zero_on_identity_and_grows_with_level_and_noise():
    wav = speechlike(0.5)[None, None]
    assert multiresolution_stft_loss(wav, wav).item() == 0.0
    quieter = multiresolution_stft_loss(0.5 * wav, wav).item()
    assert quieter > 0.5  # spectral convergence alone is 0.5 for a 6 dB level error
    noisy = multiresolution_stft_loss(wav + 0.05 * torch.randn_like(wav), wav).item()
    assert noisy > multiresolution_stft_loss(wav + 0.005 * torch.randn_like(wav), wav).item() > 0


def test_speech_scores_rank_clean_above_noisy_speech():
    clean = speechlike(3.0, seed=1).numpy()
    noisy = clean + 0.3 * clean.std() * np.random.default_rng(0).standard_normal(len(clean)).astype(np.float32)
    same, degraded = speech_scores(clean, clean, 24000), speech_scores(clean, noisy, 24000)
    assert same["stoi"] > 0.99 and degraded["stoi"] < same["stoi"]
    assert same["pesq_wb"] > 4.5 > degraded["pesq_wb"]


def test_latent_decorrelation_tells_independent_from_collapsed_channels():
    generator = torch.Generator().manual_seed(0)
    independent = torch.randn(4, 16, 500, generator=generator)
    collapsed = torch.randn(4, 1, 500, generator=generator) * torch.linspace(0.5, 2, 16)[None, :, None]
    assert latent_decorrelation(independent).item() < 0.1
    assert latent_decorrelation(collapsed).item() > 14  # 15 off-diagonal correlations of 1 per channel


def test_training_resumes_and_exports_a_streamable_model(tmp_path):
    Trainer(config(tmp_path, steps=2)).train()
    run = tmp_path / "run"
    first = torch.load(run / "checkpoint.pt", weights_only=False)
    assert first["step"] == 2
    resumed = Trainer(config(tmp_path, steps=4))
    assert resumed.step == 2
    assert torch.equal(
        resumed.model.state_dict()["encoder.layers.0.conv.parametrizations.weight.original1"],
        first["model"]["encoder.layers.0.conv.parametrizations.weight.original1"],
    )
    resumed.train()
    assert torch.load(run / "checkpoint.pt", weights_only=False)["step"] == 4
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "score" in r] == [2, 4]
    assert all(np.isfinite(r["valid/level_db@6"]) for r in records if "score" in r)
    assert all(r["decorrelation"] >= 0 for r in records)

    # An interruption after the checkpoint: the records of steps to be redone are dropped on resume.
    with (run / "log.jsonl").open("a") as log:
        log.write(json.dumps({"step": 5, "loss": 1.0}) + "\n")
    relaunched = Trainer(dataclasses.replace(config(tmp_path, steps=4), learning_rate=5e-5))
    assert {group["lr"] for group in relaunched.optimizer.param_groups} == {5e-5}  # the new command's rate
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in records) == 4
    assert all(np.isfinite(r["loss"]) for r in records)

    bundled = streamcodec.load_model(bundle(run / "checkpoint.pt", tmp_path / "bundled"))
    assert bundled.name == "default" and bundled.config == resumed.model.config
    with torch.inference_mode():  # float16 storage of the trained weights: the same codec
        resumed.model.eval()
        expected = resumed.model.decoder(resumed.model.encoder(speechlike(0.4)[None, None]))
        got = bundled.decoder(bundled.encoder(speechlike(0.4)[None, None]))
    torch.testing.assert_close(got, expected, atol=1e-2 * expected.abs().max().item(), rtol=0)

    model = streamcodec.load_model(run / "best")
    assert model.name == "default" and model.config.seanet.pad_mode == "constant"
    wav = speechlike(0.4)[None, None][..., :9600]
    codes, _ = model.encode(wav)
    encoder = model.streaming_encoder()
    assert torch.equal(torch.cat([encoder.push(wav[..., :1000]), encoder.push(wav[..., 1000:])], -1), codes)


def test_compact_subset_fits_its_budget_and_trains(tmp_path):
    data = tiny_corpus(tmp_path / "data")
    full = sum(f.stat().st_size for f in (data / "clips").iterdir())
    budget = 60_000  # one 2 s validation clip (~16 kB as Vorbis) and two of the five training clips
    clips = write_subset(data, tmp_path / "subset", budget, valid_share=0.3)
    files = list((tmp_path / "subset" / "clips").iterdir())
    assert sum(f.stat().st_size for f in files) <= budget < full
    assert [clip.split for clip in clips].count("valid") == 1 and 0 < [clip.split for clip in clips].count("train") < 5
    assert len(files) == len(clips) and all(f.suffix == ".ogg" for f in files)
    reread = load_manifest(tmp_path / "subset")
    assert [clip.path for clip in reread] == [clip.path for clip in clips]
    copy = read_mono(clips[0].file)
    original = read_mono((data / clips[0].path).with_suffix(".flac"))
    assert abs(len(copy) - len(original)) < 1000 and si_snr(torch.from_numpy(copy[: len(original)]), torch.from_numpy(original[: len(copy)])).item() > 10
    trained = dataclasses.replace(config(tmp_path, steps=1), data_dir=tmp_path / "subset")
    Trainer(trained).train()
    assert (trained.out_dir / "checkpoint.pt").is_file()


def test_subset_too_small_for_a_clip_is_refused(tmp_path):
    with pytest.raises(ValueError, match="raise --max-mib"):
        write_subset(tiny_corpus(tmp_path / "data"), tmp_path / "subset", 1000)
