"""The websocket wire format: one msgpack map per binary message, free of I/O.

Every message is a map with a ``"type"`` string and the fields of one of the dataclasses below;
:func:`encode_message` writes one, :func:`decode_message` reads one and raises
:class:`ProtocolError` (carrying the close code to send) for anything that breaks the format.
``docs/protocol.md`` is the specification written for client authors; this module implements it.

Code packets carry ``frames`` frames of ``codebooks`` RVQ codes each, bit-packed frame by frame
(all codebooks of the first frame, then the next frame) at ``ceil(log2(cardinality))`` bits per
code, as :mod:`streamcodec.quantization.bitpacking` lays them out.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any, ClassVar, Union

import msgpack
import numpy as np

from .quantization.bitpacking import bits_per_code, pack_codes, packed_size, unpack_codes

PROTOCOL_VERSION = 1
SUBPROTOCOL = "streamcodec.v1"
MAX_MESSAGE_BYTES = 1 << 20  # the largest message either side accepts
MAX_FRAMES_PER_PACKET = 64
MAX_STAMPS = 16
MAX_TEXT = 256  # characters in a model name, reason or error sentence


class CloseCode(enum.IntEnum):
    """Websocket close codes; an ``error`` message before a close carries the same code."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002  # not msgpack, not a map, unknown type, missing or mistyped field
    UNSUPPORTED_DATA = 1003  # a text message where binary is required
    INVALID_PAYLOAD = 1007  # well-formed, but codes out of range or the wrong codebook count
    POLICY = 1008  # a message the session's state does not allow (e.g. before hello)
    TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013  # server or room full
    BAD_HELLO = 4000
    VERSION_MISMATCH = 4001
    FORMAT_MISMATCH = 4002  # sample rate, frame rate or cardinality differ from the room's model


class ProtocolError(Exception):
    """A message that breaks the protocol: send ``error`` with ``code``, then close with it."""

    def __init__(self, code: CloseCode, message: str, retryable: bool = False):
        super().__init__(message)
        self.code = CloseCode(code)
        self.message = message
        self.retryable = retryable

    def to_message(self) -> Error:
        return Error(code=int(self.code), message=self.message[:MAX_TEXT], retryable=self.retryable)


# Messages.


@dataclasses.dataclass(frozen=True)
class Hello:
    """First message of a client: the stream format it speaks and the codebooks it wants."""

    TYPE: ClassVar[str] = "hello"
    version: int
    model: str
    sample_rate: int
    frame_rate: float
    codebooks: int  # codebooks per frame this peer sends, and the most it wants to receive
    cardinality: int


@dataclasses.dataclass(frozen=True)
class Accept:
    """The server's answer to a hello: the session's format and the codebooks it will deliver."""

    TYPE: ClassVar[str] = "accept"
    version: int
    session: str
    model: str
    sample_rate: int
    frame_rate: float
    codebooks: int
    cardinality: int


@dataclasses.dataclass(frozen=True)
class CodePacket:
    """``frames`` consecutive frames of ``codebooks`` codes, starting at frame ``first_frame``.

    ``capture_time`` is the sender's clock (seconds) when the last sample of the first frame was
    captured; ``stamps`` maps stage names (``"encoded"``, ``"sent"``, ``"relayed"``, ...) to
    times on the clock of whoever wrote them, for latency accounting. ``source`` is set by the
    relay to the sending session's id, so that a receiver can tell a room's streams apart.
    """

    TYPE: ClassVar[str] = "codes"
    # One packet per frame or few: short keys keep the per-packet overhead near 45 bytes.
    WIRE_KEYS: ClassVar[dict[str, str]] = {
        "seq": "s", "first_frame": "f", "codebooks": "k", "frames": "n", "capture_time": "t", "codes": "c",
        "stamps": "ts", "source": "src",
    }
    seq: int
    first_frame: int
    codebooks: int
    frames: int
    capture_time: float
    codes: bytes  # bit-packed [frames, codebooks]
    stamps: dict[str, float] = dataclasses.field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_codes(
        cls,
        codes: np.ndarray,
        cardinality: int,
        *,
        seq: int,
        first_frame: int,
        capture_time: float,
        stamps: dict[str, float] | None = None,
    ) -> CodePacket:
        """Pack codes ``[K, F]`` (as the codec emits them for one stream) into a packet."""
        codes = np.asarray(codes)
        if codes.ndim != 2:
            raise ValueError(f"codes must be [codebooks, frames], got shape {codes.shape}")
        if codes.size and (codes.min() < 0 or codes.max() >= cardinality):
            raise ValueError(f"codes must lie in [0, {cardinality})")
        packed = pack_codes(np.ascontiguousarray(codes.T), bits_per_code(cardinality))
        return cls(seq, first_frame, codes.shape[0], codes.shape[1], capture_time, packed, dict(stamps or {}))

    def unpack(self, cardinality: int) -> np.ndarray:
        """The codes as int64 ``[codebooks, frames]``."""
        flat = unpack_codes(self.codes, bits_per_code(cardinality), self.codebooks * self.frames)
        return flat.reshape(self.frames, self.codebooks).T.copy()

    def truncated(self, codebooks: int, cardinality: int) -> CodePacket:
        """The same packet with only its first ``codebooks`` codebooks (RVQ needs no re-encoding)."""
        if codebooks >= self.codebooks:
            return self
        kept = self.unpack(cardinality)[:codebooks]
        return dataclasses.replace(
            self, codebooks=codebooks, codes=pack_codes(np.ascontiguousarray(kept.T), bits_per_code(cardinality))
        )


