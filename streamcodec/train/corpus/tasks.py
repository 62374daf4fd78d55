"""Rendering tasks, run in worker processes: each writes finished FLAC clips and reports them."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from .manifest import MAX_SECONDS, MIN_SECONDS, SAMPLE_RATE
from .midi import midi_bytes, random_song
from .noise import NOISES
from .signal import augment, clip_safe, pack, problem, read_mono, set_peak, trim_silence
from .sources import SOUNDFONT
from .text import sentence
from .util import safe_name, stable_hash
from .voices import Voice


AUGMENT_PROBABILITY = 0.3
MUSIC_SEGMENT_SECONDS = 10.0


def _speech_description(voice: Voice, variant_gender: str, pace: str, pitch: str) -> str:
    gender = variant_gender or voice.gender
    who = f"a synthetic {gender + ' ' if gender else ''}voice"
    what = "counting in" if voice.text == "numbers" else "speaking"
    engine = "espeak-ng with MBROLA" if voice.name.startswith("mb-") else voice.engine
    return f"{who} ({engine}, {voice.name}{', ' + pitch if pitch else ''}) {what} {voice.language} {pace}"


@dataclasses.dataclass(frozen=True)
class Output:
    """A rendered clip before split assignment."""

    path: str
    source: str
    kind: str
    speaker: str
    description: str
    seconds: float
    group: str


@dataclasses.dataclass(frozen=True)
class TaskResult:
    outputs: list[Output]
    warnings: list[tuple[str, str, str]]  # (source, reason, example)


@dataclasses.dataclass(frozen=True)
class Task:
    """Base of rendering tasks: ``name`` is unique and seeds the task's random generator."""

    name: str
    source: str
    seed: int

    def rng(self) -> np.random.Generator:
        return np.random.default_rng([self.seed, stable_hash(self.name)])

    def run(self, out_dir: Path) -> TaskResult:
        raise NotImplementedError


class _Writer:
    """Finishes (trim, check, augment, clip-safe) and saves a task's clips, collecting warnings."""

    def __init__(self, task: Task, out_dir: Path, augment_clips: bool = True):
        self.task, self.out_dir, self.augment_clips = task, out_dir, augment_clips
        self.outputs: list[Output] = []
        self.warnings: list[tuple[str, str, str]] = []

    def warn(self, reason: str, example: str) -> None:
        self.warnings.append((self.task.source, reason, example))

    def save(
        self, audio: np.ndarray, kind: str, speaker: str, description: str, group: str, rng: np.random.Generator
    ) -> None:
        stem = f"{self.task.name}_{len(self.outputs):03d}"
        audio = trim_silence(audio)[: int(MAX_SECONDS * SAMPLE_RATE)]
        reason = problem(audio)
        if reason:
            self.warn(reason, stem)
            return
        if self.augment_clips and rng.random() < AUGMENT_PROBABILITY:
            audio, suffix = augment(audio, rng)
            description += suffix
        relative = f"clips/{self.task.source}/{safe_name(stem)}.flac"
        (self.out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        sf.write(self.out_dir / relative, clip_safe(audio), SAMPLE_RATE, subtype="PCM_16")
        self.outputs.append(Output(relative, self.task.source, kind, speaker, description,
                                   round(len(audio) / SAMPLE_RATE, 3), group or stem))  # fmt: skip

    def result(self) -> TaskResult:
        return TaskResult(self.outputs, self.warnings)

    def read(self, path: Path, label: str = "") -> np.ndarray | None:
        """The audio of ``path`` (named ``label`` in warnings), or None if broken or silent."""
        try:
            audio = read_mono(path)
        except (RuntimeError, ValueError, sf.LibsndfileError) as error:
            self.warn("broken", f"{label or path} ({error})")
            return None
        reason = problem(audio) if len(audio) and np.all(np.isfinite(audio)) else "broken"
        if reason in ("broken", "silent"):
            self.warn(reason, label or str(path))
            return None
        return audio


@dataclasses.dataclass(frozen=True)
class PackedFilesTask(Task):
    """Short recordings of one speaker (or sound effects) shuffled and packed into 3-10 s clips."""

    kind: str
    speaker: str
    description: str
    files: tuple[str, ...]
    augment: bool = True

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir, self.augment)
        pieces = [trim_silence(audio) for file in self.files if (audio := writer.read(Path(file))) is not None]
        order = rng.permutation(len(pieces))
        for clip in pack([pieces[i] for i in order], rng):
            writer.save(clip, self.kind, self.speaker, self.description, "", rng)
        return writer.result()


@dataclasses.dataclass(frozen=True)
class MusicFileTask(Task):
    """A recorded music track cut into 10 s clips (one split group)."""

    file: str
    description: str

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir)
        audio = writer.read(Path(self.file))
        if audio is not None:
            _save_segments(writer, audio, "music", self.description, rng)
        return writer.result()


def _save_segments(writer: _Writer, audio: np.ndarray, kind: str, description: str, rng: np.random.Generator) -> None:
    """Cut ``audio``, edges trimmed, into 10 s segments (a last one of 2-10 s kept) saved as one group."""
    audio, step = trim_silence(audio), int(MUSIC_SEGMENT_SECONDS * SAMPLE_RATE)
    for start in range(0, len(audio) - int(MIN_SECONDS * SAMPLE_RATE) + 1, step):
        writer.save(audio[start : start + step], kind, "", description, writer.task.name, rng)


