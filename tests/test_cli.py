"""Tests of the ``streamcodec`` command line (run in-process through ``main``)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

import streamcodec
from streamcodec import EncodecConfig, EncodecModel
from streamcodec.audio import read_audio
from streamcodec.cli import main
from streamcodec.container import CodesFile, load_codes, save_codes
from streamcodec.modules import SEANetConfig
from tests.conftest import random_codebooks

INPUT_RATE = 44100
INPUT_SECONDS = 1.3
PCM16_STEP = 1 / 32768


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(5)
    model = random_codebooks(EncodecModel(EncodecConfig(seanet=SEANetConfig(n_filters=4, dimension=16)), name="small"))
    return streamcodec.save_model(model.eval(), tmp_path_factory.mktemp("model") / "small")


@pytest.fixture(scope="module")
def model(model_dir: Path) -> EncodecModel:
    return streamcodec.load_model(model_dir)


@pytest.fixture(scope="module")
def input_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1.3 s of a stereo harmonic signal at 44.1 kHz, the channels differing."""
    t = np.arange(round(INPUT_SECONDS * INPUT_RATE)) / INPUT_RATE
    envelope = 0.5 * (1 + np.sin(2 * np.pi * 3 * t))
    left = sum(np.sin(2 * np.pi * 150 * h * t) / h for h in range(1, 8))
    right = sum(np.sin(2 * np.pi * 220 * h * t + h) / h for h in range(1, 6))
    stereo = 0.25 * envelope[:, None] * np.stack([left, right], axis=1)
    path = tmp_path_factory.mktemp("audio") / "input.wav"
    sf.write(path, stereo.astype(np.float32), INPUT_RATE, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory, model_dir: Path, input_wav: Path) -> Path:
    """``input_wav`` encoded at the default 6 kbps."""
    path = tmp_path_factory.mktemp("codes") / "input.sc"
    assert main(["encode", str(input_wav), str(path), "--model", str(model_dir)]) == 0
    return path


def model_input(model: EncodecModel, input_wav: Path) -> torch.Tensor:
    wav, rate = read_audio(input_wav, sample_rate=model.sample_rate, channels=model.channels)
    assert rate == model.sample_rate
    return wav[None]


