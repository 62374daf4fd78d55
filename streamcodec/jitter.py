"""Receive side of a live link: reorder frames, conceal the missing ones, schedule playout.

Three pieces, each with one job:

- :class:`JitterBuffer` holds one stream's frames by index until the decoder takes them in
  order, and accounts for every frame (received, decoded, concealed, late, duplicate, overflow).
  It has no clock.
- :class:`PlayoutClock` decides when each frame slot plays: the recent ``percentile`` of the
  time frames become ready (relative to their place in the stream) plus a margin, so the delay
  follows the network's jitter up at once and back down slowly.
- :class:`StreamReceiver` ties them to a streaming decoder: it decodes frames as soon as they
  arrive in order (so decoding overlaps the wait for the slot), and when a slot is about to be
  due with its frame still missing it conceals it, decoding the last codes again at half the
  gain each time. The decoder state therefore advances exactly one frame per slot, whatever
  the network does, and a frame that turns up after its slot was concealed is counted late
  and dropped.

A receiver of ``batch_size`` streams decodes them in lockstep, one batched decoder step per
slot: the streams must share one timeline (as the latency harness's streams do).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from .models.base import CompressionModel

CONCEAL_GAIN = 0.5  # each further concealed frame in a row plays at this factor of the previous one


@dataclasses.dataclass
class FrameAccounting:
    """Per-stream frame counters; every slot below ``next_frame`` is decoded or concealed."""

    received: int = 0  # frames accepted into the buffer
    decoded: int = 0  # slots played with their own codes
    concealed: int = 0  # slots played with concealment (frame missing or late)
    late: int = 0  # frames that arrived after their slot was concealed
    duplicate: int = 0  # frames received twice
    overflow: int = 0  # frames too far ahead of the playout point, dropped

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class JitterBuffer:
    """One stream's frames ``{index: codes [k]}`` until the decoder takes them in index order."""

    def __init__(self, capacity_frames: int = 750):
        self.capacity_frames = capacity_frames  # how far ahead of the playout point a frame may be
        self.next_frame = 0  # the slot the decoder needs next
        self.counts = FrameAccounting()
        self.lost_before = 0  # frames below this index that are not here will never come
        self._waiting: dict[int, np.ndarray] = {}
        self._concealed: collections.deque[int] = collections.deque(maxlen=capacity_frames)

    def put(self, first_frame: int, codes: np.ndarray) -> None:
        """Accept frames ``first_frame, first_frame + 1, ...`` given as codes ``[k, n]``."""
        for offset in range(codes.shape[1]):
            index = first_frame + offset
            if index < self.next_frame:
                if index in self._concealed:
                    self.counts.late += 1
                else:
                    self.counts.duplicate += 1
            elif index in self._waiting:
                self.counts.duplicate += 1
            elif index - self.next_frame >= self.capacity_frames:
                self.counts.overflow += 1
            else:
                self._waiting[index] = codes[:, offset]
                self.counts.received += 1

    def available(self, offset: int = 0) -> bool:
        """Whether slot ``next_frame + offset`` has its frame."""
        return self.next_frame + offset in self._waiting

    def resolved(self) -> bool:
        """Whether slot ``next_frame`` can be played now: its frame is here or known lost."""
        return self.available() or self.next_frame < self.lost_before

    def mark_lost(self, before_frame: int) -> None:
        """Frames below ``before_frame`` that have not come never will (e.g. a sequence-number gap
        on an ordered transport): their slots are concealed without waiting for the deadline."""
        self.lost_before = max(self.lost_before, before_frame)

    def take(self) -> np.ndarray:
        """The codes ``[k]`` of slot ``next_frame`` (which must be available); advances the slot."""
        codes = self._waiting.pop(self.next_frame)
        self.next_frame += 1
        self.counts.decoded += 1
        return codes

    def skip(self) -> None:
        """Give up on slot ``next_frame``: it is concealed; a frame for it arriving later is late."""
        self._concealed.append(self.next_frame)
        self.next_frame += 1
        self.counts.concealed += 1

    @property
    def waiting_frames(self) -> int:
        return len(self._waiting)