@dataclasses.dataclass(frozen=True)
class EspeakTask(Task):
    """One espeak-ng clip: sentences in one voice, variant, speed and pitch, packed to 3-10 s."""

    voice: Voice
    variant: str
    variant_gender: str
    speed: int
    pitch: int

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir)
        target = rng.uniform(3.0, 10.0) * SAMPLE_RATE
        name = self.voice.name + (f"+{self.variant}" if self.variant else "")
        pieces, size = [], 0
        with tempfile.TemporaryDirectory() as tmp:
            while size < target and len(pieces) < 8:
                wav = Path(tmp) / f"{len(pieces)}.wav"
                command = ["espeak-ng", "-v", name, "-s", str(self.speed), "-p", str(self.pitch), "-w", str(wav)]
                done = subprocess.run(command + [sentence(rng, self.voice.text)], capture_output=True)
                if done.returncode != 0 or not wav.is_file():
                    writer.warn("synthesis failed", f"espeak-ng -v {name}")
                    return writer.result()
                audio = writer.read(wav, f"espeak-ng -v {name}")
                if audio is None:
                    return writer.result()
                pieces.append(trim_silence(audio))
                size += len(pieces[-1])
        pace = "slowly" if self.speed < 135 else "quickly" if self.speed > 200 else "at a normal pace"
        pitch = "low-pitched" if self.pitch < 35 else "high-pitched" if self.pitch > 65 else ""
        description = _speech_description(self.voice, self.variant_gender, pace, pitch)
        for clip in pack(pieces, rng, min_seconds=target / SAMPLE_RATE, max_seconds=MAX_SECONDS):
            writer.save(clip, "speech", self.voice.speaker, description, "", rng)
        return writer.result()


@dataclasses.dataclass(frozen=True)
class FestivalTask(Task):
    """About ``seconds`` of festival speech in one voice and speed (one festival run), 3-10 s clips."""

    voice: Voice
    stretch: float
    seconds: float

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir)
        count = max(int(self.seconds / 2.5), 1)  # a sentence lasts about 2.5 s
        with tempfile.TemporaryDirectory() as tmp:
            wavs = [Path(tmp) / f"{i}.wav" for i in range(count)]
            lines = [f"(voice_{self.voice.name})", f"(Parameter.set 'Duration_Stretch {self.stretch:.2f})"]
            for wav in wavs:
                text = re.sub(r'["\\]', "", sentence(rng, self.voice.text))
                lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{wav}" \'riff)')
            script = Path(tmp) / "script.scm"
            script.write_text("\n".join(lines) + "\n", encoding="latin-1", errors="replace")
            subprocess.run(["festival", "--batch", str(script)], capture_output=True, timeout=600)
            pieces = []
            for wav in wavs:
                if not wav.is_file():
                    writer.warn("synthesis failed", f"festival {self.voice.name}")
                    continue
                audio = writer.read(wav, f"festival {self.voice.name}")
                if audio is None:
                    continue
                pieces.append(trim_silence(audio))
        pace = "slowly" if self.stretch > 1.15 else "quickly" if self.stretch < 0.9 else "at a normal pace"
        description = _speech_description(self.voice, "", pace, "")
        for clip in pack(pieces, rng):
            writer.save(clip, "speech", self.voice.speaker, description, "", rng)
        return writer.result()


@dataclasses.dataclass(frozen=True)
class MidiTask(Task):
    """A random MIDI song of about ``seconds`` rendered by fluidsynth, cut into 10 s clips."""

    seconds: float

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir)
        notes, programs, tempo, description = random_song(rng, self.seconds)
        with tempfile.TemporaryDirectory() as tmp:
            midi, wav = Path(tmp) / "song.mid", Path(tmp) / "song.wav"
            midi.write_bytes(midi_bytes(notes, programs, tempo))
            command = ["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SAMPLE_RATE), "-F", str(wav), str(SOUNDFONT)]
            subprocess.run(command + [str(midi)], capture_output=True, timeout=600)
            if not wav.is_file():
                writer.warn("synthesis failed", f"fluidsynth {self.name}")
                return writer.result()
            audio = writer.read(wav, f"fluidsynth {self.name}")
        if audio is not None:
            _save_segments(writer, audio, "music", f"synthesized MIDI music: {description}", rng)
        return writer.result()


@dataclasses.dataclass(frozen=True)
class NoiseTask(Task):
    """One clip of synthetic noise."""

    noise: str
    seconds: float

    def run(self, out_dir: Path) -> TaskResult:
        rng, writer = self.rng(), _Writer(self, out_dir)
        generate, description = NOISES[self.noise]
        audio = generate(int(self.seconds * SAMPLE_RATE), rng)
        level = float(rng.uniform(-25.0, -3.0))
        writer.save(set_peak(audio, level), "noise", "", description, "", rng)
        return writer.result()


def run_task(task: Task, out_dir: Path) -> TaskResult:
    """``task.run(out_dir)``, as a module-level function for the process pool."""
    return task.run(out_dir)
