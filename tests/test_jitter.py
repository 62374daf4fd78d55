"""Jitter buffer accounting, adaptive playout, concealment that keeps the decoder in step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from streamcodec.jitter import JitterBuffer, PlayoutClock, StreamReceiver


class FakeClock:
    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def frames(codes: torch.Tensor, first: int, count: int) -> np.ndarray:
    return codes[0, :, first : first + count].numpy()


@pytest.fixture
def coded(small_model, speech_5s):
    codes, _ = small_model.encode(speech_5s[..., :24000], pad_mode="constant")  # the shared model is left as it is
    return codes[:, :8]  # [1, 8, 75]: RVQ codebooks are nested


def test_buffer_accounts_for_every_frame():
    buffer = JitterBuffer(capacity_frames=10)
    codes = np.arange(8).reshape(2, 4)
    buffer.put(0, codes[:, :2])  # frames 0, 1
    buffer.put(1, codes[:, 1:2])  # 1 again
    buffer.put(3, codes[:, 3:])  # 3 (2 missing)
    buffer.put(12, codes[:, :1])  # too far ahead
    assert buffer.take().tolist() == [0, 4] and buffer.take().tolist() == [1, 5]
    assert not buffer.available()
    buffer.skip()  # slot 2 concealed
    buffer.put(2, codes[:, 2:3])  # ... and arrives afterwards
    buffer.put(0, codes[:, :1])  # an old frame again
    assert buffer.take().tolist() == [3, 7]
    assert buffer.counts.as_dict() == dict(received=3, decoded=3, concealed=1, late=1, duplicate=2, overflow=1)
    assert buffer.next_frame == 4 and buffer.waiting_frames == 0


def test_playout_delay_follows_jitter_up_at_once_and_down_slowly():
    dt = 0.01
    clock = PlayoutClock(dt, percentile=100, window=20, margin_s=0.0, shrink=0.1)
    clock.warmup_frames = 0
    assert clock.slot_time(0) == float("inf")
    for frame in range(10):
        clock.observe(frame, frame * dt + 0.005)
        assert clock.schedule(frame) == pytest.approx(frame * dt + 0.005)
    clock.observe(10, 10 * dt + 0.025)  # one frame 20 ms late
    assert clock.schedule(10) == pytest.approx(10 * dt + 0.025)
    times = []
    for frame in range(11, 60):
        clock.observe(frame, frame * dt + 0.005)
        times.append(clock.schedule(frame))
    gaps = np.diff(times)
    assert gaps.min() >= dt * 0.9 - 1e-9  # never faster than the shrink allows
    assert times[-1] == pytest.approx(59 * dt + 0.005)  # back to the calm delay once the spike left the window


def test_in_order_frames_decode_as_the_offline_decode(small_model, coded):
    clock = FakeClock()
    receiver = StreamReceiver(small_model, clock=clock, push_frames=3)
    out = []
    for first in range(0, 75, 3):  # 3-frame packets, arriving just in time
        clock.now = first * receiver.frame_duration
        out += receiver.receive(0, first, frames(coded, first, 3))
    assert [item.frame for item in out] == list(range(75)) and not any(item.concealed for item in out)
    audio = np.concatenate([item.audio for item in out], axis=-1)
    expected = small_model.decode(coded, pad_mode="constant")[0].numpy()
    np.testing.assert_allclose(audio, expected, atol=1e-4)
    assert receiver.counts()[0].decoded == 75


def test_a_missing_frame_is_concealed_at_its_deadline_and_the_state_advances(small_model, coded):
    clock = FakeClock()
    receiver = StreamReceiver(small_model, clock=clock, conceal_lead_s=0.0)
    dt = receiver.frame_duration
    out = receiver.receive(0, 0, frames(coded, 0, 5))
    clock.now = 5 * dt
    out += receiver.poll()
    assert len(out) == 5  # frame 5 not yet due
    clock.now = 100.0  # long after: slots 5.. are due; only slot 5 is missing before frame 6 arrives
    out += receiver.receive(0, 6, frames(coded, 6, 4))
    assert [item.frame for item in out] == list(range(10))
    assert [item.concealed for item in out].count(True) == 1 and out[5].concealed
    receiver.receive(0, 5, frames(coded, 5, 1))  # the lost frame turns up late
    counts = receiver.counts()[0]
    assert (counts.decoded, counts.concealed, counts.late) == (9, 1, 1)
    # Concealment decoded frame 4's codes again at half gain: the decoder advanced one frame.
    assert receiver.decoder.frames == 10
    assert np.abs(out[5].audio).max() > 0


def test_known_losses_are_concealed_without_waiting(small_model, coded):
    receiver = StreamReceiver(small_model, clock=FakeClock())
    receiver.receive(0, 0, frames(coded, 0, 2))
    out = receiver.receive(0, 4, frames(coded, 4, 1))  # 2 and 3 missing, deadline far away
    assert out == []
    out = receiver.mark_lost(0, 4)
    assert [(item.frame, item.concealed) for item in out] == [(2, True), (3, True), (4, False)]
    gains = [np.abs(item.audio).max() for item in out[:2]]
    assert gains[1] < gains[0]  # each further concealed frame is quieter
    out = receiver.finish(7)  # the sender's bye: 7 frames in all
    assert [(item.frame, item.concealed) for item in out] == [(5, True), (6, True)]


def test_batched_receiver_equals_single_streams(small_model, coded):
    shifted = torch.roll(coded, 7, dims=-1)
    batch = StreamReceiver(small_model, batch_size=2, clock=FakeClock())
    singles = [StreamReceiver(small_model, clock=FakeClock()) for _ in range(2)]
    got_batch, got_single = [], [[], []]
    for first in range(0, 30, 2):
        for stream, source in enumerate((coded, shifted)):
            got_batch += batch.receive(stream, first, frames(source, first, 2))
            got_single[stream] += singles[stream].receive(0, first, frames(source, first, 2))
    for stream in range(2):
        mine = np.concatenate([item.audio for item in got_batch if item.stream == stream], axis=-1)
        alone = np.concatenate([item.audio for item in got_single[stream]], axis=-1)
        np.testing.assert_allclose(mine, alone, atol=1e-5)


def test_a_stream_that_ends_early_is_concealed_to_its_end(small_model, coded):
    receiver = StreamReceiver(small_model, clock=FakeClock())
    receiver.receive(0, 0, frames(coded, 0, 1))
    out = receiver.finish(4)
    assert [(item.frame, item.concealed) for item in out] == [(1, True), (2, True), (3, True)]
    assert receiver.counts()[0].concealed == 3
    with pytest.raises(ValueError, match="stream 3"):
        receiver.receive(3, 0, frames(coded, 0, 1))
