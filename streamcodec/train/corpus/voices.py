"""The installed speech synthesizer voices: espeak-ng (with MBROLA) and festival."""

from __future__ import annotations

import dataclasses
import subprocess

from .sources import FESTIVAL_VOICES_DIR, MBROLA_DIR
from .text import NATIVE_WORDS


@dataclasses.dataclass(frozen=True)
class Voice:
    """A synthesizer voice: ``name`` as the engine selects it, ``text`` the kind of text it reads
    ("english", a NATIVE_WORDS language, or "numbers")."""

    engine: str
    name: str
    language: str
    gender: str
    text: str

    @property
    def speaker(self) -> str:
        return f"{self.engine}/{self.name.rsplit('/', 1)[-1]}"


def _native_text(code: str) -> str:
    base = code.split("-")[0].lower()
    return "english" if base == "en" else base if base in NATIVE_WORDS else "numbers"


def espeak_voices() -> list[Voice]:
    """espeak-ng's voices, MBROLA ones only where their voice data is installed."""
    voices: dict[str, Voice] = {}
    for listing in ("--voices", "--voices=mb"):
        output = subprocess.run(["espeak-ng", listing], capture_output=True, text=True, check=True).stdout
        for line in output.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 5 or fields[1] == "variant":
                continue
            code, gender, voice_name, file = fields[1], fields[2].split("/")[-1], fields[3], fields[4]
            name = file.rsplit("/", 1)[-1] if file.startswith("mb/") else file
            if file.startswith("mb/"):
                if not (MBROLA_DIR / name.split("-")[1]).exists():
                    continue
                english = name.endswith("-en") or code.startswith("en")
                language = "English" if english else _LANGUAGES.get(code.split("-")[0], code)
                text = "english" if english else _native_text(code)
            else:
                language = voice_name.replace("_", " ")
                text = _native_text(code)
            voices[name] = Voice("espeak-ng", name, language, {"F": "female", "M": "male"}.get(gender, ""), text)
    return [voices[name] for name in sorted(voices)]


def espeak_variants() -> list[tuple[str, str]]:
    """espeak-ng's voice variants: (name for ``voice+name``, gender)."""
    output = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    variants = []
    for line in output.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 5 and fields[4].startswith("!v/"):
            variants.append((fields[4][3:], {"F": "female", "M": "male"}.get(fields[2].split("/")[-1], "")))
    return variants


_LANGUAGES = {"af": "Afrikaans", "br": "Portuguese", "pt": "Portuguese", "cs": "Czech", "de": "German",
              "en": "English", "es": "Spanish", "fr": "French", "hu": "Hungarian", "it": "Italian",
              "nl": "Dutch", "pl": "Polish", "ro": "Romanian", "sv": "Swedish"}  # fmt: skip
_FESTIVAL_GENDERS = {"kal_diphone": "male", "ked_diphone": "male", "rab_diphone": "male", "don_diphone": "male",
                     "us1_mbrola": "female", "us2_mbrola": "male", "us3_mbrola": "male",
                     "cmu_us_slt_arctic_hts": "female", "el_diphone": "male", "pc_diphone": "male"}  # fmt: skip
_FESTIVAL_LANGUAGES = {"english": ("English", "english"), "us": ("English", "english"),
                       "spanish": ("Spanish", "es"), "italian": ("Italian", "it")}  # fmt: skip


def festival_voices() -> list[Voice]:
    """Installed festival voices of the languages we have text for."""
    voices = []
    for directory in sorted(FESTIVAL_VOICES_DIR.glob("*/*")):
        language = _FESTIVAL_LANGUAGES.get(directory.parent.name)
        if directory.is_dir() and language:
            gender = _FESTIVAL_GENDERS.get(directory.name, "")
            voices.append(Voice("festival", directory.name, language[0], gender, language[1]))
    return voices