@dataclasses.dataclass(frozen=True)
class SetCodebooks:
    """Change the codebooks per frame this peer sends and wants to receive from now on."""

    TYPE: ClassVar[str] = "set_codebooks"
    codebooks: int


@dataclasses.dataclass(frozen=True)
class Pcm:
    """Audio for the ``/codec`` endpoint: 16-bit little-endian mono samples from ``first_sample``."""

    TYPE: ClassVar[str] = "pcm"
    seq: int
    first_sample: int
    samples: bytes
    capture_time: float


@dataclasses.dataclass(frozen=True)
class Ping:
    """Clock probe: the peer answers with a pong echoing ``id`` and ``sent``."""

    TYPE: ClassVar[str] = "ping"
    id: int
    sent: float


@dataclasses.dataclass(frozen=True)
class Pong:
    """Answer to a ping: ``received`` and ``replied`` on the answering peer's clock.

    Round trip = (now - sent) - (replied - received); clock offset ~ received - sent - trip / 2.
    """

    TYPE: ClassVar[str] = "pong"
    id: int
    sent: float
    received: float
    replied: float


@dataclasses.dataclass(frozen=True)
class Marker:
    """Echoed back once everything sent before it has been processed (flush and latency probe)."""

    TYPE: ClassVar[str] = "marker"
    id: int


@dataclasses.dataclass(frozen=True)
class Stats:
    """Counters from the server about this session (frames relayed, dropped, queue backlog...)."""

    TYPE: ClassVar[str] = "stats"
    values: dict[str, float]


@dataclasses.dataclass(frozen=True)
class Error:
    """Why the connection is about to close; ``code`` equals the close code that follows."""

    TYPE: ClassVar[str] = "error"
    code: int
    message: str
    retryable: bool = False


@dataclasses.dataclass(frozen=True)
class Bye:
    """End of stream: nothing more follows from this peer.

    ``frames``: how many frames the peer's stream held in all (0: not said), so that a receiver
    can account for frames lost at the very end; ``source``: set by the relay, as on codes.
    """

    TYPE: ClassVar[str] = "bye"
    reason: str = ""
    frames: int = 0
    source: str = ""


Message = Union[Hello, Accept, CodePacket, SetCodebooks, Pcm, Ping, Pong, Marker, Stats, Error, Bye]
MESSAGE_TYPES: dict[str, type] = {
    cls.TYPE: cls for cls in (Hello, Accept, CodePacket, SetCodebooks, Pcm, Ping, Pong, Marker, Stats, Error, Bye)
}


@dataclasses.dataclass(frozen=True)
class StreamFormat:
    """What a session's code packets must satisfy: known once the hello is accepted."""

    cardinality: int
    max_codebooks: int

    def check_packet(self, packet: CodePacket) -> None:
        """Refuse ``packet`` unless its codebook count, packed length and codes fit this format."""
        if not 1 <= packet.codebooks <= self.max_codebooks:
            raise ProtocolError(
                CloseCode.INVALID_PAYLOAD,
                f"code packet {packet.seq} has {packet.codebooks} codebooks; this session allows 1 to {self.max_codebooks}",
            )
        bits = bits_per_code(self.cardinality)
        expected = packed_size(packet.codebooks * packet.frames, bits)
        if len(packet.codes) != expected:
            raise ProtocolError(
                CloseCode.INVALID_PAYLOAD,
                f"code packet {packet.seq} holds {len(packet.codes)} bytes of codes; "
                f"{packet.frames} frames of {packet.codebooks} codebooks take {expected}",
            )
        if self.cardinality == 2**bits:
            return  # every bit pattern is a valid code: nothing to unpack
        largest = int(packet.unpack(self.cardinality).max())
        if largest >= self.cardinality:
            raise ProtocolError(
                CloseCode.INVALID_PAYLOAD, f"code packet {packet.seq} has code {largest}, outside [0, {self.cardinality})"
            )


# Encoding and decoding.


def _wire_keys(cls: type) -> dict[str, str]:
    """Field name -> key on the wire (the field name unless the class shortens it)."""
    return getattr(cls, "WIRE_KEYS", {})


