"""Planning a corpus build: the rendering tasks and held-out speakers for a seed and the installed packages."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np

from .noise import NOISES
from .sources import ALSA_DIR, AUDIO_SUFFIXES, FREEDESKTOP_DIR, HEDGEWARS, KLETTRES, SOUNDFONT, WESNOTH_MUSIC
from .splits import choose_held_out
from .tasks import EspeakTask, FestivalTask, MidiTask, MusicFileTask, NoiseTask, PackedFilesTask, Task
from .text import NATIVE_WORDS
from .util import safe_name, stable_hash
from .voices import espeak_variants, espeak_voices, festival_voices


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    out_dir: Path
    seed: int = 0
    synthetic_minutes: float = 120.0
    noise_minutes: float = 20.0
    workers: int = 2


@dataclasses.dataclass(frozen=True)
class Plan:
    tasks: list[Task]
    held_out_speakers: list[str]
    notes: list[str]  # sources skipped and why


def plan(config: BuildConfig) -> Plan:
    """The rendering tasks for ``config``, deterministic for a seed and the installed packages."""
    raw, seed = config.out_dir / "raw", config.seed
    tasks: list[Task] = []
    notes: list[str] = []
    held_out: list[str] = []

    # Recorded music first: the longest tasks.
    wesnoth = sorted((raw / WESNOTH_MUSIC).rglob("*.ogg"))
    hedgewars_music = sorted((raw / HEDGEWARS / "Music").glob("*.ogg"))
    music = (("wesnoth", wesnoth, "Battle for Wesnoth"), ("hedgewars-music", hedgewars_music, "Hedgewars"))
    for source, files, game in music:
        if not files:
            notes.append(f"{source}: no music found under {raw} (run install_data_packages.sh)")
        for file in files:
            title = file.stem.replace("_", " ").replace("-", " ")
            description = f'game music from {game}: "{title}"'
            tasks.append(MusicFileTask(f"{source}-{safe_name(file.stem)}", source, seed, str(file), description))

    # Recorded speech: klettres (one speaker per language) and hedgewars voices.
    klettres = {
        d.name: sorted(str(f) for f in d.rglob("*.ogg"))
        for d in sorted((raw / KLETTRES).glob("*")) if d.is_dir()
    }  # fmt: skip
    klettres = {language: files for language, files in klettres.items() if files}
    if not klettres:
        notes.append(f"klettres: no recordings under {raw / KLETTRES}")
    held_out += choose_held_out((f"klettres/{language}" for language in klettres), 2, seed)
    for language, files in klettres.items():
        name = _KLETTRES_LANGUAGES.get(language, language)
        description = f"a person saying letters and syllables in {name}"
        tasks.append(PackedFilesTask(f"klettres-{language}", "klettres", seed, "speech", f"klettres/{language}",
                                     description, tuple(files)))  # fmt: skip
    voice_dirs = sorted(d for d in (raw / HEDGEWARS / "Sounds" / "voices").glob("*") if d.is_dir())
    if not voice_dirs:
        notes.append(f"hedgewars voices: none under {raw / HEDGEWARS}")
    held_out += choose_held_out((f"hedgewars/{d.name}" for d in voice_dirs), 2, seed)
    for d in voice_dirs:
        description = f"a cartoon character voice ({d.name.replace('_', ' ')}) shouting short game phrases"
        files = tuple(sorted(str(f) for f in d.iterdir() if f.suffix in AUDIO_SUFFIXES))
        tasks.append(PackedFilesTask(f"hedgewars-{d.name}", "hedgewars-voices", seed, "speech",
                                     f"hedgewars/{d.name}", description, files))  # fmt: skip

    # Sound effects.
    effects = sorted(str(f) for f in (raw / HEDGEWARS / "Sounds").glob("*") if f.suffix in AUDIO_SUFFIXES)
    for i in range(0, len(effects), 12):
        tasks.append(PackedFilesTask(f"hedgewars-sfx-{i // 12:02d}", "hedgewars-sounds", seed, "sounds", "",
                                     "video game sound effects", tuple(effects[i : i + 12])))  # fmt: skip
    desktop = sorted(str(f) for f in FREEDESKTOP_DIR.glob("*") if f.suffix in AUDIO_SUFFIXES)
    for i in range(0, len(desktop), 6):
        tasks.append(PackedFilesTask(f"freedesktop-{i // 6:02d}", "freedesktop", seed, "sounds", "",
                                     "desktop notification and alert sounds", tuple(desktop[i : i + 6])))  # fmt: skip

    # ALSA test sounds (validation only).
    alsa_voice = tuple(sorted(str(f) for f in ALSA_DIR.glob("*.wav") if f.stem != "Noise"))
    for i in range(0, len(alsa_voice), 3):
        tasks.append(PackedFilesTask(f"alsa-voice-{i // 3}", "alsa", seed, "speech", "alsa/voice",
                                     "a woman naming loudspeaker positions in English", alsa_voice[i : i + 3],
                                     augment=False))  # fmt: skip
    if (ALSA_DIR / "Noise.wav").is_file():
        tasks.append(PackedFilesTask("alsa-noise", "alsa", seed, "noise", "", "loudspeaker test noise",
                                     (str(ALSA_DIR / "Noise.wav"),) * 3, augment=False))  # fmt: skip
    if not alsa_voice:
        notes.append(f"alsa: no test sounds in {ALSA_DIR}")

    rng = np.random.default_rng([seed, stable_hash("plan")])
    speech_seconds = config.synthetic_minutes * 60

    # Synthetic speech: festival (about 30 %), espeak-ng (the rest).
    festival = festival_voices() if shutil.which("festival") else []
    if not festival:
        notes.append("festival: not installed or no voices")
    else:
        english = [v.speaker for v in festival if v.text == "english"]
        held_out += choose_held_out(english, 1, seed)
        for i in range(max(round(0.3 * speech_seconds / 60), 1)):
            voice = festival[i % len(festival)]
            stretch = float(rng.uniform(0.8, 1.3))
            tasks.append(FestivalTask(f"festival-{i:03d}", "festival", seed, voice, stretch, 60.0))
    espeak = espeak_voices() if shutil.which("espeak-ng") else []
    if not espeak:
        notes.append("espeak-ng: not installed")
    else:
        variants = espeak_variants()
        plain_english = [v for v in espeak if v.text == "english" and not v.name.startswith("mb-")]
        held_out += choose_held_out((v.speaker for v in plain_english), 2, seed)
        pools = {
            "english": (0.45, plain_english),
            "mbrola": (0.2, [v for v in espeak if v.name.startswith("mb-")]),
            "native": (0.2, [v for v in espeak if v.text in NATIVE_WORDS and not v.name.startswith("mb-")]),
            "numbers": (0.15, [v for v in espeak if v.text == "numbers" and not v.name.startswith("mb-")]),
        }
        pools = {key: value for key, value in pools.items() if value[1]}
        shares = np.array([share for share, _ in pools.values()])
        keys = list(pools)
        for i in range(round(0.7 * speech_seconds / 6.5)):
            voices = pools[keys[rng.choice(len(keys), p=shares / shares.sum())]][1]
            voice = voices[rng.integers(len(voices))]
            variant, gender = ("", "")
            if not voice.name.startswith("mb-") and variants and rng.random() < 0.6:
                variant, gender = variants[rng.integers(len(variants))]
            speed, pitch = int(rng.integers(110, 260)), int(rng.integers(20, 81))
            tasks.append(EspeakTask(f"espeak-{i:04d}", "espeak-ng", seed, voice, variant, gender, speed, pitch))

    # Synthetic music.
    if shutil.which("fluidsynth") and SOUNDFONT.is_file():
        for i in range(round(config.synthetic_minutes * 60 / 30)):
            tasks.append(MidiTask(f"midi-{i:04d}", "fluidsynth-midi", seed, float(rng.uniform(20, 40))))
    else:
        notes.append(f"fluidsynth: not installed or {SOUNDFONT} missing")

    # Synthetic noise.
    noise_names = sorted(NOISES)
    for i in range(round(config.noise_minutes * 60 / 8)):
        noise = noise_names[i % len(noise_names)]
        tasks.append(NoiseTask(f"noise-{noise}-{i:04d}", "synthetic-noise", seed, noise, float(rng.uniform(3, 13))))
    return Plan(tasks, sorted(held_out), notes)


_KLETTRES_LANGUAGES = {"ar": "Arabic", "cs": "Czech", "da": "Danish", "de": "German", "en": "English",
                       "en_GB": "British English", "es": "Spanish", "fr": "French", "he": "Hebrew",
                       "hu": "Hungarian", "it": "Italian", "lt": "Lithuanian", "ml": "Malayalam",
                       "nb": "Norwegian", "nds": "Low German", "nl": "Dutch", "pt_BR": "Brazilian Portuguese",
                       "ru": "Russian", "tn": "Tswana", "uk": "Ukrainian"}  # fmt: skip
