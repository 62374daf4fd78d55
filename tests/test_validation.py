"""Bad input gets a clear error naming the problem, and loses nothing already accepted."""

from __future__ import annotations

import numpy as np
import pytest
import torch


@pytest.mark.parametrize(
    "wav, match",
    [
        pytest.param(torch.zeros(640), r"\[batch, channels, samples\]", id="rank-1"),
        pytest.param(torch.zeros(1, 640), r"\[batch, channels, samples\]", id="rank-2"),
        pytest.param(torch.zeros(1, 2, 640), "1-channel audio, got 2 channels", id="stereo-to-mono-model"),
        pytest.param(torch.zeros(1, 1, 640, dtype=torch.int16), "floating point", id="int-samples"),
        pytest.param(torch.tensor([[[0.0, float("nan")] * 320]]), "NaN or infinite", id="nan"),
        pytest.param(torch.tensor([[[0.0, float("inf")] * 320]]), "NaN or infinite", id="inf"),
        pytest.param([0.0] * 640, "torch.Tensor or numpy array", id="list"),
    ],
)
def test_bad_audio(small_model, wav, match):
    with pytest.raises((ValueError, TypeError), match=match):
        small_model.encode(wav)
    encoder = small_model.streaming_encoder()
    with pytest.raises((ValueError, TypeError), match=match):
        encoder.push(wav)


def test_empty_signal(small_model):
    with pytest.raises(ValueError, match="empty signal"):
        small_model.encode(torch.zeros(1, 1, 0))
    assert small_model.streaming_encoder().push(torch.zeros(1, 1, 0)).shape == (1, 8, 0)


def test_wrong_sample_rate(small_model):
    with pytest.raises(ValueError, match="runs at 24000 Hz but the audio is at 16000 Hz"):
        small_model.encode(torch.zeros(1, 1, 640), sample_rate=16000)


def test_bad_push_loses_nothing_already_accepted(small_model):
    wav = torch.randn(1, 1, 1000) * 0.1
    good = small_model.streaming_encoder()
    expected = torch.cat([good.push(wav), good.flush()], dim=-1)
    encoder = small_model.streaming_encoder()
    first = encoder.push(wav[..., :500])
    with pytest.raises(ValueError, match="NaN"):
        encoder.push(torch.full((1, 1, 100), float("nan")))
    with pytest.raises(ValueError, match="batch size 2"):
        encoder.push(torch.zeros(2, 1, 100))
    assert encoder.pending_samples == 500 % 320
    got = torch.cat([first, encoder.push(wav[..., 500:]), encoder.flush()], dim=-1)
    assert torch.equal(got, expected)


def test_numpy_input_is_accepted(small_model):
    wav = np.random.default_rng(0).normal(scale=0.1, size=(1, 1, 960))
    codes, _ = small_model.encode(wav)
    assert torch.equal(codes, small_model.encode(torch.from_numpy(wav).float())[0])


@pytest.mark.parametrize(
    "codes, match",
    [
        pytest.param(torch.full((1, 2, 3), 1024), r"must lie in \[0, 1023\]", id="too-large"),
        pytest.param(torch.full((1, 2, 3), -1), r"must lie in \[0, 1023\]", id="negative"),
        pytest.param(torch.zeros(1, 33, 3, dtype=torch.long), "33 codebooks; small-test decodes 1 to 32", id="too-many"),
        pytest.param(torch.zeros(1, 0, 3, dtype=torch.long), "0 codebooks", id="none"),
        pytest.param(torch.zeros(1, 2, 3), "must be integers", id="float"),
        pytest.param(torch.zeros(2, 3, dtype=torch.long), r"\[batch, codebooks, frames\]", id="rank-2"),
    ],
)
def test_bad_codes(small_model, codes, match):
    with pytest.raises(ValueError, match=match):
        small_model.decode(codes)
    with pytest.raises(ValueError, match=match):
        small_model.streaming_decoder().push(codes)


@pytest.mark.parametrize("count", [0, 33, -1])
def test_bad_codebook_count(small_model, count):
    with pytest.raises(ValueError, match="between 1 and 32"):
        small_model.set_num_codebooks(count)
    with pytest.raises(ValueError, match="between 1 and 32"):
        small_model.streaming_encoder().set_num_codebooks(count)


@pytest.mark.parametrize("kbps, match", [(48.0, "needs 64 codebooks"), (0.0, "positive"), (float("nan"), "positive")])
def test_bad_bandwidth(small_model, kbps, match):
    with pytest.raises(ValueError, match=match):
        small_model.set_bandwidth(kbps)


@pytest.mark.parametrize("kbps, codebooks", [(1.5, 2), (3.0, 4), (6.0, 8), (12.0, 16), (24.0, 32), (7.0, 9)])
def test_bandwidth_to_codebooks(small_model, kbps, codebooks):
    assert small_model.codebooks_for_bandwidth(kbps) == codebooks
    assert small_model.bandwidth_for(codebooks) == pytest.approx(codebooks * 0.75)


@pytest.mark.parametrize("batch_size", [0, -2, 1.5, True])
def test_bad_batch_size(small_model, batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        small_model.streaming_encoder(batch_size)


def test_bad_reset_mask(small_model):
    with pytest.raises(ValueError, match="bool tensor of shape"):
        small_model.streaming_decoder(2).reset(torch.tensor([1, 0]))
