"""Pretrained loading: published checkpoint formats, numerically against the reference code."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

import streamcodec
from streamcodec.pretrained import CheckpointFormatError

from .reference import original_encodec, save_transformers_legacy, transformers_encodec
from .synthetic import fill_codebooks

BANDWIDTHS = [1.5, 6.0, 24.0]


@pytest.fixture(scope="module")
def hf_model():
    return transformers_encodec()


@pytest.fixture(scope="module")
def hf_outputs(hf_model, speech_5s):
    """Reference codes and audio at each bandwidth: {kbps: (codes [B, K, F], audio [B, C, T])}."""
    outputs = {}
    with torch.no_grad():
        for bandwidth in BANDWIDTHS:
            encoded = hf_model.encode(speech_5s, bandwidth=bandwidth)
            codes = encoded.audio_codes[0]
            audio = hf_model.decode(encoded.audio_codes, encoded.audio_scales).audio_values
            outputs[bandwidth] = (codes, audio)
    return outputs


@pytest.fixture(scope="module", params=["safetensors", "legacy-bin"])
def hf_checkpoint(request, hf_model, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp(request.param)
    if request.param == "safetensors":
        hf_model.save_pretrained(directory)
        assert (directory / "model.safetensors").is_file()
    else:
        save_transformers_legacy(hf_model, directory)
    return directory


def assert_matches_reference(model, speech, codes_ref, audio_ref, bandwidth):
    model.set_bandwidth(bandwidth)
    codes, scale = model.encode(speech)
    assert scale is None
    assert codes.shape == codes_ref.shape
    assert torch.equal(codes, codes_ref)
    audio = model.decode(codes)
    assert audio.shape == audio_ref.shape
    torch.testing.assert_close(audio, audio_ref, atol=1e-4, rtol=0)


@pytest.mark.parametrize("bandwidth", BANDWIDTHS, ids=lambda b: f"{b}kbps")
def test_transformers_checkpoint_matches_reference(hf_checkpoint, hf_outputs, speech_5s, bandwidth):
    model = streamcodec.load_model(hf_checkpoint)
    assert model.total_codebooks == 32 and model.cardinality == 1024 and model.frame_rate == 75
    assert_matches_reference(model, speech_5s, *hf_outputs[bandwidth], bandwidth)


def test_transformers_checkpoint_from_hub_cache(hf_model, hf_outputs, speech_5s, tmp_path):
    """A Hub id resolves offline from a huggingface_hub cache laid out as a real download leaves it."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--facebook--encodec_24khz"
    hf_model.save_pretrained(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    model = streamcodec.load_model("facebook/encodec_24khz", cache_dir=tmp_path)
    assert_matches_reference(model, speech_5s, *hf_outputs[6.0], 6.0)
    pinned = streamcodec.load_model("facebook/encodec_24khz", cache_dir=tmp_path, revision=commit)
    assert torch.equal(pinned.encode(speech_5s)[0], model.encode(speech_5s)[0])


def test_hub_unreachable_and_not_cached_says_what_to_do(tmp_path):
    with pytest.raises(ConnectionError, match="not in the local cache"):
        streamcodec.load_model("facebook/encodec_24khz", cache_dir=tmp_path)


@pytest.fixture(scope="module")
def original_model():
    return original_encodec()


@pytest.mark.parametrize("bandwidth", BANDWIDTHS, ids=lambda b: f"{b}kbps")
def test_original_checkpoint_matches_reference(original_model, speech_5s, tmp_path, bandwidth):
    path = tmp_path / "encodec_24khz-d7cc33bc.th"
    torch.save(original_model.state_dict(), path)
    model = streamcodec.load_model(path)
    original_model.set_target_bandwidth(bandwidth)
    with torch.no_grad():
        frames = original_model.encode(speech_5s)
        audio_ref = original_model.decode(frames)
    codes_ref = frames[0][0]
    assert_matches_reference(model, speech_5s, codes_ref, audio_ref, bandwidth)


def test_native_format_round_trip(small_model, speech_5s, tmp_path):
    streamcodec.save_model(small_model, tmp_path / "m")
    loaded = streamcodec.load_model(tmp_path / "m")
    assert loaded.config == small_model.config
    assert torch.equal(loaded.encode(speech_5s)[0], small_model.encode(speech_5s)[0])


def test_compact_export_is_half_precision_inference_state(small_model, speech_5s, tmp_path):
    from safetensors.torch import load_file

    streamcodec.save_model(small_model, tmp_path / "full")
    streamcodec.save_model(small_model, tmp_path / "compact", dtype=torch.float16, training_buffers=False)
    stored = load_file(str(tmp_path / "compact" / "model.safetensors"))
    assert not any(key.endswith(("embed_avg", "cluster_size", "inited")) for key in stored)
    assert {value.dtype for value in stored.values() if value.is_floating_point()} == {torch.float16}
    full_size = (tmp_path / "full" / "model.safetensors").stat().st_size
    assert (tmp_path / "compact" / "model.safetensors").stat().st_size < 0.4 * full_size

    loaded = streamcodec.load_model(tmp_path / "compact")
    assert next(loaded.parameters()).dtype == torch.float32
    for codebook in loaded.quantizer.layers:  # EMA state rebuilt, so training could resume from it
        assert codebook.inited.item() == 1.0 and torch.equal(codebook.embed_avg, codebook.embed)
    codes = loaded.encode(speech_5s)[0]
    agreement = (codes == small_model.encode(speech_5s)[0]).float().mean().item()
    assert agreement > 0.9  # float16 rounding moves a few near-tie latents to a neighbouring code
    torch.testing.assert_close(loaded.decode(codes), small_model.decode(codes), atol=2e-3, rtol=0)


def test_weight_norm_training_model_exports_same_function(small_config, speech_5s, tmp_path):
    trained = streamcodec.EncodecModel(small_config, weight_norm=True).eval()
    streamcodec.save_model(trained, tmp_path / "wn")
    loaded = streamcodec.load_model(tmp_path / "wn")
    with torch.no_grad():
        expected = trained.decoder(trained.encoder(speech_5s))
        got = loaded.decoder(loaded.encoder(speech_5s))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_non_causal_32khz_loads_but_refuses_to_stream(tmp_path, speech_5s):
    from transformers import EncodecConfig as HFConfig
    from transformers import EncodecModel as HFModel

    config = HFConfig(
        sampling_rate=32000, num_filters=8, upsampling_ratios=[8, 5, 4, 4], codebook_size=2048,
        use_causal_conv=False, use_conv_shortcut=False, target_bandwidths=[2.2], normalize=False,
    )
    reference = HFModel(config).eval()
    fill_codebooks(layer.codebook.embed for layer in reference.quantizer.layers)
    reference.save_pretrained(tmp_path)
    model = streamcodec.load_model(tmp_path)
    assert (model.sample_rate, model.frame_rate, model.total_codebooks, model.cardinality) == (32000, 50, 4, 2048)
    model.set_num_codebooks(4)
    with torch.no_grad():
        encoded = reference.encode(speech_5s[..., :32000], bandwidth=2.2)
        audio_ref = reference.decode(encoded.audio_codes, encoded.audio_scales).audio_values
    codes, _ = model.encode(speech_5s[..., :32000])
    assert torch.equal(codes, encoded.audio_codes[0])
    torch.testing.assert_close(model.decode(codes), audio_ref, atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="not causal"):
        model.streaming_encoder()


@pytest.mark.parametrize(
    "content, match",
    [
        pytest.param(b"not a checkpoint", "not a PyTorch checkpoint", id="garbage-file"),
        pytest.param(None, "not an original-format EnCodec checkpoint", id="other-state-dict"),
    ],
)
def test_unknown_file_format(tmp_path, content, match):
    path = tmp_path / "model.th"
    if content is None:
        torch.save({"layer.weight": torch.zeros(2)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointFormatError, match=match):
        streamcodec.load_model(path)


def test_unknown_directory_format(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "wav2vec2"}))
    with pytest.raises(CheckpointFormatError, match="neither a streamcodec model"):
        streamcodec.load_model(tmp_path)