class PlayoutClock:
    """When each frame slot plays, on the receiver's clock.

    ``observe(frame, ready_time)`` records when a frame became playable; its *transit* is
    ``ready_time - frame * frame_duration`` (constant for a perfect network). Slot ``f`` plays at
    ``f * frame_duration + target``, ``target`` being the ``percentile`` of the last ``window``
    transits plus ``margin_s``; slots never come closer than ``(1 - shrink)`` frame durations,
    so when the jitter calms down the delay falls back by ``shrink`` of a frame per slot. Over
    the first ``warmup_frames`` the target is the largest transit seen plus half a frame.
    """

    warmup_frames = 20

    def __init__(
        self,
        frame_duration: float,
        percentile: float = 98.0,
        window: int = 150,
        margin_s: float = 0.002,
        shrink: float = 0.05,
    ):
        self.frame_duration = frame_duration
        self.percentile = percentile
        self.margin_s = margin_s
        self.shrink = shrink
        self._transits: collections.deque[float] = collections.deque(maxlen=window)
        self._target: float | None = None
        self._last: tuple[int, float] | None = None  # the last slot scheduled: (frame, time)

    def observe(self, frame: int, ready_time: float) -> None:
        self._transits.append(ready_time - frame * self.frame_duration)
        target = float(np.percentile(self._transits, self.percentile)) + self.margin_s
        if len(self._transits) < self.warmup_frames:  # too few samples to know the jitter yet
            target = max(self._transits) + self.margin_s + self.frame_duration / 2
        self._target = target

    @property
    def started(self) -> bool:
        return self._target is not None

    @property
    def delay(self) -> float | None:
        """The current target transit (seconds after a frame's nominal place in the stream)."""
        return self._target

    def slot_time(self, frame: int) -> float:
        """When slot ``frame`` (the next one after the last scheduled) would play; ``inf`` before any frame."""
        if self._target is None:
            return math.inf
        wanted = frame * self.frame_duration + self._target
        if self._last is None:
            return wanted
        last_frame, last_time = self._last
        earliest = last_time + (frame - last_frame) * self.frame_duration * (1.0 - self.shrink)
        return max(wanted, earliest)

    def schedule(self, frame: int) -> float:
        """Fix the playout time of slot ``frame`` (slots are scheduled in increasing order)."""
        when = self.slot_time(frame)
        self._last = (frame, when)
        return when


@dataclasses.dataclass(frozen=True)
class PlayoutFrame:
    """One slot of one stream, decoded and scheduled (times on the receiver's clock)."""

    stream: int
    frame: int
    audio: np.ndarray  # float32 [channels, hop_length]
    concealed: bool
    decode_start: float
    ready: float  # decoded
    playout: float  # scheduled playout time


