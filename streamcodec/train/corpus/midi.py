"""Seeded random songs and a minimal Standard MIDI File writer, for fluidsynth to render."""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Note:
    """A note: start and duration in beats, MIDI channel (9 is percussion), pitch, velocity."""

    start: float
    duration: float
    channel: int
    pitch: int
    velocity: int


def _variable_length(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def midi_bytes(notes: Sequence[Note], programs: dict[int, int], tempo_bpm: float, ticks_per_beat: int = 480) -> bytes:
    """A format-0 Standard MIDI File: tempo, program changes (channel -> GM program), notes."""
    events: list[tuple[int, int, bytes]] = [(0, 0, b"\xff\x51\x03" + int(60e6 / tempo_bpm).to_bytes(3, "big"))]
    events += [(0, 1, bytes([0xC0 | channel, program])) for channel, program in sorted(programs.items())]
    for note in notes:
        on = round(note.start * ticks_per_beat)
        off = max(round((note.start + note.duration) * ticks_per_beat), on + 1)
        events.append((on, 3, bytes([0x90 | note.channel, note.pitch, note.velocity])))
        events.append((off, 2, bytes([0x80 | note.channel, note.pitch, 0])))  # offs before ons at a tick
    events.sort(key=lambda event: (event[0], event[1]))
    track, now = bytearray(), 0
    for tick, _, data in events:
        track += _variable_length(tick - now) + data
        now = tick
    track += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_beat)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


# A selection of General MIDI programs (0-based) and their names.
GM_PROGRAMS = {
    0: "a piano", 4: "an electric piano", 6: "a harpsichord", 11: "a vibraphone", 13: "a xylophone",
    19: "a church organ", 21: "an accordion", 24: "a nylon-string guitar", 25: "a steel-string guitar",
    27: "a clean electric guitar", 29: "an overdriven guitar", 32: "an acoustic bass", 33: "an electric bass",
    40: "a violin", 42: "a cello", 46: "a harp", 48: "a string ensemble", 52: "a choir", 56: "a trumpet",
    57: "a trombone", 60: "a French horn", 65: "an alto saxophone", 68: "an oboe", 71: "a clarinet",
    73: "a flute", 75: "a pan flute", 80: "a square-wave synth lead", 81: "a sawtooth synth lead",
    88: "a synth pad",
}  # fmt: skip
BASS_PROGRAMS = (32, 33, 42)
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "blues": (0, 3, 5, 6, 7, 10),
}


def random_song(rng: np.random.Generator, seconds: float) -> tuple[list[Note], dict[int, int], float, str]:
    """A seeded random song of about ``seconds`` (whole 4-beat bars): 1-4 melodic voices in one
    scale, drums half the time. Returns notes, programs, tempo and a description."""
    tempo = float(rng.integers(60, 170))
    beats = 4 * max(round(seconds * tempo / 240), 1)
    scale_name = str(rng.choice(list(SCALES)))
    scale, root = SCALES[scale_name], int(rng.integers(45, 58))
    voices = int(rng.integers(1, 5))
    notes: list[Note] = []
    programs: dict[int, int] = {}
    names = []
    for channel in range(voices):
        bass = channel == 1 and rng.random() < 0.6
        program = int(rng.choice(BASS_PROGRAMS if bass else list(GM_PROGRAMS)))
        programs[channel] = program
        names.append(GM_PROGRAMS[program])
        octave = -12 if bass else int(rng.choice([0, 12, 12, 24]))
        lengths = [1.0, 2.0, 4.0] if bass or program in (48, 52, 88) else [0.25, 0.5, 0.5, 1.0, 1.0, 2.0]
        degree, t = int(rng.integers(0, len(scale))), 0.0
        velocity = int(rng.integers(60, 110))
        while t < beats:
            duration = float(rng.choice(lengths))
            degree = int(np.clip(degree + rng.integers(-2, 3), -len(scale), 2 * len(scale)))
            pitch = root + octave + 12 * (degree // len(scale)) + scale[degree % len(scale)]
            if rng.random() > 0.1:  # a rest now and then
                chord = [0, 4, 7] if channel == 0 and voices == 1 and rng.random() < 0.3 else [0]
                for offset in chord:
                    notes.append(Note(t, duration * 0.95, channel, int(np.clip(pitch + offset, 21, 108)),
                                      int(np.clip(velocity + rng.integers(-15, 16), 20, 127))))  # fmt: skip
            t += duration
    drums = rng.random() < 0.5
    if drums:
        pattern = {36: (0.0, 2.0), 38: (1.0, 3.0), 42: tuple(np.arange(0, 4, 0.5))}
        for bar in range(beats // 4):
            for pitch, offsets in pattern.items():
                for offset in offsets:
                    if rng.random() < 0.92:
                        notes.append(Note(bar * 4 + float(offset), 0.25, 9, pitch, int(rng.integers(60, 120))))
    listing = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    description = f"{listing}{' with drums' if drums else ''}, {scale_name} scale, {tempo:.0f} bpm"
    return notes, programs, tempo, description
