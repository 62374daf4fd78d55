"""Where the installed system and Debian packages put the corpus's source material."""

from __future__ import annotations

from pathlib import Path


SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
ALSA_DIR = Path("/usr/share/sounds/alsa")
FREEDESKTOP_DIR = Path("/usr/share/sounds/freedesktop/stereo")
MBROLA_DIR = Path("/usr/share/mbrola")
FESTIVAL_VOICES_DIR = Path("/usr/share/festival/voices")
KLETTRES = Path("klettres-data/usr/share/klettres")
HEDGEWARS = Path("hedgewars-data/usr/share/games/hedgewars/Data")
WESNOTH_MUSIC = Path("wesnoth-1.16-music")
AUDIO_SUFFIXES = (".ogg", ".oga", ".wav", ".flac")
