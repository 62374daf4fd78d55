"""The websocket server: ``/link/{room}`` relays codes between peers, ``/codec`` codes PCM for
thin clients (when the server has a model), ``/health`` and ``/metrics``.

Every protocol defect of one connection ends that connection alone, with an ``error`` message and
the close code :mod:`streamcodec.protocol` assigns; it is logged and counted, and no other
session notices.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import re
import time
from collections.abc import Sequence
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from streamcodec.protocol import (
    MAX_MESSAGE_BYTES,
    Message,
    PROTOCOL_VERSION,
    SUBPROTOCOL,
    Accept,
    Bye,
    CloseCode,
    CodePacket,
    Hello,
    Marker,
    Ping,
    Pong,
    ProtocolError,
    SetCodebooks,
    Stats,
    StreamFormat,
    check_hello,
    decode_message,
    encode_message,
)

from .codec import CodecSession, CodecStats
from .metrics import Histogram, histogram, metric
from .relay import LinkFormat, Peer, Relay

LOG = logging.getLogger("streamcodec.server")
ROOM_NAME = re.compile(r"^/link/([A-Za-z0-9_.-]{1,64})$")
CODEC_PATH = "/codec"
HELLO_TIMEOUT_S = 10.0


class LinkServer:
    """State and handlers of one server: the relay plus the counters ``/metrics`` reports."""

    def __init__(self, link_format: LinkFormat, max_peers: int = 256, max_room_peers: int = 32, model=None):
        self.format = link_format
        self.model = model  # serves /codec when given
        self.codec_stats = CodecStats()
        self.relay_delay = Histogram()  # time relayed messages wait in outboxes
        self.stream_format = StreamFormat(link_format.cardinality, link_format.max_codebooks)
        self.relay = Relay(link_format, max_peers, max_room_peers)
        self.errors: collections.Counter[int] = collections.Counter()  # close code -> sessions ended
        self.sessions_total = 0
        self.started = time.time()

    # HTTP routes, answered before any websocket handshake.

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/health":
            return _text_response(HTTPStatus.OK, "ok\n")
        if request.path == "/metrics":
            return _text_response(HTTPStatus.OK, self.metrics_text(), "text/plain; version=0.0.4")
        if request.path == CODEC_PATH and self.model is not None:
            return None
        if not ROOM_NAME.match(request.path):
            codec = ", /codec" if self.model is not None else ""
            return _text_response(HTTPStatus.NOT_FOUND, f"no route {request.path}; use /link/ROOM{codec}, /health or /metrics\n")
        return None

    def metrics_text(self) -> str:
        """Prometheus text exposition of the server's counters."""
        relay, codec = self.relay, self.codec_stats
        errors = {f'code="{code}"': count for code, count in self.errors.items()}
        lines = [
            *metric("streamcodec_sessions", "gauge", "Open link sessions.", relay.peer_count),
            *metric("streamcodec_rooms", "gauge", "Rooms with at least one peer.", len(relay.rooms)),
            *metric("streamcodec_sessions_total", "counter", "Link sessions accepted since start.", self.sessions_total),
            *metric("streamcodec_packets_relayed_total", "counter", "Code packets delivered to receivers' outboxes.", relay.packets_relayed),
            *metric("streamcodec_frames_relayed_total", "counter", "Frames delivered to receivers' outboxes.", relay.frames_relayed),
            *metric("streamcodec_packets_dropped_total", "counter", "Messages dropped because a receiver fell behind.", relay.packets_dropped),
            *histogram("streamcodec_relay_delay_seconds", "Time a relayed message waits in a receiver's outbox.", self.relay_delay),
            *metric("streamcodec_codec_sessions", "gauge", "Open /codec sessions.", codec.sessions),
            *metric("streamcodec_codec_sessions_total", "counter", "/codec sessions accepted since start.", codec.sessions_total),
            *metric("streamcodec_codec_frames_encoded_total", "counter", "Frames encoded for /codec sessions.", codec.frames_encoded),
            *metric("streamcodec_codec_frames_decoded_total", "counter", "Frames decoded for /codec sessions.", codec.frames_decoded),
            *histogram("streamcodec_codec_encode_seconds", "Compute time of one /codec encoder push.", codec.encode_seconds),
            *histogram("streamcodec_codec_decode_seconds", "Compute time of one /codec decoder push.", codec.decode_seconds),
            *metric("streamcodec_session_errors_total", "counter", "Sessions ended by a protocol error, by close code.", errors),
        ]
        return "\n".join(lines) + "\n"

    # Websocket sessions.

    async def handle(self, connection: ServerConnection) -> None:
        if connection.request.path == CODEC_PATH:
            await self.handle_codec(connection)
        else:
            await self.handle_link(connection, ROOM_NAME.match(connection.request.path).group(1))

    async def handle_link(self, connection: ServerConnection, room: str) -> None:
        peer: Peer | None = None
        writer: asyncio.Task | None = None
        try:
            hello = await self._receive_hello(connection)
            refusal = self.relay.can_join(room)
            if refusal:
                raise ProtocolError(CloseCode.TRY_AGAIN_LATER, refusal, retryable=True)
            peer = self.relay.join(room, hello.codebooks)
            self.sessions_total += 1
            writer = asyncio.create_task(_drain_outbox(connection, peer, self.relay_delay))
            f = self.format
            peer.send_now(Accept(PROTOCOL_VERSION, peer.id, f.model, f.sample_rate, f.frame_rate, hello.codebooks, f.cardinality))
            LOG.info("session %s joined room %r (%d codebooks)", peer.id, room, hello.codebooks)
            async for data in connection:
                if not self._handle_message(peer, decode_message(data)):
                    break
            await _flush(peer)
            await connection.close(CloseCode.NORMAL, "bye")
        except Exception as error:
            await self._end_with(connection, peer.id if peer else str(connection.remote_address), error)
        finally:
            if peer is not None:
                self.relay.leave(peer)
                LOG.info("session %s left room %r", peer.id, room)
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer

    async def _receive_hello(self, connection: ServerConnection) -> Hello:
        try:
            data = await asyncio.wait_for(connection.recv(), HELLO_TIMEOUT_S)
        except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
            raise ProtocolError(CloseCode.POLICY, f"no hello within {HELLO_TIMEOUT_S:g} s") from None
        hello = check_hello(decode_message(data))
        f = self.format
        if (hello.sample_rate, hello.frame_rate, hello.cardinality) != (f.sample_rate, f.frame_rate, f.cardinality):
            raise ProtocolError(
                CloseCode.FORMAT_MISMATCH,
                f"this server streams {f.model} at {f.sample_rate} Hz, {f.frame_rate:g} frames/s, {f.cardinality} codes; "
                f"the hello asks for {hello.sample_rate} Hz, {hello.frame_rate:g} frames/s, {hello.cardinality} codes",
            )
        self._check_codebooks(hello.codebooks, CloseCode.BAD_HELLO)
        return hello

    def _check_codebooks(self, codebooks: int, code: CloseCode) -> None:
        """A peer may ask for 1 to all of the model's codebooks per frame."""
        if not 1 <= codebooks <= self.format.max_codebooks:
            raise ProtocolError(code, f"codebooks must be 1 to {self.format.max_codebooks}, got {codebooks}")

    def _handle_message(self, peer: Peer, message: object) -> bool:
        """Act on one message of an accepted session; ``False`` once the peer said bye."""
        if isinstance(message, CodePacket):
            self.stream_format.check_packet(message)
            self.relay.relay(peer, message)
        elif isinstance(message, SetCodebooks):
            self._check_codebooks(message.codebooks, CloseCode.INVALID_PAYLOAD)
            peer.codebooks = message.codebooks
        elif isinstance(message, (Ping, Marker)):  # a marker: everything before it has been relayed
            stats = {
                "dropped_packets": float(peer.counters.dropped_packets),
                "backlog": float(peer.outbox.qsize()),
                "room_backlog": float(self.relay.room_backlog(peer)),
            }
            for reply in _control_replies(message, stats):
                peer.send_now(reply)
        elif isinstance(message, Bye):
            self.relay.broadcast_bye(peer, message)
            return False
        elif isinstance(message, (Pong, Stats)):
            pass  # answers to our pings and client-side counters need no reply
        else:
            raise ProtocolError(CloseCode.POLICY, f"a {message.TYPE} message is not allowed in an open link session")
        return True

    async def handle_codec(self, connection: ServerConnection) -> None:
        """A ``/codec`` session: PCM in -> codes out, codes in -> PCM out (see server/codec.py)."""
        stats = self.codec_stats
        session: CodecSession | None = None
        name = f"codec-{stats.sessions_total + 1}"
        try:
            hello = await self._receive_hello(connection)
            session = CodecSession(self.model, hello.codebooks, stats)
            stats.sessions += 1
            stats.sessions_total += 1
            f = self.format
            await connection.send(encode_message(
                Accept(PROTOCOL_VERSION, name, f.model, f.sample_rate, f.frame_rate, hello.codebooks, f.cardinality)
            ))
            async for data in connection:
                message = decode_message(data)
                if isinstance(message, Bye):
                    replies = session.finish(message)
                elif isinstance(message, (Ping, Marker)):
                    replies = _control_replies(message, {"frames_encoded": float(session.encoder.frames),
                                                         "frames_decoded": float(session.decoder.frames)})
                elif isinstance(message, (Pong, Stats)):
                    replies = []
                else:
                    replies = session.handle(message)
                for reply in replies:
                    await connection.send(encode_message(reply))
                if isinstance(message, Bye):
                    break
            await connection.close(CloseCode.NORMAL, "bye")
        except Exception as error:
            await self._end_with(connection, name, error)
        finally:
            if session is not None:
                stats.sessions -= 1

    async def _end_with(self, connection: ServerConnection, name: str, error: Exception) -> None:
        """End session ``name`` after ``error``: a protocol defect is refused with its close code,
        a vanished peer is let go, and a bug ends this session alone (1011, logged)."""
        if isinstance(error, ConnectionClosed):
            return
        if not isinstance(error, ProtocolError):
            LOG.error("session %s failed", name, exc_info=error)
            error = ProtocolError(CloseCode.INTERNAL_ERROR, "internal server error", retryable=True)
        await self._refuse(connection, name, error)

    async def _refuse(self, connection: ServerConnection, name: str, error: ProtocolError) -> None:
        """Send ``error`` and close with its code; a vanished peer is simply let go."""
        self.errors[int(error.code)] += 1
        LOG.warning("session %s: %s (close %d)", name, error.message, error.code)
        with contextlib.suppress(ConnectionClosed):
            await connection.send(encode_message(error.to_message()))
            await connection.close(int(error.code), error.message[:120])


