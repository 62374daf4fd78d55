"""Residual vector quantization: inference arithmetic and EMA training."""

from __future__ import annotations

import pytest
import torch

from streamcodec.quantization import ResidualVectorQuantizer


def clustered_latents(batch: int = 8, frames: int = 64, dim: int = 8, centres: int = 16, seed: int = 0) -> torch.Tensor:
    """Latents ``[batch, dim, frames]`` around ``centres`` fixed cluster centres."""
    means = torch.randn(centres, dim, generator=torch.Generator().manual_seed(1234)) * 3
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, centres, (batch * frames,), generator=generator)
    x = means[picks] + 0.1 * torch.randn(batch * frames, dim, generator=generator)
    return x.view(batch, frames, dim).transpose(1, 2)


def relative_error(rvq: ResidualVectorQuantizer, x: torch.Tensor, k: int) -> float:
    approx = rvq.decode(rvq.encode(x, k))
    return ((approx - x).pow(2).sum() / x.pow(2).sum()).item()


def test_more_codebooks_reconstruct_better_after_ema_training():
    rvq = ResidualVectorQuantizer(dimension=8, num_quantizers=4, codebook_size=32, decay=0.8)
    rvq.train()
    for step in range(40):
        rvq(clustered_latents(seed=step % 5), num_codebooks=4)
    rvq.eval()
    x = clustered_latents(seed=99)
    errors = [relative_error(rvq, x, k) for k in range(1, 5)]
    assert errors[0] < 0.05
    assert all(later <= earlier + 1e-6 for earlier, later in zip(errors, errors[1:]))


def test_encode_decode_matches_training_forward():
    rvq = ResidualVectorQuantizer(dimension=8, num_quantizers=3, codebook_size=16)
    rvq.train()
    rvq(clustered_latents(), num_codebooks=3)  # initialise the codebooks
    rvq.eval()
    x = clustered_latents(seed=1)
    result = rvq(x, num_codebooks=3)
    assert torch.equal(result.codes, rvq.encode(x, 3))
    torch.testing.assert_close(result.quantized, rvq.decode(result.codes))
    assert result.commitment_loss.item() == pytest.approx((result.quantized - x).pow(2).mean().item(), rel=1e-5)


def test_straight_through_gradient_reaches_the_encoder():
    rvq = ResidualVectorQuantizer(dimension=8, num_quantizers=2, codebook_size=16).train()
    x = clustered_latents().requires_grad_()
    result = rvq(x)
    (result.quantized.sum() + result.commitment_loss).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_dead_codes_are_replaced_by_batch_latents():
    rvq = ResidualVectorQuantizer(dimension=8, num_quantizers=1, codebook_size=64, decay=0.5)
    rvq.train()
    codebook = rvq.layers[0]
    rvq(clustered_latents(centres=2))  # only two clusters: most codes die
    far = torch.full((64, 8), 100.0)
    codebook.embed[:] = far  # every code far from the data and unused: all dead
    codebook.embed_avg[:] = far
    codebook.cluster_size.zero_()
    rvq(clustered_latents(centres=2, seed=1))
    distances = torch.cdist(codebook.embed, clustered_latents(centres=2, seed=1).transpose(1, 2).reshape(-1, 8))
    assert (distances.min(dim=1).values < 1.0).float().mean() > 0.9


def test_quantizer_dropout_draws_from_the_choices():
    rvq = ResidualVectorQuantizer(dimension=8, num_quantizers=8, codebook_size=16, dropout_choices=(2, 4, 8)).train()
    counts = {rvq(clustered_latents(batch=1, frames=4)).codes.shape[1] for _ in range(40)}
    assert counts == {2, 4, 8}
    rvq.eval()
    assert rvq(clustered_latents(batch=1, frames=4)).codes.shape[1] == 8


def test_model_training_pass_reaches_every_parameter(small_config):
    """The training forward: reconstruction + commitment loss back-propagate through the codec."""
    from streamcodec import EncodecModel

    from .synthetic import speechlike

    model = EncodecModel(small_config, weight_norm=True).train()
    wav = speechlike(0.2)[None, None][..., :4800]
    reconstruction, quantized = model(wav)
    assert reconstruction.shape == wav.shape
    assert model.quantizer.dropout_choices == (2, 4, 8, 16, 32)  # 1.5, 3, 6, 12, 24 kbps
    assert quantized.codes.shape[1] in model.quantizer.dropout_choices
    assert torch.allclose(quantized.latent, model.encoder(wav))  # what losses on the latent act on
    loss = (reconstruction - wav).abs().mean() + quantized.commitment_loss
    loss.backward()
    without_grad = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert without_grad == []
