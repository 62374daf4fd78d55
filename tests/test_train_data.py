"""Fast tests of the training corpus pipeline (no system packages needed)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from streamcodec.train.corpus import (
    MAX_SECONDS,
    NOISES,
    SAMPLE_RATE,
    Clip,
    Note,
    RandomCrops,
    SplitItem,
    add_reverb,
    assign_splits,
    choose_held_out,
    clip_safe,
    load_manifest,
    midi_bytes,
    pack,
    random_song,
    room_impulse_response,
    trim_silence,
    write_manifest,
)

KIND_VALUES = {"speech": 0.1, "music": 0.2, "sounds": 0.3, "noise": 0.4}


def _corpus(root: Path) -> list[Clip]:
    """Constant-valued clips: train clips hold their kind's value, valid clips -0.5."""
    clips = []
    for kind, value in KIND_VALUES.items():
        for split in ("train", "valid"):
            for i in range(2):
                path = f"clips/{kind}-{split}-{i}.flac"
                seconds = 2.0 + i
                level = value if split == "train" else -0.5
                (root / "clips").mkdir(exist_ok=True)
                audio = np.full(int(seconds * SAMPLE_RATE), level, np.float32)
                sf.write(root / path, audio, SAMPLE_RATE, subtype="PCM_16")
                clips.append(Clip(path, f"src-{kind}", kind, f"spk{i}", f"{kind} clip {i}", split, seconds))
    write_manifest(root, clips)
    return clips


def test_manifest_round_trip(tmp_path: Path) -> None:
    clips = _corpus(tmp_path)
    loaded = load_manifest(tmp_path)
    assert loaded == clips
    assert all(clip.root == tmp_path and clip.file.is_file() for clip in loaded)
    assert load_manifest(tmp_path, "valid") == [c for c in clips if c.split == "valid"]


def test_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="streamcodec.train.corpus"):
        load_manifest(tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_manifest(tmp_path, "test")
    with pytest.raises(ValueError, match="kind"):
        Clip("a.flac", "s", "video", "", "", "train", 2.0)


def test_random_crops_shapes_determinism_and_state(tmp_path: Path) -> None:
    _corpus(tmp_path)
    train = load_manifest(tmp_path, "train")
    crops = RandomCrops(train, 12_000, seed=3)
    first = [next(crops) for _ in range(20)]
    assert all(c.shape == (1, 12_000) and c.dtype == torch.float32 for c in first)
    again = RandomCrops(train, 12_000, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first, (next(again) for _ in range(20))))
    other = RandomCrops(train, 12_000, seed=4)
    assert not all(torch.equal(a, b) for a, b in zip(first, (next(other) for _ in range(20))))
    state = crops.state()
    expected = [next(crops) for _ in range(5)]
    resumed = RandomCrops(train, 12_000, seed=99, cache_bytes=0)
    resumed.load_state(state)
    assert all(torch.equal(a, next(resumed)) for a in expected)


def test_random_crops_respect_split_and_proportions(tmp_path: Path) -> None:
    _corpus(tmp_path)
    crops = RandomCrops(load_manifest(tmp_path, "train"), 2_400, seed=0)
    values = [round(float(next(crops)[0, 100]), 1) for _ in range(2_000)]
    assert -0.5 not in values  # valid clips never sampled
    share = {kind: values.count(value) / len(values) for kind, value in KIND_VALUES.items()}
    assert share["speech"] == pytest.approx(0.5, abs=0.05)
    assert share["music"] == pytest.approx(0.3, abs=0.05)
    assert share["sounds"] + share["noise"] == pytest.approx(0.2, abs=0.05)


def test_random_crops_pad_short_clips(tmp_path: Path) -> None:
    _corpus(tmp_path)
    crop = next(RandomCrops(load_manifest(tmp_path)[:1], 5 * SAMPLE_RATE, seed=0))
    assert crop.shape == (1, 5 * SAMPLE_RATE)
    assert int((crop != 0).sum()) == 2 * SAMPLE_RATE


def test_midi_writer_header_and_track() -> None:
    notes, programs, tempo, description = random_song(np.random.default_rng(0), 8.0)
    data = midi_bytes(notes, programs, tempo)
    assert data[:4] == b"MThd"
    assert struct.unpack(">IHHH", data[4:14]) == (6, 0, 1, 480)
    assert data[14:18] == b"MTrk"
    assert struct.unpack(">I", data[18:22])[0] == len(data) - 22
    assert data.endswith(b"\xff\x2f\x00")
    assert notes and description and 60 <= tempo < 170
    simple = midi_bytes([Note(0.0, 1.0, 0, 60, 100)], {0: 0}, 120.0)
    assert b"\x90\x3c\x64" in simple and b"\x80\x3c\x00" in simple
    assert b"\xff\x51\x03\x07\xa1\x20" in simple  # 500000 us per beat