def test_missing_path_is_clear():
    with pytest.raises(FileNotFoundError, match="neither 'default'"):
        streamcodec.load_model("./no/such/dir")


def test_partial_last_frame_matches_reference(hf_model, hf_checkpoint, speech_5s):
    """A signal that ends mid-frame: the reference pads each layer's input to whole windows."""
    speech = speech_5s[..., :100_123]
    with torch.no_grad():
        encoded = hf_model.encode(speech, bandwidth=6.0)
        audio_ref = hf_model.decode(encoded.audio_codes, encoded.audio_scales).audio_values
    model = streamcodec.load_model(hf_checkpoint)
    assert_matches_reference(model, speech, encoded.audio_codes[0], audio_ref, 6.0)
    assert model.encode(speech)[0].shape[-1] == 313  # ceil(100123 / 320)


def test_renormalising_model_matches_reference_and_refuses_to_stream(tmp_path, speech_5s):
    """``normalize: true`` scales each input to unit RMS and returns the scale for decoding."""
    from transformers import EncodecConfig as HFConfig
    from transformers import EncodecModel as HFModel

    reference = HFModel(HFConfig(num_filters=8, normalize=True)).eval()
    fill_codebooks(layer.codebook.embed for layer in reference.quantizer.layers)
    reference.save_pretrained(tmp_path)
    quiet = speech_5s[..., :48_000] * 0.05
    with torch.no_grad():
        encoded = reference.encode(quiet, bandwidth=6.0)
        audio_ref = reference.decode(encoded.audio_codes, encoded.audio_scales).audio_values
    model = streamcodec.load_model(tmp_path)
    codes, scale = model.encode(quiet)
    torch.testing.assert_close(scale, encoded.audio_scales[0])
    assert torch.equal(codes, encoded.audio_codes[0])
    torch.testing.assert_close(model.decode(codes, scale), audio_ref, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="renormalises"):
        model.streaming_decoder()