def run_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``argv``, check it fails as a user error, return its stderr."""
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    last_line = captured.err.strip().splitlines()[-1]
    assert last_line.startswith("streamcodec") and ": error: " in last_line, captured.err
    return captured.err


def test_encode_writes_the_streaming_codes_of_the_resampled_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model_dir: Path, model: EncodecModel, input_wav: Path
) -> None:
    output = tmp_path / "sub" / "out.sc"
    assert main(["encode", str(input_wav), str(output), "--model", str(model_dir)]) == 0
    summary = capsys.readouterr().out
    assert summary.count("\n") == 1
    assert "1.30 s" in summary and "98 frames x 8 codebooks" in summary and "6 kbps" in summary

    codes_file = load_codes(output)
    wav = model_input(model, input_wav)
    expected, scale = model.encode(wav, pad_mode="constant")
    assert scale is None and codes_file.scale is None
    assert codes_file.num_samples == wav.shape[-1] == round(INPUT_SECONDS * 24000)
    assert codes_file.num_frames == math.ceil(INPUT_SECONDS * 24000 / 320) == 98
    assert codes_file.codes.shape == (8, 98)
    np.testing.assert_array_equal(codes_file.codes, expected[0].numpy())
    assert Path(codes_file.model) == model_dir.resolve()
    assert (codes_file.sample_rate, codes_file.channels, codes_file.hop_length, codes_file.cardinality) == (
        24000,
        1,
        320,
        1024,
    )


def test_codebooks_option(tmp_path: Path, model_dir: Path, model: EncodecModel, input_wav: Path) -> None:
    output = tmp_path / "k2.sc"
    assert main(["-q", "encode", str(input_wav), str(output), "--model", str(model_dir), "--codebooks", "2"]) == 0
    codes_file = load_codes(output)
    assert codes_file.num_codebooks == 2
    assert codes_file.bandwidth_kbps == pytest.approx(1.5)
    np.testing.assert_array_equal(codes_file.codes, load_codes_reference(model, input_wav, 2))


def load_codes_reference(model: EncodecModel, input_wav: Path, num_codebooks: int) -> np.ndarray:
    before = model.num_codebooks
    model.set_num_codebooks(num_codebooks)
    try:
        return model.encode(model_input(model, input_wav), pad_mode="constant")[0][0].numpy()
    finally:
        model.set_num_codebooks(before)


def test_bandwidth_option_picks_the_codebooks_that_fit(tmp_path: Path, model_dir: Path, input_wav: Path) -> None:
    output = tmp_path / "b.sc"
    assert main(["encode", str(input_wav), str(output), "-m", str(model_dir), "-b", "3.5", "--quiet"]) == 0
    assert load_codes(output).num_codebooks == 4  # 4 x 0.75 kbps <= 3.5 < 5 x 0.75


def test_info(capsys: pytest.CaptureFixture[str], encoded: Path, model_dir: Path) -> None:
    capsys.readouterr()
    assert main(["info", str(encoded)]) == 0
    text = capsys.readouterr().out
    size = encoded.stat().st_size
    for expected in [
        "model:",
        str(model_dir.resolve()),
        "24000 Hz, 1 channel",
        "320 samples (75 frames/s)",
        "8 x 1024 entries (10 bits per code)",
        "frames:",
        "98",
        "1.300 s (31200 samples)",
        "6 kbps",
        f"{size} bytes",
        f"{size * 8 / 1.3 / 1000:.2f} kbps",
    ]:
        assert expected in text, (expected, text)

    assert main(["info", "--json", str(encoded)]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["model"] == str(model_dir.resolve())
    assert meta["sample_rate"] == 24000 and meta["channels"] == 1 and meta["hop_length"] == 320
    assert meta["frame_rate"] == 75.0
    assert meta["num_codebooks"] == 8 and meta["cardinality"] == 1024 and meta["bits"] == 10
    assert meta["num_frames"] == 98 and meta["num_samples"] == 31200
    assert meta["duration"] == pytest.approx(1.3)
    assert meta["bandwidth_kbps"] == pytest.approx(6.0)
    assert meta["scale"] is None
    assert meta["payload_bytes"] == math.ceil(8 * 98 * 10 / 8)
    assert meta["file_bytes"] == size == meta["header_bytes"] + meta["payload_bytes"]
    assert meta["bitrate_kbps"] == pytest.approx(size * 8 / 1.3 / 1000)


def test_decode_matches_the_offline_decoder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], encoded: Path, model: EncodecModel
) -> None:
    output = tmp_path / "decoded.wav"
    assert main(["decode", str(encoded), str(output)]) == 0  # the model named in the file
    assert "24000 Hz" in capsys.readouterr().out

    codes_file = load_codes(encoded)
    decoded, rate = sf.read(output, dtype="float32", always_2d=True)
    assert rate == 24000
    assert decoded.shape == (codes_file.num_samples, 1)
    assert sf.info(str(output)).subtype == "PCM_16"
    reference = model.decode(torch.from_numpy(np.array(codes_file.codes))[None], pad_mode="constant")
    reference = reference[0, :, : codes_file.num_samples].clamp(-1, 1).numpy().T
    assert np.abs(reference).max() > 1e-3  # not trivially silent
    np.testing.assert_allclose(decoded, reference, rtol=0, atol=PCM16_STEP + 1e-5)


def test_decode_with_explicit_model_and_other_format(tmp_path: Path, encoded: Path, model_dir: Path) -> None:
    output = tmp_path / "nested" / "decoded.flac"
    assert main(["decode", str(encoded), str(output), "--model", str(model_dir), "-q"]) == 0
    assert sf.info(str(output)).samplerate == 24000
    assert sf.info(str(output)).frames == load_codes(encoded).num_samples


def test_bandwidth_too_high(tmp_path: Path, capsys: pytest.CaptureFixture[str], model_dir: Path, input_wav: Path) -> None:
    output = tmp_path / "x.sc"
    err = run_error(capsys, ["encode", str(input_wav), str(output), "-m", str(model_dir), "--bandwidth", "100"])
    assert "100.0 kbps needs 133 codebooks" in err and "at most 24 kbps" in err
    assert not output.exists()
    assert "between 1 and 32" in run_error(capsys, ["encode", str(input_wav), str(output), "-m", str(model_dir), "-k", "0"])
    assert "positive" in run_error(capsys, ["encode", str(input_wav), str(output), "-m", str(model_dir), "-b", "-1"])


def test_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], model_dir: Path) -> None:
    missing = tmp_path / "missing.wav"
    assert "not found" in run_error(capsys, ["encode", str(missing), str(tmp_path / "x.sc"), "-m", str(model_dir)])
    assert "not found" in run_error(capsys, ["decode", str(tmp_path / "missing.sc"), str(tmp_path / "x.wav")])
    assert "not found" in run_error(capsys, ["info", str(tmp_path / "missing.sc")])


def test_unreadable_audio_and_unknown_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model_dir: Path, encoded: Path, input_wav: Path
) -> None:
    err = run_error(capsys, ["encode", str(encoded), str(tmp_path / "x.sc"), "-m", str(model_dir)])
    assert "cannot read audio file" in err
    err = run_error(capsys, ["encode", str(input_wav), str(tmp_path / "x.sc"), "-m", str(tmp_path / "no-such-model")])
    assert "no-such-model" in err


@pytest.mark.parametrize("subcommand", ["decode", "info"])
def test_not_a_codes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], input_wav: Path, subcommand: str) -> None:
    argv = [subcommand, str(input_wav)] + ([str(tmp_path / "out.wav")] if subcommand == "decode" else [])
    assert "not a streamcodec codes file" in run_error(capsys, argv)


def test_model_does_not_fit_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], model_dir: Path) -> None:
    foreign = tmp_path / "foreign.sc"
    codes = np.zeros((4, 10), dtype=np.int64)
    save_codes(foreign, CodesFile("other", 16000, 1, 320, 512, 3000, codes))
    output = tmp_path / "out.wav"
    err = run_error(capsys, ["decode", str(foreign), str(output), "--model", str(model_dir)])
    assert "was not encoded with model 'small'" in err
    assert "sample rate 16000 vs 24000" in err and "codebook size 512 vs 1024" in err
    assert "hop length" not in err and "--model" in err
    assert not output.exists()


def test_model_named_in_the_file_is_unavailable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orphan = tmp_path / "orphan.sc"
    save_codes(orphan, CodesFile(str(tmp_path / "gone"), 24000, 1, 320, 1024, 3000, np.zeros((8, 10), np.int64)))
    err = run_error(capsys, ["decode", str(orphan), str(tmp_path / "out.wav")])
    assert "gone" in err and "pass the model it was encoded with as --model" in err


def test_decode_to_unknown_audio_format(tmp_path: Path, capsys: pytest.CaptureFixture[str], encoded: Path) -> None:
    assert "audio format" in run_error(capsys, ["decode", str(encoded), str(tmp_path / "out.xyz")])


def test_usage_errors(capsys: pytest.CaptureFixture[str], input_wav: Path) -> None:
    assert "required" in run_error(capsys, [])
    assert "not allowed with" in run_error(capsys, ["encode", str(input_wav), "o.sc", "-b", "6", "-k", "2"])
    assert "positive integer" in run_error(capsys, ["--threads", "0", "info", "x.sc"])
    assert main(["--help"]) == 0
    assert "encode" in capsys.readouterr().out


def test_threads_option_before_and_after_the_subcommand(encoded: Path) -> None:
    before = torch.get_num_threads()
    try:
        assert main(["--threads", "1", "info", str(encoded)]) == 0
        assert torch.get_num_threads() == 1
        assert main(["info", str(encoded), "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_python_dash_m() -> None:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "streamcodec", "--help"], cwd=root, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: streamcodec")
    for name in ("encode", "decode", "info"):
        assert name in result.stdout
