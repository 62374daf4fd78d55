"""Training corpus of the default model: build it from Debian packages and synthesizers, load it.

Build (after ``bash streamcodec/train/install_data_packages.sh DATA_DIR``)::

    python -m streamcodec.train.corpus --out DATA_DIR [--seed 0] [--synthetic-minutes 120]

This writes 24 kHz mono 16-bit FLAC clips of 2-15 s under ``DATA_DIR/clips/<source>/``, one JSON
line per clip in ``DATA_DIR/manifest.jsonl`` and the minutes per source, kind and split in
``DATA_DIR/summary.json``. Sources:

* recorded speech: klettres-data (letters and syllables, one speaker per language) and the
  hedgewars-data character voices, short utterances of one speaker packed into 3-10 s clips;
* recorded music: wesnoth-1.16-music and the hedgewars music, cut into 10 s clips;
* the ALSA test voice and noise in ``/usr/share/sounds/alsa`` (validation only);
* synthetic speech: espeak-ng (its own voices and variants, MBROLA voices) and festival, speaking
  sentences from a seeded generator at random speeds and pitches;
* synthetic music: seeded random MIDI songs rendered by fluidsynth with the FluidR3 GM soundfont;
* sounds and noise: freedesktop and hedgewars sound effects, white/pink/brown noise, rain, hum.

A seeded subset of clips gets a random peak level (-30 to 0 dBFS) and synthetic room reverb.
Validation holds whole speakers out (2 klettres languages, 2 hedgewars voices, 2 espeak voices,
1 festival voice), about 5 % of the other groups of each source (a group is a clip, or a whole
recording for music cut into several clips) and the ALSA clips. The build is reproducible: the
same seed and installed packages give the same files.

Modules: :mod:`.manifest` (clip records, manifest.jsonl), :mod:`.crops` (training crops),
:mod:`.splits`, :mod:`.signal`, :mod:`.noise`, :mod:`.midi`, :mod:`.text`, :mod:`.voices`,
:mod:`.sources` (package paths), :mod:`.tasks` (rendering), :mod:`.planning`, :mod:`.building`
(build and command line). For the trainer: :func:`load_manifest` and :class:`RandomCrops`.
"""

from .building import build, format_summary, main, summarize
from .crops import DEFAULT_PROPORTIONS, RandomCrops
from .manifest import (
    KINDS,
    MANIFEST,
    MAX_SECONDS,
    MIN_SECONDS,
    SAMPLE_RATE,
    SPLITS,
    SUMMARY,
    Clip,
    interleave_sources,
    load_manifest,
    write_manifest,
)
from .midi import GM_PROGRAMS, SCALES, Note, midi_bytes, random_song
from .noise import NOISES, brown_noise, colored_noise, hum, pink_noise, rain_noise, white_noise
from .planning import BuildConfig, Plan, plan
from .signal import (
    add_reverb,
    augment,
    clip_safe,
    pack,
    problem,
    read_mono,
    room_impulse_response,
    set_peak,
    trim_silence,
)
from .splits import SplitItem, assign_splits, choose_held_out
from .tasks import Output, Task, TaskResult
from .text import NATIVE_WORDS, english_sentence, native_sentence, number_sentence
from .voices import Voice, espeak_variants, espeak_voices, festival_voices

__all__ = [
    "DEFAULT_PROPORTIONS", "GM_PROGRAMS", "KINDS", "MANIFEST", "MAX_SECONDS", "MIN_SECONDS", "NATIVE_WORDS",
    "NOISES", "SAMPLE_RATE", "SCALES", "SPLITS", "SUMMARY",
    "BuildConfig", "Clip", "Note", "Output", "Plan", "RandomCrops", "SplitItem", "Task", "TaskResult", "Voice",
    "add_reverb", "assign_splits", "augment", "brown_noise", "build", "choose_held_out", "clip_safe",
    "colored_noise", "english_sentence", "espeak_variants", "espeak_voices", "festival_voices", "format_summary",
    "hum", "interleave_sources", "load_manifest", "main", "midi_bytes", "native_sentence", "number_sentence", "pack", "pink_noise",
    "plan", "problem", "rain_noise", "random_song", "read_mono", "room_impulse_response", "set_peak",
    "summarize", "trim_silence", "white_noise", "write_manifest",
]  # fmt: skip
