"""Seeded random sentences for the speech synthesizers: English, simple native words, numbers."""

from __future__ import annotations

import numpy as np


_SUBJECTS = ("the old man", "my sister", "a small dog", "the teacher", "our neighbour", "the pilot",
             "a tired student", "the baker", "her brother", "the children", "nobody", "the doctor")  # fmt: skip
_VERBS = ("found", "painted", "carried", "remembered", "opened", "sold", "watched", "cleaned", "built",
          "forgot", "described", "borrowed")  # fmt: skip
_OBJECTS = ("a red bicycle", "the kitchen window", "three green apples", "an old letter", "the wooden boat",
            "a heavy box", "the garden gate", "seven blue cups", "the morning paper", "a broken clock",
            "the silver key", "a warm blanket")  # fmt: skip
_PLACES = ("near the river", "in the station", "after lunch", "before the storm", "on Sunday morning",
           "at the market", "under the bridge", "in the quiet library", "behind the school",
           "late last night", "in the summer", "at the end of the street")  # fmt: skip
_ENGLISH_TEMPLATES = (
    "{S} {V} {O} {P}.",
    "{P}, {S} {V} {O}.",
    "Did you know that {S} {V} {O}?",
    "Where is {O} that {S} {V}?",
    "I think {S} {V} {O} {P}, but I am not sure.",
    "The train leaves at {H} {M}, so please be on time.",
    "Call me back on {N}.",
    "It costs {H} dollars and {M} cents.",
)
NATIVE_WORDS = {
    "de": "Haus Wasser Sonne Garten heute morgen schnell langsam Brot Hund Katze Stadt Schule gut "
          "nicht gross klein Freund Abend Fenster".split(),
    "fr": "maison eau soleil jardin aujourd'hui demain vite lentement pain chien chat ville école bon "
          "petit grand ami soir fenêtre rouge".split(),
    "es": "casa agua sol jardin hoy mañana rapido despacio pan perro gato ciudad escuela bueno "
          "pequeño grande amigo noche ventana rojo".split(),
    "it": "casa acqua sole giardino oggi domani veloce piano pane cane gatto città scuola buono "
          "piccolo grande amico sera finestra rosso".split(),
    "nl": "huis water zon tuin vandaag morgen snel langzaam brood hond kat stad school goed klein "
          "groot vriend avond raam rood".split(),
    "pt": "casa água sol jardim hoje amanhã rápido devagar pão cão gato cidade escola bom pequeno "
          "grande amigo noite janela vermelho".split(),
}  # fmt: skip


def english_sentence(rng: np.random.Generator) -> str:
    """A random English sentence from simple templates."""
    template = str(rng.choice(_ENGLISH_TEMPLATES))
    return template.format(
        S=rng.choice(_SUBJECTS), V=rng.choice(_VERBS), O=rng.choice(_OBJECTS), P=rng.choice(_PLACES),
        H=int(rng.integers(1, 13)), M=int(rng.integers(10, 60)),
        N=" ".join(str(d) for d in rng.integers(0, 10, size=7)),
    ).capitalize()  # fmt: skip


def native_sentence(rng: np.random.Generator, language: str) -> str:
    """Simple words of ``language`` (a key of NATIVE_WORDS) and a number, as a sentence."""
    words = list(rng.choice(NATIVE_WORDS[language], size=int(rng.integers(3, 7))))
    words.insert(int(rng.integers(0, len(words) + 1)), str(int(rng.integers(1, 100))))
    return " ".join(words).capitalize() + "."


def number_sentence(rng: np.random.Generator) -> str:
    """Numbers, read by a voice in its own language."""
    return ", ".join(str(int(n)) for n in rng.integers(0, 1000, size=int(rng.integers(3, 7)))) + "."


def sentence(rng: np.random.Generator, text: str) -> str:
    """A sentence for a voice reading ``text`` ("english", a NATIVE_WORDS language, or "numbers")."""
    if text == "english":
        return english_sentence(rng)
    return native_sentence(rng, text) if text in NATIVE_WORDS else number_sentence(rng)
