"""Microphone and speaker through sounddevice, resampled (soxr) between the device rate and the model's.

:class:`Microphone` delivers model-rate mono blocks to an asyncio queue; :class:`Speaker` plays
model-rate audio from a bounded FIFO (silence, counted, when it runs dry; the oldest samples
dropped, counted, when it holds more than ``max_buffer_s``). Both raise :class:`DeviceError`
with the list of devices when the one asked for does not exist.
"""

from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any, TypeVar

import numpy as np


class DeviceError(OSError):
    """No usable sound device (none at all, or not the one named)."""


def _sounddevice():
    try:
        import sounddevice
    except OSError as error:  # PortAudio missing
        raise DeviceError(f"sound devices are unavailable: {error}; install libportaudio2") from None
    return sounddevice


def list_devices() -> str:
    """The sound devices PortAudio sees, one per line (``>``: default input, ``<``: default output)."""
    return str(_sounddevice().query_devices())


def _device_rate(device: int | str | None, kind: str) -> int:
    sd = _sounddevice()
    try:
        info = sd.query_devices(device, kind)
    except (ValueError, sd.PortAudioError) as error:
        devices = sd.query_devices()
        listing = str(devices) if len(devices) else "(none)"
        raise DeviceError(f"no {kind} device {device if device is not None else '(default)'}: {error}. Devices:\n{listing}") from None
    return int(info["default_samplerate"])


class _DeviceStream:
    """A sounddevice stream ``_stream`` that runs while the object is used as a context manager."""

    _stream: Any

    def __enter__(self: StreamT) -> StreamT:
        self._stream.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stream.stop()
        self._stream.close()


StreamT = TypeVar("StreamT", bound=_DeviceStream)


class Microphone(_DeviceStream):
    """Capture from ``device`` at its own rate; ``blocks`` receives float32 ``[n]`` at ``sample_rate``."""

    def __init__(self, sample_rate: int, device: int | str | None = None, blocksize: int = 0):
        import soxr

        self.sd = _sounddevice()
        self.device_rate = _device_rate(device, "input")
        self.sample_rate = sample_rate
        self.blocks: asyncio.Queue[tuple[np.ndarray, float]] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._resampler = soxr.ResampleStream(self.device_rate, sample_rate, 1, dtype="float32")
        self.overflows = 0
        self._stream = self.sd.InputStream(
            device=device, channels=1, samplerate=self.device_rate, dtype="float32", blocksize=blocksize,
            latency="low", callback=self._callback,
        )

    def _callback(self, data: np.ndarray, frames: int, times, status) -> None:
        if status.input_overflow:
            self.overflows += 1
        block = self._resampler.resample_chunk(data[:, 0].copy())
        captured = times.inputBufferAdcTime or 0.0
        self._loop.call_soon_threadsafe(self.blocks.put_nowait, (block, captured))


class Speaker(_DeviceStream):
    """Play model-rate mono audio on ``device``; :meth:`play` queues samples."""

    def __init__(self, sample_rate: int, device: int | str | None = None, max_buffer_s: float = 0.2):
        import soxr

        self.sd = _sounddevice()
        self.device_rate = _device_rate(device, "output")
        self._resampler = soxr.ResampleStream(sample_rate, self.device_rate, 1, dtype="float32")
        self._fifo: collections.deque[np.ndarray] = collections.deque()
        self._queued = 0
        self._lock = threading.Lock()
        self.max_samples = int(max_buffer_s * self.device_rate)
        self.underruns = 0  # callbacks that found too little audio
        self.dropped_samples = 0
        self.played_samples = 0
        self._stream = self.sd.OutputStream(
            device=device, channels=1, samplerate=self.device_rate, dtype="float32", latency="low", callback=self._callback
        )

    def play(self, audio: np.ndarray) -> None:
        block = self._resampler.resample_chunk(np.ascontiguousarray(audio, dtype=np.float32))
        with self._lock:
            self._fifo.append(block)
            self._queued += block.size
            while self._queued > self.max_samples and self._fifo:
                dropped = self._fifo.popleft()
                self._queued -= dropped.size
                self.dropped_samples += dropped.size

    @property
    def buffered_s(self) -> float:
        return self._queued / self.device_rate

    def _callback(self, out: np.ndarray, frames: int, times, status) -> None:
        filled = 0
        with self._lock:
            while filled < frames and self._fifo:
                block = self._fifo[0]
                take = min(block.size, frames - filled)
                out[filled : filled + take, 0] = block[:take]
                filled += take
                if take == block.size:
                    self._fifo.popleft()
                else:
                    self._fifo[0] = block[take:]
                self._queued -= take
        self.played_samples += filled
        if filled < frames:
            out[filled:, 0] = 0.0
            if self.played_samples:
                self.underruns += 1
