"""Chunked streaming equals the whole-signal computation with the same start-of-stream padding."""

from __future__ import annotations

import random

import pytest
import torch

from streamcodec.modules import StreamingConv1d, StreamingConvTranspose1d, StreamingLSTM

from .synthetic import speechlike


def split(total: int, sizes: list[int] | str, seed: int = 0) -> list[int]:
    """Chunk lengths covering ``total``: a repeated size pattern, or ``"random"`` (0 to 5000)."""
    rng = random.Random(seed)
    out: list[int] = []
    while sum(out) < total:
        out.append(rng.choice([0, 1, 2, 7, 319, 320, 321, 333, 640, 1000, 4800]) if sizes == "random" else sizes[len(out) % len(sizes)])
    out[-1] -= sum(out) - total
    return out


def chunks(x: torch.Tensor, sizes: list[int]):
    start = 0
    for size in sizes:
        yield x[..., start : start + size]
        start += size


def stream(push, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    return torch.cat([push(chunk) for chunk in chunks(x, sizes)], dim=-1)


# Layers.


@pytest.mark.parametrize(
    "kernel, stride, dilation",
    [pytest.param(7, 1, 1, id="k7"), pytest.param(3, 1, 4, id="k3-d4"), pytest.param(1, 1, 1, id="k1"),
     pytest.param(2, 2, 1, id="k2-s2"),
     pytest.param(10, 5, 1, id="k10-s5"), pytest.param(16, 8, 1, id="k16-s8")],
)
@pytest.mark.parametrize("sizes", [[1], [7], [13, 1, 40], "random"], ids=["1", "7", "mixed", "random"])
def test_conv_step_equals_zero_padded_forward(kernel, stride, dilation, sizes):
    conv = StreamingConv1d(3, 5, kernel, stride, dilation, pad_mode="reflect").eval()
    x = torch.randn(2, 3, 400)
    with torch.no_grad():
        offline = conv(x, pad_mode="constant")
        state = conv.init_state(2)
        streamed = stream(lambda c: conv.step(c, state), x, split(400, sizes))
    assert streamed.shape[-1] == 400 // stride
    torch.testing.assert_close(streamed, offline[..., : streamed.shape[-1]], atol=1e-5, rtol=1e-5)


def test_conv_kernel_must_cover_its_stride():
    with pytest.raises(ValueError, match="skip inputs"):
        StreamingConv1d(1, 1, kernel_size=1, stride=3)


@pytest.mark.parametrize("kernel, stride", [(16, 8), (10, 5), (8, 4), (4, 2)])
def test_conv_transpose_step_equals_forward(kernel, stride):
    conv = StreamingConvTranspose1d(6, 3, kernel, stride).eval()
    x = torch.randn(2, 6, 50)
    with torch.no_grad():
        offline = conv(x)
        state = conv.init_state(2)
        streamed = stream(lambda c: conv.step(c, state), x, split(50, [1, 0, 3, 7]))
    assert streamed.shape == offline.shape == (2, 3, 50 * stride)
    torch.testing.assert_close(streamed, offline, atol=1e-5, rtol=1e-5)


def test_lstm_step_keeps_state():
    lstm = StreamingLSTM(8, 2).eval()
    x = torch.randn(3, 8, 30)
    with torch.no_grad():
        state = lstm.init_state(3)
        streamed = stream(lambda c: lstm.step(c, state), x, [1, 0, 5, 24])
        torch.testing.assert_close(streamed, lstm(x), atol=1e-5, rtol=1e-5)


# Whole model.

ENCODER_CHUNKINGS = [
    pytest.param([1], id="1-sample"),
    pytest.param([7], id="7"),
    pytest.param([320], id="320"),
    pytest.param([333], id="333"),
    pytest.param([4800], id="4800"),
    pytest.param([1, 7, 320, 333, 4800, 0, 5], id="mixed"),
    pytest.param("random", id="random"),
]


@pytest.fixture(scope="module")
def speech_2s() -> torch.Tensor:
    return speechlike(2.0, seed=5)[None, None][..., :47_000]  # not a whole number of frames


def encode_streaming(model, wav, sizes, batch_size=1, traced=None):
    encoder = model.streaming_encoder(batch_size, traced=traced)
    codes = stream(encoder.push, wav, split(wav.shape[-1], sizes))
    return torch.cat([codes, encoder.flush()], dim=-1)


def identical_fraction(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return (a == b).float().mean().item()


@pytest.mark.parametrize("sizes", ENCODER_CHUNKINGS)
def test_streaming_encoder_equals_offline(small_model, speech_2s, sizes, traced):
    expected, _ = small_model.encode(speech_2s, pad_mode="constant")
    codes = encode_streaming(small_model, speech_2s, sizes, traced=traced)
    assert codes.shape == expected.shape == (1, 8, 147)
    assert identical_fraction(codes, expected) >= 0.999


@pytest.mark.parametrize("sizes", [pytest.param([1], id="1-sample"), pytest.param([333, 4800, 7], id="mixed")])
def test_full_size_streaming_encoder_equals_offline(full_model, speech_2s, sizes, traced):
    wav = speech_2s[..., :24_000]
    expected, _ = full_model.encode(wav, pad_mode="constant")
    assert identical_fraction(encode_streaming(full_model, wav, sizes, traced=traced), expected) >= 0.999


@pytest.mark.parametrize("sizes", [pytest.param([1], id="1-frame"), pytest.param("random", id="random")])
def test_streaming_decoder_equals_offline(full_model, speech_2s, sizes, traced):
    codes, _ = full_model.encode(speech_2s, pad_mode="constant")
    expected = full_model.decode(codes, pad_mode="constant")
    decoder = full_model.streaming_decoder(traced=traced)
    frame_sizes = split(codes.shape[-1], [1] if sizes == [1] else [1, 3, 0, 10, 2, 40])
    audio = stream(decoder.push, codes, frame_sizes)
    assert audio.shape == expected.shape == (1, 1, codes.shape[-1] * 320)
    torch.testing.assert_close(audio, expected, atol=1e-4, rtol=0)


def test_decoder_codebook_count_may_change_every_frame(small_model, speech_2s, traced):
    small_model.set_num_codebooks(32)
    codes, _ = small_model.encode(speech_2s, pad_mode="constant")
    small_model.set_num_codebooks(8)
    pattern = [1, 8, 3, 32, 2]
    counts = [pattern[f % len(pattern)] for f in range(codes.shape[-1])]
    decoder = small_model.streaming_decoder(traced=traced)
    audio = torch.cat([decoder.push(codes[:, :k, f : f + 1]) for f, k in enumerate(counts)], dim=-1)
    latent = torch.stack(
        [small_model.decode_latent(codes[:, :k, f : f + 1])[..., 0] for f, k in enumerate(counts)], dim=-1
    )
    with torch.no_grad():
        expected = small_model.decoder(latent, pad_mode="constant")
    torch.testing.assert_close(audio, expected, atol=1e-5, rtol=0)


def test_batched_streams_equal_single_streams(small_model, traced):
    wavs = torch.stack([speechlike(0.6, seed=s) for s in range(4)])[:, None]
    sizes = [320, 960, 640]
    batched_codes = encode_streaming(small_model, wavs, sizes, batch_size=4, traced=traced)
    decoder = small_model.streaming_decoder(4, traced=traced)
    batched_audio = stream(decoder.push, batched_codes, split(batched_codes.shape[-1], [2, 5]))
    for i in range(4):
        single_codes = encode_streaming(small_model, wavs[i : i + 1], sizes)
        assert identical_fraction(batched_codes[i : i + 1], single_codes) >= 0.999
        single_decoder = small_model.streaming_decoder(1)
        single_audio = stream(single_decoder.push, single_codes, [1] * single_codes.shape[-1])
        torch.testing.assert_close(batched_audio[i : i + 1], single_audio, atol=1e-5, rtol=0)


def test_reset_returns_to_a_fresh_stream(small_model, speech_2s, traced):
    encoder = small_model.streaming_encoder(traced=traced)
    decoder = small_model.streaming_decoder(traced=traced)
    decoder.push(encoder.push(speech_2s[..., 5000:9999]))
    encoder.reset()
    decoder.reset()
    assert encoder.pending_samples == 0 and encoder.frames == 0 and decoder.frames == 0
    codes = encoder.push(speech_2s[..., :6400])
    fresh_codes = small_model.streaming_encoder().push(speech_2s[..., :6400])
    assert torch.equal(codes, fresh_codes)
    torch.testing.assert_close(decoder.push(codes), small_model.streaming_decoder().push(codes), atol=0, rtol=0)


def test_reset_mask_restarts_only_chosen_streams(small_model, traced):
    wavs = torch.stack([speechlike(0.4, seed=s) for s in range(3)])[:, None]
    encoder = small_model.streaming_encoder(3, traced=traced)
    decoder = small_model.streaming_decoder(3, traced=traced)
    decoder.push(encoder.push(wavs[..., :3200]))
    mask = torch.tensor([False, True, False])
    encoder.reset(mask)
    decoder.reset(mask)
    codes = encoder.push(wavs[..., 3200:6400])
    audio = decoder.push(codes)

    reference = small_model.streaming_encoder(3)
    reference_decoder = small_model.streaming_decoder(3)
    reference_decoder.push(reference.push(wavs[..., :3200]))
    continued = reference.push(wavs[..., 3200:6400])
    continued_audio = reference_decoder.push(continued)
    fresh = small_model.streaming_encoder(1).push(wavs[1:2, :, 3200:6400])
    assert torch.equal(codes[[0, 2]], continued[[0, 2]])
    assert torch.equal(codes[1:2], fresh)
    torch.testing.assert_close(audio[[0, 2]], continued_audio[[0, 2]], atol=0, rtol=0)
    torch.testing.assert_close(audio[1:2], small_model.streaming_decoder(1).push(fresh), atol=1e-6, rtol=0)


def test_reset_mask_refuses_a_partial_frame(small_model):
    encoder = small_model.streaming_encoder(2)
    encoder.push(torch.zeros(2, 1, 100))
    with pytest.raises(ValueError, match="frame boundary"):
        encoder.reset(torch.tensor([True, False]))


def test_encoder_waits_for_whole_frames(small_model):
    encoder = small_model.streaming_encoder()
    assert encoder.push(torch.zeros(1, 1, 319)).shape == (1, 8, 0)
    assert encoder.pending_samples == 319
    assert encoder.push(torch.zeros(1, 1, 1)).shape == (1, 8, 1)
    assert encoder.push(torch.zeros(1, 1, 0)).shape == (1, 8, 0)
    assert encoder.flush().shape == (1, 8, 0)


def test_stream_start_differs_from_reference_padding_only_at_the_start(small_model, speech_2s):
    """Reflect padding (reference) lets the first outputs look ahead; a causal stream uses zeros."""
    reference, _ = small_model.encode(speech_2s)
    streamed = encode_streaming(small_model, speech_2s, [320])
    assert not torch.equal(reference[..., :1], streamed[..., :1])
    assert identical_fraction(reference[..., 20:], streamed[..., 20:]) >= 0.99


def test_traces_follow_weight_changes(small_config, speech_2s):
    """Traces embed the weights: loading new ones must not replay the old."""
    from streamcodec import EncodecModel

    from .conftest import random_codebooks

    model = random_codebooks(EncodecModel(small_config)).eval().requires_grad_(False)
    other = random_codebooks(EncodecModel(small_config), seed=7).eval().requires_grad_(False)
    wav = speech_2s[..., :3200]
    model.streaming_encoder().push(wav)  # traces with the first weights
    model.load_state_dict(other.state_dict())
    assert torch.equal(model.streaming_encoder().push(wav), other.streaming_encoder(traced=False).push(wav))


def test_tracing_needs_a_frozen_model(small_config):
    from streamcodec import EncodecModel

    with pytest.raises(ValueError, match="requires_grad_"):
        EncodecModel(small_config).eval().streaming_encoder(traced=True)
