"""Rooms of peers and the code relay between them, free of sockets.

A sender's code packet goes to every other peer of its room, cut to the codebooks that peer asked
for (RVQ codebooks are nested, so cutting needs no re-encoding). Each peer has a bounded outbox;
when a slow receiver lets it fill, the oldest packet is dropped and counted, so one slow peer
never holds back the sender or the others, and what it does hear stays recent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time

from streamcodec.protocol import Bye, CodePacket, Message, encode_message

DEFAULT_OUTBOX_PACKETS = 64  # ~0.85 s of 1-frame packets


@dataclasses.dataclass(frozen=True)
class LinkFormat:
    """The stream format every peer of this server speaks."""

    model: str
    sample_rate: int
    frame_rate: float
    cardinality: int
    max_codebooks: int


@dataclasses.dataclass
class PeerCounters:
    packets_in: int = 0
    frames_in: int = 0
    packets_out: int = 0
    frames_out: int = 0
    dropped_packets: int = 0


class Peer:
    """One connection in a room: what it wants to receive and its outbox of encoded messages."""

    _ids = itertools.count(1)

    def __init__(self, room: str, codebooks: int, outbox_packets: int = DEFAULT_OUTBOX_PACKETS):
        self.id = f"{room}-{next(self._ids)}"
        self.room = room
        self.codebooks = codebooks
        self.outbox: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue(maxsize=outbox_packets)  # (message, queued at)
        self.counters = PeerCounters()

    def offer(self, data: bytes) -> int:
        """Queue ``data`` for sending; when the outbox is full, drop its oldest message first.

        Returns the number of messages dropped to make room.
        """
        dropped = 0
        while self.outbox.full():
            self.outbox.get_nowait()
            dropped += 1
        self.outbox.put_nowait((data, time.monotonic()))
        self.counters.dropped_packets += dropped
        return dropped

    def send_now(self, message: Message) -> None:
        """Queue a control message (pong, marker, stats) behind what is already queued."""
        self.offer(encode_message(message))


class Relay:
    """Every room of the server, keyed by name, and the packet fan-out between their peers."""

    def __init__(self, link_format: LinkFormat, max_peers: int = 256, max_room_peers: int = 32):
        self.format = link_format
        self.max_peers = max_peers
        self.max_room_peers = max_room_peers
        self.rooms: dict[str, list[Peer]] = {}
        self.packets_relayed = 0
        self.frames_relayed = 0
        self.packets_dropped = 0  # outbox overflows, over the server's lifetime

    @property
    def peer_count(self) -> int:
        return sum(len(peers) for peers in self.rooms.values())

    def can_join(self, room: str) -> str | None:
        """Why a new peer cannot join ``room`` now (``None`` if it can)."""
        if self.peer_count >= self.max_peers:
            return f"the server is full ({self.max_peers} peers)"
        if len(self.rooms.get(room, ())) >= self.max_room_peers:
            return f"room {room!r} is full ({self.max_room_peers} peers)"
        return None

    def join(self, room: str, codebooks: int, outbox_packets: int = DEFAULT_OUTBOX_PACKETS) -> Peer:
        peer = Peer(room, codebooks, outbox_packets)
        self.rooms.setdefault(room, []).append(peer)
        return peer

    def leave(self, peer: Peer) -> None:
        peers = self.rooms.get(peer.room, [])
        if peer in peers:
            peers.remove(peer)
        if not peers:
            self.rooms.pop(peer.room, None)

    def relay(self, sender: Peer, packet: CodePacket) -> None:
        """Fan ``packet`` out to the other peers of the sender's room, each at its codebook count."""
        sender.counters.packets_in += 1
        sender.counters.frames_in += packet.frames
        # The relay stamps only packets that carry stamps: clients that measure nothing pay nothing.
        stamps = {**packet.stamps, "relayed": time.time()} if packet.stamps else {}
        encoded: dict[int, bytes] = {}  # one encoding per distinct codebook count
        for peer in self.rooms.get(sender.room, ()):
            if peer is sender:
                continue
            codebooks = min(peer.codebooks, packet.codebooks)
            if codebooks not in encoded:
                cut = packet.truncated(codebooks, self.format.cardinality)
                encoded[codebooks] = encode_message(dataclasses.replace(cut, stamps=stamps, source=sender.id))
            self.packets_dropped += peer.offer(encoded[codebooks])
            peer.counters.packets_out += 1
            peer.counters.frames_out += packet.frames
            self.packets_relayed += 1
            self.frames_relayed += packet.frames

    def room_backlog(self, sender: Peer) -> int:
        """The fullest outbox among the other peers of the sender's room (messages queued)."""
        return max((peer.outbox.qsize() for peer in self.rooms.get(sender.room, ()) if peer is not sender), default=0)

    def broadcast_bye(self, sender: Peer, bye: Bye) -> None:
        """Tell the sender's room that its stream has ended."""
        data = encode_message(dataclasses.replace(bye, source=sender.id))
        for peer in self.rooms.get(sender.room, ()):
            if peer is not sender:
                self.packets_dropped += peer.offer(data)