def _control_replies(message: Ping | Marker, stats: dict[str, float]) -> list[Message]:
    """A ping's pong; a marker's echo followed by the session's ``stats``."""
    if isinstance(message, Ping):
        received = time.time()
        return [Pong(message.id, message.sent, received, time.time())]
    return [message, Stats(stats)]


async def _drain_outbox(connection: ServerConnection, peer: Peer, delay: Histogram) -> None:
    """Send the peer's queued messages in order until the connection or the session ends."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            data, queued = await peer.outbox.get()
            delay.observe(time.monotonic() - queued)
            await connection.send(data)
            peer.outbox.task_done()


async def _flush(peer: Peer, timeout_s: float = 2.0) -> None:
    """Wait (briefly) until the peer's outbox is sent."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(peer.outbox.join(), timeout_s)


def _text_response(status: HTTPStatus, body: str, content_type: str = "text/plain; charset=utf-8") -> Response:
    data = body.encode()
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(data))), ("Connection", "close")])
    return Response(status.value, status.phrase, headers, data)


def _select_subprotocol(connection: ServerConnection, offered: Sequence[str]) -> str | None:
    """Speak ``streamcodec.v1`` when offered; clients that offer nothing are served too."""
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


async def start_server(link: LinkServer, host: str = "127.0.0.1", port: int = 8765) -> Server:
    """Listen on ``host:port`` (port 0 picks a free one); returns the running websockets server."""
    return await serve(
        link.handle,
        host,
        port,
        process_request=link.process_request,
        select_subprotocol=_select_subprotocol,
        compression=None,  # codes do not compress, and deflate costs latency
        max_size=2 * MAX_MESSAGE_BYTES,  # larger than the protocol limit, so decode_message explains the refusal
        max_queue=64,
        write_limit=2**16,
        ping_interval=20,
        close_timeout=2,  # a peer that ignores the closing handshake does not hold up shutdown
    )


def link_format_of(model) -> LinkFormat:
    """The link format of a loaded codec model."""
    return LinkFormat(model.name, model.sample_rate, float(model.frame_rate), model.cardinality, model.total_codebooks)