def encode_message(message: Message) -> bytes:
    """One message as the bytes of a websocket binary message; optional fields at their default are left out."""
    keys = _wire_keys(type(message))
    body: dict[str, Any] = {"type": message.TYPE}
    for field in dataclasses.fields(message):
        value = getattr(message, field.name)
        if _is_default(field, value):
            continue
        body[keys.get(field.name, field.name)] = value
    return msgpack.packb(body, use_bin_type=True)


def _is_default(field: dataclasses.Field, value: Any) -> bool:
    if field.default_factory is not dataclasses.MISSING:
        return value == field.default_factory()
    return field.default is not dataclasses.MISSING and value == field.default


def decode_message(data: bytes | str) -> Message:
    """Parse and validate one websocket message; raises :class:`ProtocolError` on any defect."""
    if isinstance(data, str):
        raise ProtocolError(CloseCode.UNSUPPORTED_DATA, "messages must be binary msgpack, not text")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(CloseCode.TOO_BIG, f"message of {len(data)} bytes exceeds the {MAX_MESSAGE_BYTES}-byte limit")
    try:
        body = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, TypeError) as error:
        detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"message is not one msgpack value ({detail})") from None
    if not isinstance(body, dict):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"message must be a msgpack map, got {type(body).__name__}")
    kind = body.pop("type", None)
    if not isinstance(kind, str):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, "message has no 'type' string")
    cls = MESSAGE_TYPES.get(kind)
    if cls is None:
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"unknown message type {kind!r}; known: {sorted(MESSAGE_TYPES)}")
    keys = _wire_keys(cls)
    fields = {keys.get(field.name, field.name): field for field in dataclasses.fields(cls)}
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"{kind} message has unknown fields {unknown}")
    values = {}
    for key, field in fields.items():
        if key not in body:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"{kind} message lacks field {key!r}")
            continue
        values[field.name] = _FIELD_CHECKS[field.type](kind, key, body[key])
    message = cls(**values)
    _check_ranges(message)
    return message


def _check_int(kind: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"{kind}.{name} must be an integer, got {type(value).__name__}")
    return value


def _check_float(kind: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"{kind}.{name} must be a finite number, got {value!r}")
    return float(value)


def _check_str(kind: str, name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"{kind}.{name} must be a string of at most {MAX_TEXT} characters")
    return value


def _check_bool(kind: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"{kind}.{name} must be true or false, got {type(value).__name__}")
    return value


def _check_bytes(kind: str, name: str, value: Any) -> bytes:
    if not isinstance(value, bytes):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"{kind}.{name} must be msgpack bin, got {type(value).__name__}")
    return value


def _check_number_map(kind: str, name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or len(value) > MAX_STAMPS:
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"{kind}.{name} must be a map of at most {MAX_STAMPS} entries")
    return {_check_str(kind, f"{name} key", key): _check_float(kind, f"{name}[{key!r}]", item) for key, item in value.items()}


_FIELD_CHECKS = {
    "int": _check_int,
    "float": _check_float,
    "str": _check_str,
    "bool": _check_bool,
    "bytes": _check_bytes,
    "dict[str, float]": _check_number_map,
}


def _check_ranges(message: Message) -> None:
    """Constraints beyond types: positive sizes, non-negative counters."""

    def require(condition: bool, sentence: str) -> None:
        if not condition:
            raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"{message.TYPE}: {sentence}")

    if isinstance(message, (Hello, Accept)):
        require(message.sample_rate > 0 and message.frame_rate > 0, "sample_rate and frame_rate must be positive")
        require(message.codebooks >= 1, "codebooks must be at least 1")
        require(message.cardinality >= 2, "cardinality must be at least 2")
    elif isinstance(message, CodePacket):
        require(message.seq >= 0 and message.first_frame >= 0, "seq and first_frame must be non-negative")
        require(1 <= message.frames <= MAX_FRAMES_PER_PACKET, f"frames must be 1 to {MAX_FRAMES_PER_PACKET}")
        require(message.codebooks >= 1, "codebooks must be at least 1")
    elif isinstance(message, SetCodebooks):
        require(message.codebooks >= 1, "codebooks must be at least 1")
    elif isinstance(message, Bye):
        require(message.frames >= 0, "frames must be non-negative")
    elif isinstance(message, Pcm):
        require(message.seq >= 0 and message.first_sample >= 0, "seq and first_sample must be non-negative")
        require(len(message.samples) % 2 == 0, "samples must hold whole 16-bit samples")


def check_hello(hello: Message, version: int = PROTOCOL_VERSION) -> Hello:
    """A session's first message must be a hello of this protocol version."""
    if not isinstance(hello, Hello):
        raise ProtocolError(CloseCode.POLICY, f"the first message must be a hello, got {hello.TYPE}")
    if hello.version != version:
        raise ProtocolError(
            CloseCode.VERSION_MISMATCH, f"protocol version {hello.version} is not supported; this server speaks {version}"
        )
    return hello
