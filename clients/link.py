"""A client session with a ``/link/ROOM`` server, and the bookkeeping of one incoming stream.

:class:`LinkSession` speaks the wire protocol of ``docs/protocol.md``: hello/accept, code
packets out, messages in, markers to flush and probe, bye. :class:`IncomingStream` follows one
sender of a room and checks its sequence numbers, so every missing packet is counted.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import AsyncIterator

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from streamcodec.protocol import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    SUBPROTOCOL,
    Accept,
    Bye,
    CodePacket,
    Error,
    Hello,
    Marker,
    Message,
    ProtocolError,
    SetCodebooks,
    Stats,
    decode_message,
    encode_message,
)

DEFAULT_SERVER = "ws://127.0.0.1:8765"
CONNECT_TIMEOUT_S = 10.0


class LinkError(ConnectionError):
    """The server refused the session or closed it with an error (message from the server)."""


def hello_for(model, codebooks: int) -> Hello:
    """The hello a client of ``model`` sends, asking for ``codebooks`` codebooks per frame."""
    return Hello(
        PROTOCOL_VERSION, model.name, model.sample_rate, float(model.frame_rate), codebooks, model.cardinality
    )


async def open_session(url: str, hello: Hello) -> tuple[ClientConnection, Message]:
    """Connect to ``url``, send ``hello`` and return the connection with the server's first answer."""
    try:
        connection = await asyncio.wait_for(
            connect(url, subprotocols=[SUBPROTOCOL], compression=None, max_size=2 * MAX_MESSAGE_BYTES, open_timeout=None),
            CONNECT_TIMEOUT_S,
        )
    except (OSError, asyncio.TimeoutError) as error:
        raise LinkError(f"cannot connect to {url}: {error or type(error).__name__}; is 'streamcodec serve' running?") from None
    await connection.send(encode_message(hello))
    answer = decode_message(await asyncio.wait_for(connection.recv(), CONNECT_TIMEOUT_S))
    if isinstance(answer, Error):
        await connection.close()
        raise LinkError(f"the server refused the session: {answer.message} (code {answer.code})")
    return connection, answer


class LinkSession:
    """One accepted session in a room: send code packets, receive the room's messages."""

    def __init__(self, connection: ClientConnection, accept: Accept, cardinality: int):
        self.connection = connection
        self.accept = accept
        self.cardinality = cardinality
        self.seq = 0  # sequence number of the next packet sent
        self.bytes_sent = 0  # msgpack bytes of the code packets sent
        self._markers = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Stats]] = {}

    @classmethod
    async def join(cls, server: str, room: str, model, codebooks: int) -> LinkSession:
        """Join ``room`` on ``server`` (``ws://HOST:PORT``) with ``model``'s format."""
        connection, answer = await open_session(f"{server.rstrip('/')}/link/{room}", hello_for(model, codebooks))
        if not isinstance(answer, Accept):
            await connection.close()
            raise LinkError(f"the server answered the hello with a {answer.TYPE} message, not accept")
        return cls(connection, answer, model.cardinality)

    @property
    def id(self) -> str:
        return self.accept.session

    async def send_codes(
        self, codes: np.ndarray, first_frame: int, capture_time: float, stamps: dict[str, float] | None = None
    ) -> int:
        """Send codes ``[K, n]`` of frames ``first_frame...`` as one packet; returns its size in bytes."""
        packet = CodePacket.from_codes(
            codes, self.cardinality, seq=self.seq, first_frame=first_frame, capture_time=capture_time, stamps=stamps
        )
        if stamps is not None:
            packet.stamps["sent"] = time.time()
        data = encode_message(packet)
        await self.connection.send(data)
        self.seq += 1
        self.bytes_sent += len(data)
        return len(data)

    async def set_codebooks(self, codebooks: int) -> None:
        await self.connection.send(encode_message(SetCodebooks(codebooks)))

    async def bye(self, frames: int = 0, reason: str = "") -> None:
        """Say the stream ended after ``frames`` frames; the server closes after relaying it."""
        try:
            await self.connection.send(encode_message(Bye(reason, frames)))
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        await self.connection.close()

    async def sync(self, timeout_s: float = 10.0) -> Stats:
        """Send a marker and wait until the server echoes it: everything sent before has been
        relayed. Returns the session's stats that follow the echo. Needs :meth:`messages` running."""
        marker = next(self._markers)
        waiter = asyncio.get_running_loop().create_future()
        self._pending[marker] = waiter
        await self.connection.send(encode_message(Marker(marker)))
        try:
            return await asyncio.wait_for(waiter, timeout_s)
        finally:
            self._pending.pop(marker, None)

    async def messages(self) -> AsyncIterator[Message]:
        """The server's messages until the connection closes; markers and stats answer :meth:`sync`.

        An ``error`` from the server raises :class:`LinkError`.
        """
        echoed: list[asyncio.Future[Stats]] = []
        try:
            async for data in self.connection:
                message = decode_message(data)
                if isinstance(message, Marker) and message.id in self._pending:
                    echoed.append(self._pending[message.id])
                    continue
                if isinstance(message, Stats) and echoed:
                    waiter = echoed.pop(0)
                    if not waiter.done():
                        waiter.set_result(message)
                    continue
                if isinstance(message, Error):
                    raise LinkError(f"the server closed the session: {message.message} (code {message.code})")
                yield message
        except ConnectionClosed:
            return
        except ProtocolError as error:
            raise LinkError(f"the server sent a malformed message: {error.message}") from None


@dataclasses.dataclass
class IncomingStream:
    """Follows one sender of a room (the first heard, or ``source``) and counts missing packets.

    ``accept(packet)`` says whether a packet belongs to the followed stream; sequence numbers
    must rise by one per packet, and each gap is counted in ``missing_packets`` with the frames
    it lost in ``missing_frames`` (the relay drops oldest-first when a receiver falls behind).
    """

    source: str | None = None
    next_seq: int = 0
    next_frame: int = 0
    packets: int = 0
    missing_packets: int = 0
    missing_frames: int = 0
    ended: bool = False
    total_frames: int = 0  # from the sender's bye (0: not said)

    def accept(self, message: CodePacket | Bye) -> bool:
        if self.source is None and isinstance(message, CodePacket):
            self.source = message.source
        if message.source != self.source:
            return False
        if isinstance(message, Bye):
            self.ended = True
            self.total_frames = message.frames
            return True
        if message.seq < self.next_seq:
            raise LinkError(f"stream {self.source} repeated sequence number {message.seq} (expected {self.next_seq})")
        if message.seq > self.next_seq:
            self.missing_packets += message.seq - self.next_seq
            self.missing_frames += max(0, message.first_frame - self.next_frame)
        self.next_seq = message.seq + 1
        self.next_frame = message.first_frame + message.frames
        self.packets += 1
        return True
