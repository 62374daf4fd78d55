"""The ``.sc`` container: a stream of residual-VQ codes plus what is needed to decode it.

Byte layout (all integers little-endian), with nothing after the payload:

- offset 0, 4 bytes: magic ``b"SCDC"``.
- offset 4, 1 byte: format version, unsigned (currently ``1``).
- offset 5, 4 bytes: ``N``, the length in bytes of the JSON header, unsigned.
- offset 9, ``N`` bytes: the JSON header, UTF-8, a single object (see below).
- offset ``9 + N``, ``ceil(K * F * bits / 8)`` bytes: the bit-packed codes (see below).

The JSON header object has these members (unknown members are ignored on load):

- ``model`` (string): name of the model that produced the codes.
- ``sample_rate`` (int): model sample rate in Hz.
- ``channels`` (int): number of audio channels the model codes.
- ``hop_length`` (int): audio samples per code frame.
- ``cardinality`` (int): codebook size; every code lies in ``[0, cardinality)``.
- ``num_samples`` (int): length of the original signal at ``sample_rate``; decoding trims the
  ``F * hop_length`` decoded samples to it, so ``(F - 1) * hop_length < num_samples <=
  F * hop_length`` (and ``num_samples == 0`` when ``F == 0``).
- ``scale`` (number or null): per-stream normalisation scale, if the model uses one.
- ``num_codebooks`` (int): ``K``, at least 1.
- ``num_frames`` (int): ``F``.
- ``bits`` (int): bits per code, ``ceil(log2(cardinality))``.

The payload holds the ``K * F`` codes frame-major (frame 0's ``K`` codes from the first codebook
to the last, then frame 1's, ...), each in exactly ``bits`` bits, packed by
:func:`streamcodec.quantization.bitpacking.pack_codes`: code ``i`` of that sequence occupies stream
bits ``i * bits`` to ``i * bits + bits - 1``, least significant bit first, where stream bit ``n``
is bit ``n % 8`` (from the least significant) of payload byte ``n // 8``. The last byte is
zero-padded.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from streamcodec.quantization.bitpacking import bits_per_code, pack_codes, packed_size, unpack_codes

MAGIC = b"SCDC"
FORMAT_VERSION = 1
_PREAMBLE = struct.Struct("<4sBI")  # magic, version, JSON header length

_INT_FIELDS = ("sample_rate", "channels", "hop_length", "cardinality", "num_samples")


@dataclass(frozen=True, eq=False)
class CodesFile:
    """RVQ codes of one audio stream with the metadata needed to decode them.

    ``codes`` is int64 ``[K, F]`` (K codebooks, F frames); it is stored as a read-only copy.
    Two instances are equal when all metadata and all codes are equal.
    """

    model: str
    sample_rate: int
    channels: int
    hop_length: int
    cardinality: int
    num_samples: int
    codes: np.ndarray
    scale: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(f"model must be a non-empty string, got {self.model!r}")
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        for name in ("sample_rate", "channels", "hop_length"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.cardinality < 2:
            raise ValueError(f"cardinality must be at least 2, got {self.cardinality}")
        if self.scale is not None:
            is_number = isinstance(self.scale, (int, float, np.floating))
            if isinstance(self.scale, bool) or not is_number:
                raise ValueError(f"scale must be a number or None, got {self.scale!r}")
            if not math.isfinite(self.scale):
                raise ValueError(f"scale must be finite, got {self.scale}")
            object.__setattr__(self, "scale", float(self.scale))

        codes = np.asarray(self.codes)
        if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
            raise ValueError(
                f"codes must be a 2-D integer array [K, F], got shape {codes.shape} "
                f"and dtype {codes.dtype}"
            )
        if codes.shape[0] < 1:
            raise ValueError("codes must have at least one codebook (K >= 1)")
        if codes.size and (codes.min() < 0 or codes.max() >= self.cardinality):
            raise ValueError(
                f"codes must lie in [0, {self.cardinality}), "
                f"got values in [{codes.min()}, {codes.max()}]"
            )
        codes = codes.astype(np.int64, copy=True)
        codes.setflags(write=False)
        object.__setattr__(self, "codes", codes)

        frames = codes.shape[1]
        if frames == 0 and self.num_samples != 0:
            raise ValueError(
                f"num_samples must be 0 when there are no frames, got {self.num_samples}"
            )
        low, high = (frames - 1) * self.hop_length + 1, frames * self.hop_length
        if frames > 0 and not low <= self.num_samples <= high:
            raise ValueError(
                f"num_samples must be in [{low}, {high}] for {frames} frames of "
                f"{self.hop_length} samples, got {self.num_samples}"
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CodesFile):
            return NotImplemented
        return self._metadata() == other._metadata() and np.array_equal(self.codes, other.codes)

    @property
    def num_codebooks(self) -> int:
        """``K``, the number of codebooks."""
        return int(self.codes.shape[0])

    @property
    def num_frames(self) -> int:
        """``F``, the number of code frames."""
        return int(self.codes.shape[1])

    @property
    def frame_rate(self) -> float:
        """Code frames per second."""
        return self.sample_rate / self.hop_length

    @property
    def bandwidth_kbps(self) -> float:
        """Bitrate of the packed codes in kbit/s."""
        return self.num_codebooks * bits_per_code(self.cardinality) * self.frame_rate / 1000

    @property
    def duration(self) -> float:
        """Length of the original signal in seconds."""
        return self.num_samples / self.sample_rate

    def _metadata(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "hop_length": self.hop_length,
            "cardinality": self.cardinality,
            "num_samples": self.num_samples,
            "scale": self.scale,
        }


def save_codes(file: str | os.PathLike[str] | BinaryIO, codes_file: CodesFile) -> None:
    """Write ``codes_file`` to a path or a binary file object in the ``.sc`` layout."""
    bits = bits_per_code(codes_file.cardinality)
    header = {
        **codes_file._metadata(),
        "num_codebooks": codes_file.num_codebooks,
        "num_frames": codes_file.num_frames,
        "bits": bits,
    }
    header_bytes = json.dumps(header, ensure_ascii=False).encode("utf-8")
    payload = pack_codes(codes_file.codes.T, bits)  # [F, K] in C order: frame-major
    data = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(header_bytes)) + header_bytes + payload
    if isinstance(file, (str, os.PathLike)):
        Path(file).write_bytes(data)
    else:
        file.write(data)


def load_codes(file: str | os.PathLike[str] | BinaryIO) -> CodesFile:
    """Read a ``.sc`` file from a path or a binary file object.

    Raises ``ValueError`` naming the problem if the data is not a valid version-1 codes file.
    """
    if isinstance(file, (str, os.PathLike)):
        data, name = Path(file).read_bytes(), str(file)
    else:
        data, name = file.read(), getattr(file, "name", "<stream>")

    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise ValueError(f"{name}: not a streamcodec codes file (missing {MAGIC!r} magic)")
    if len(data) < _PREAMBLE.size:
        raise ValueError(
            f"{name}: truncated file: the preamble needs {_PREAMBLE.size} bytes, got {len(data)}"
        )
    _, version, header_len = _PREAMBLE.unpack_from(data)
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{name}: unsupported codes file version {version}; this reader supports version "
            f"{FORMAT_VERSION}, upgrade streamcodec to read it"
        )
    header_end = _PREAMBLE.size + header_len
    if len(data) < header_end:
        raise ValueError(
            f"{name}: truncated header: expected {header_len} bytes, "
            f"got {len(data) - _PREAMBLE.size}"
        )
    header = _parse_header(data[_PREAMBLE.size : header_end], name)

    count = header["num_codebooks"] * header["num_frames"]
    expected = packed_size(count, header["bits"])
    payload = data[header_end:]
    if len(payload) < expected:
        raise ValueError(
            f"{name}: truncated codes payload: expected {expected} bytes, got {len(payload)}"
        )
    if len(payload) > expected:
        raise ValueError(
            f"{name}: {len(payload) - expected} bytes of trailing garbage after the "
            f"{expected}-byte codes payload"
        )
    flat = unpack_codes(payload, header["bits"], count)
    codes = flat.reshape(header["num_frames"], header["num_codebooks"]).T
    try:
        return CodesFile(
            model=header["model"],
            sample_rate=header["sample_rate"],
            channels=header["channels"],
            hop_length=header["hop_length"],
            cardinality=header["cardinality"],
            num_samples=header["num_samples"],
            codes=codes,
            scale=header["scale"],
        )
    except ValueError as e:
        raise ValueError(f"{name}: invalid codes file: {e}") from e


def _parse_header(raw: bytes, name: str) -> dict[str, Any]:
    """Decode and type-check the JSON header; checks ``bits`` against ``cardinality``."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{name}: malformed JSON header: {e}") from e
    if not isinstance(header, dict):
        raise ValueError(
            f"{name}: malformed JSON header: expected an object, got {type(header).__name__}"
        )
    required = ("model", "scale", *_INT_FIELDS, "num_codebooks", "num_frames", "bits")
    missing = [key for key in required if key not in header]
    if missing:
        raise ValueError(f"{name}: JSON header is missing fields: {', '.join(missing)}")
    for key in (*_INT_FIELDS, "num_codebooks", "num_frames", "bits"):
        value = header[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(
                f"{name}: header field {key!r} must be a non-negative integer, got {value!r}"
            )
    if header["cardinality"] < 2:
        raise ValueError(
            f"{name}: header field 'cardinality' must be at least 2, got {header['cardinality']}"
        )
    if header["bits"] != bits_per_code(header["cardinality"]):
        raise ValueError(
            f"{name}: header field 'bits' is {header['bits']} but cardinality "
            f"{header['cardinality']} needs {bits_per_code(header['cardinality'])}"
        )
    return header