def test_random_song_is_deterministic() -> None:
    a = random_song(np.random.default_rng(5), 20.0)
    b = random_song(np.random.default_rng(5), 20.0)
    assert midi_bytes(*a[:3]) == midi_bytes(*b[:3]) and a[3] == b[3]


@pytest.mark.parametrize("name", sorted(NOISES))
def test_noise_generators(name: str) -> None:
    generate, description = NOISES[name]
    audio = generate(SAMPLE_RATE * 2 + 7, np.random.default_rng(1))
    assert audio.shape == (SAMPLE_RATE * 2 + 7,) and audio.dtype == np.float32
    assert np.all(np.isfinite(audio)) and np.abs(audio).max() > 0
    assert np.sqrt(np.mean(audio**2)) == pytest.approx(1.0, rel=1e-3)
    assert np.array_equal(audio, generate(SAMPLE_RATE * 2 + 7, np.random.default_rng(1)))
    assert description


def test_reverb_and_clip_safety() -> None:
    rng = np.random.default_rng(0)
    audio = np.sin(np.linspace(0, 1000, SAMPLE_RATE)).astype(np.float32)
    wet = add_reverb(audio, room_impulse_response(rng, 0.5), wet=0.7)
    assert wet.shape == audio.shape and np.all(np.isfinite(wet))
    assert np.abs(clip_safe(wet * 4)).max() < 1.0


def test_trim_and_pack() -> None:
    tone = 0.5 * np.sin(np.arange(SAMPLE_RATE) * 0.1).astype(np.float32)
    padded = np.concatenate([np.zeros(SAMPLE_RATE, np.float32), tone, np.zeros(SAMPLE_RATE, np.float32)])
    trimmed = trim_silence(padded)
    assert SAMPLE_RATE <= len(trimmed) <= SAMPLE_RATE + 0.05 * SAMPLE_RATE
    rng = np.random.default_rng(0)
    pieces = [tone[: int(rng.uniform(0.3, 1.0) * SAMPLE_RATE)] for _ in range(60)]
    pieces.append(np.ones(20 * SAMPLE_RATE, np.float32))
    clips = pack(pieces, rng)
    assert all(len(c) <= MAX_SECONDS * SAMPLE_RATE for c in clips)
    assert all(len(c) >= 3 * SAMPLE_RATE for c in clips[:-1])


def _items(sources: int = 3, speakers: int = 6, clips_per_speaker: int = 10) -> list[SplitItem]:
    return [
        SplitItem(f"src{s}", f"src{s}/spk{k}", f"src{s}/spk{k}/clip{c}")
        for s in range(sources)
        for k in range(speakers)
        for c in range(clips_per_speaker)
    ]


def test_held_out_speakers_never_in_train() -> None:
    items = _items()
    held_out = [h for s in range(3) for h in choose_held_out({i.speaker for i in items if i.source == f"src{s}"}, 2, 0)]
    assert len(held_out) == 6
    splits = assign_splits(items, held_out, seed=0)
    train_speakers = {i.speaker for i, split in zip(items, splits) if split == "train"}
    assert not train_speakers & set(held_out)
    assert all(split == "valid" for i, split in zip(items, splits) if i.speaker in held_out)
    # about 5 % of the other clips of each source are valid too
    for s in range(3):
        rest = [split for i, split in zip(items, splits) if i.source == f"src{s}" and i.speaker not in held_out]
        assert rest.count("valid") == 2  # round(0.05 * 40)
    assert assign_splits(items, held_out, seed=0) == splits


def test_split_groups_and_valid_sources() -> None:
    items = [SplitItem("music", "", f"track{t}") for t in range(20) for _ in range(5)]
    items += [SplitItem("alsa", "alsa/voice", f"a{i}") for i in range(3)]
    splits = assign_splits(items, [], seed=1, valid_sources=["alsa"])
    by_group: dict[str, set[str]] = {}
    for item, split in zip(items, splits):
        by_group.setdefault(item.group, set()).add(split)
    assert all(len(s) == 1 for s in by_group.values())  # a track never straddles splits
    assert sum(s == {"valid"} for g, s in by_group.items() if g.startswith("track")) == 1
    assert splits[-3:] == ["valid"] * 3


def test_choose_held_out() -> None:
    speakers = [f"spk{i}" for i in range(10)]
    chosen = choose_held_out(speakers, 2, seed=0)
    assert len(chosen) == 2 and set(chosen) <= set(speakers)
    assert chosen == choose_held_out(reversed(speakers), 2, seed=0)
    assert choose_held_out(["a", "b"], 2, seed=0) in (["a"], ["b"])  # never all speakers