class StreamReceiver:
    """Packets of ``batch_size`` streams in, decoded and scheduled frames out, one per slot.

    Call :meth:`receive` for each code packet and :meth:`poll` whenever
    :meth:`next_deadline` passes (a slot is due and concealment must be decoded); both return
    the :class:`PlayoutFrame` s that became ready, in slot order.
    """

    def __init__(
        self,
        model: CompressionModel,
        batch_size: int = 1,
        *,
        clock: Callable[[], float] = time.time,
        playout: PlayoutClock | None = None,
        conceal_lead_s: float | None = None,
        capacity_frames: int = 750,
        conceal_overdue: bool = True,
        push_frames: int = 1,
    ):
        self.model = model
        self.batch_size = batch_size
        self.clock = clock
        self.conceal_overdue = conceal_overdue  # False: conceal only frames known lost (e.g. writing a file)
        # Frames per decoder push (runs are cut into pushes of this many, then single frames): a
        # traced decoder replays one trace per push shape, and tracing a new one costs ~100 ms.
        self.push_frames = push_frames
        self.frame_duration = model.hop_length / model.sample_rate
        self.playout = playout or PlayoutClock(self.frame_duration)
        self._fixed_lead = conceal_lead_s
        self._decode_times: collections.deque[float] = collections.deque(maxlen=50)
        self.decoder = model.streaming_decoder(batch_size)
        self.buffers = [JitterBuffer(capacity_frames) for _ in range(batch_size)]
        self._last_codes: list[np.ndarray | None] = [None] * batch_size
        self._gains = np.ones(batch_size, dtype=np.float32)

    @property
    def next_frame(self) -> int:
        return self.buffers[0].next_frame

    @property
    def conceal_lead_s(self) -> float:
        """How long before its slot a missing frame is concealed: the median recent decode time
        (a frame arriving later could not be decoded in time anyway)."""
        if self._fixed_lead is not None:
            return self._fixed_lead
        return float(np.median(self._decode_times)) if self._decode_times else self.frame_duration / 5

    def receive(
        self, stream: int, first_frame: int, codes: np.ndarray, in_order: bool = False
    ) -> list[PlayoutFrame]:
        """Accept codes ``[k, n]`` of frames ``first_frame...`` of ``stream``; decode what is ready.

        ``in_order``: the transport delivers in order (a websocket), so frames of ``stream`` before
        ``first_frame`` that have not come are lost and concealed at once.
        """
        if not 0 <= stream < self.batch_size:
            raise ValueError(f"stream {stream} is not one of this receiver's {self.batch_size}")
        if in_order:
            self.buffers[stream].mark_lost(first_frame)
        now = self.clock()
        codes = np.asarray(codes)
        self.buffers[stream].put(first_frame, codes)
        last = first_frame + codes.shape[1] - 1
        if last < self.next_frame:  # late: the delay must grow now, not once a frame decodes in time
            self.playout.observe(last, now + self.conceal_lead_s)
        return self._advance(now)

    def poll(self) -> list[PlayoutFrame]:
        """Conceal the slots that are about to be due without their frames; decode what is ready."""
        return self._advance(self.clock())

    def mark_lost(self, stream: int, before_frame: int) -> list[PlayoutFrame]:
        """Frames of ``stream`` below ``before_frame`` not yet received are lost: conceal them now."""
        self.buffers[stream].mark_lost(before_frame)
        return self._advance(self.clock())

    def finish(self, total_frames: int) -> list[PlayoutFrame]:
        """The stream ended after ``total_frames`` slots: decode what came, conceal what did not."""
        out = self._advance(self.clock())
        while self.next_frame < total_frames:
            out += self._advance(self.clock(), force=True)
        return out

    def next_deadline(self) -> float:
        """When the next slot must be concealed if its frames have not come (``inf`` before any)."""
        if not self.conceal_overdue:
            return math.inf
        return self.playout.slot_time(self.next_frame) - self.conceal_lead_s

    def counts(self) -> list[FrameAccounting]:
        return [buffer.counts for buffer in self.buffers]

    def _advance(self, now: float, force: bool = False) -> list[PlayoutFrame]:
        """Decode every ready run of slots; conceal the next slot if it is due (or ``force``)."""
        out: list[PlayoutFrame] = []
        while True:
            run = self._ready_run()
            if run:
                out += self._decode(self.push_frames if run >= self.push_frames else 1)
            elif force or now >= self.next_deadline() or all(buffer.resolved() for buffer in self.buffers):
                out += self._decode(1, conceal=True)
                if force:
                    return out
            else:
                return out
            now = self.clock()

    def _ready_run(self) -> int:
        """How many consecutive slots from ``next_frame`` every stream has (up to ``push_frames``)."""
        run = 0
        while run < self.push_frames and all(buffer.available(run) for buffer in self.buffers):
            run += 1
        return run

    def _decode(self, frames: int, conceal: bool = False) -> list[PlayoutFrame]:
        """Decode ``frames`` slots in one decoder push; with ``conceal``, one slot, missing streams concealed."""
        first = self.next_frame
        rows, missing = [], []
        for stream, buffer in enumerate(self.buffers):
            if conceal and not buffer.available():
                missing.append(stream)
                buffer.skip()
                rows.append(self._concealment_codes(stream)[:, None])
            else:
                rows.append(np.stack([buffer.take() for _ in range(frames)], axis=1))
        codebooks = min(row.shape[0] for row in rows)  # lockstep: one codebook count per push
        codes = torch.from_numpy(np.stack([row[:codebooks] for row in rows]))
        started = self.clock()
        audio = self.decoder.push(codes).numpy()  # [B, C, frames * hop]
        ready = self.clock()
        self._decode_times.append(ready - started)
        for stream, row in enumerate(rows):
            if stream in missing:
                audio[stream] *= self._gains[stream] * CONCEAL_GAIN
                self._gains[stream] *= CONCEAL_GAIN
            else:
                self._gains[stream] = 1.0
                self._last_codes[stream] = row[:, -1]
        hop = self.model.hop_length
        out = []
        for offset in range(frames):
            frame = first + offset
            if not conceal:
                self.playout.observe(frame, ready)
            when = self.playout.schedule(frame)
            for stream in range(self.batch_size):
                out.append(
                    PlayoutFrame(
                        stream, frame, audio[stream, :, offset * hop : (offset + 1) * hop],
                        stream in missing, started, ready, when,
                    )
                )
        return out

    def _concealment_codes(self, stream: int) -> np.ndarray:
        """The codes to decode again for a missing frame: the stream's last (silence before any)."""
        last = self._last_codes[stream]
        if last is None:
            self._gains[stream] = 0.0  # nothing heard yet: the concealment is silent
            return np.zeros(self.model.total_codebooks, dtype=np.int64)
        return last
