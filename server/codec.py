"""The ``/codec`` endpoint's sessions, free of sockets: PCM in -> codes out, codes in -> PCM out.

For thin clients that have no codec of their own: each session holds one streaming encoder and
one streaming decoder over the server's model. ``pcm`` messages must follow each other without
gaps (``first_sample`` continuing where the last one ended), and so must code packets
(``first_frame``); a gap closes the session with 1007, since a streaming state cannot skip.
A ``bye`` encodes the last partial frame (zero-padded) before the server says bye.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from streamcodec.protocol import Bye, CloseCode, CodePacket, Message, Pcm, ProtocolError, SetCodebooks, StreamFormat

from .metrics import Histogram

PCM_SCALE = 32768.0  # 16-bit samples <-> floats in [-1, 1)


def pcm_to_float(samples: bytes) -> np.ndarray:
    """16-bit little-endian samples -> float32 ``[n]``."""
    return np.frombuffer(samples, dtype="<i2").astype(np.float32) / PCM_SCALE


def float_to_pcm(audio: np.ndarray) -> bytes:
    """Float samples ``[n]`` -> 16-bit little-endian, clipped to the 16-bit range."""
    return np.clip(np.round(audio * PCM_SCALE), -32768, 32767).astype("<i2").tobytes()


class CodecStats:
    """What every ``/codec`` session adds to the server's ``/metrics``."""

    def __init__(self) -> None:
        self.sessions = 0
        self.sessions_total = 0
        self.frames_encoded = 0
        self.frames_decoded = 0
        self.encode_seconds = Histogram()  # compute time of one encoder push
        self.decode_seconds = Histogram()


class CodecSession:
    """One ``/codec`` session: :meth:`handle` takes a message and returns the replies to send."""

    def __init__(self, model, codebooks: int, stats: CodecStats):
        if model.channels != 1:
            raise ValueError(f"/codec speaks mono PCM; {model.name} has {model.channels} channels")
        self.model = model
        self.stats = stats
        self.format = StreamFormat(model.cardinality, model.total_codebooks)
        self.encoder = model.streaming_encoder()
        self.encoder.set_num_codebooks(codebooks)
        self.decoder = model.streaming_decoder()
        self.samples_in = 0  # PCM samples received
        self.pcm_seq = 0  # next pcm seq expected from the client
        self.codes_seq = 0  # next code packet seq expected from the client
        self.codes_out = 0  # seq of the next code packet sent
        self.pcm_out = 0  # seq of the next pcm message sent
        self._last_capture = 0.0

    def handle(self, message: Message) -> list[Message]:
        if isinstance(message, Pcm):
            return self._encode(message)
        if isinstance(message, CodePacket):
            return self._decode(message)
        if isinstance(message, SetCodebooks):
            if not 1 <= message.codebooks <= self.model.total_codebooks:
                raise ProtocolError(
                    CloseCode.INVALID_PAYLOAD, f"codebooks must be 1 to {self.model.total_codebooks}, got {message.codebooks}"
                )
            self.encoder.set_num_codebooks(message.codebooks)
            return []
        raise ProtocolError(CloseCode.POLICY, f"a {message.TYPE} message is not allowed in a /codec session")

    def finish(self, bye: Bye) -> list[Message]:
        """The client's bye: encode the partial frame left, then say bye with the frame count."""
        replies = self._packets(self.encoder.flush(), self._last_capture)
        return [*replies, Bye("end of stream", self.encoder.frames)]

    def _encode(self, message: Pcm) -> list[Message]:
        if message.seq != self.pcm_seq or message.first_sample != self.samples_in:
            raise ProtocolError(
                CloseCode.INVALID_PAYLOAD,
                f"pcm gap: expected seq {self.pcm_seq} from sample {self.samples_in}, "
                f"got seq {message.seq} from sample {message.first_sample}",
            )
        audio = pcm_to_float(message.samples)
        self.pcm_seq += 1
        self.samples_in += audio.size
        started = time.perf_counter()
        codes = self.encoder.push(torch.from_numpy(audio).view(1, 1, -1))
        if codes.shape[-1]:
            self.stats.encode_seconds.observe(time.perf_counter() - started)
        # capture_time is when the chunk's last sample was captured; frame j ends at (j + 1) * hop.
        first = self.encoder.frames - codes.shape[-1]
        capture_first = message.capture_time - (self.samples_in - (first + 1) * self.model.hop_length) / self.model.sample_rate
        self._last_capture = message.capture_time
        return self._packets(codes, capture_first)

    def _packets(self, codes: torch.Tensor, capture_first: float) -> list[Message]:
        if codes.shape[-1] == 0:
            return []
        first = self.encoder.frames - codes.shape[-1]
        packet = CodePacket.from_codes(
            codes[0].numpy(), self.model.cardinality, seq=self.codes_out, first_frame=first, capture_time=capture_first
        )
        self.codes_out += 1
        self.stats.frames_encoded += codes.shape[-1]
        return [packet]

    def _decode(self, packet: CodePacket) -> list[Message]:
        self.format.check_packet(packet)
        if packet.seq != self.codes_seq or packet.first_frame != self.decoder.frames:
            raise ProtocolError(
                CloseCode.INVALID_PAYLOAD,
                f"code gap: expected seq {self.codes_seq} from frame {self.decoder.frames}, "
                f"got seq {packet.seq} from frame {packet.first_frame}",
            )
        self.codes_seq += 1
        started = time.perf_counter()
        audio = self.decoder.push(torch.from_numpy(packet.unpack(self.model.cardinality))[None])
        self.stats.decode_seconds.observe(time.perf_counter() - started)
        self.stats.frames_decoded += packet.frames
        last_capture = packet.capture_time + (packet.frames - 1) / self.model.frame_rate
        reply = Pcm(self.pcm_out, packet.first_frame * self.model.hop_length, float_to_pcm(audio[0, 0].numpy()), last_capture)
        self.pcm_out += 1
        return [reply]
