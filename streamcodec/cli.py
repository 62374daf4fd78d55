"""The ``streamcodec`` command line: ``streamcodec COMMAND ...`` (also ``python -m streamcodec``).

Each subcommand is one function taking the parsed arguments and returning an exit code, declared
with :func:`command`, which also names a function adding the subcommand's arguments::

    def _hello_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("name")

    @command("hello", "greet someone", _hello_arguments)
    def hello(args: argparse.Namespace) -> int:
        print(f"hello {args.name}")
        return 0

User errors (a missing or unreadable file, an impossible bandwidth, an unknown model, and any
``ValueError``/``OSError`` from the library) print ``streamcodec: error: <message>`` to stderr and
give exit code 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PROG = "streamcodec"
EXIT_OK = 0
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
DEFAULT_MODEL = "default"
DEFAULT_BANDWIDTH_KBPS = 6.0
CHUNK_SECONDS = 1.0  # audio per streaming-encoder push / codes per streaming-decoder push


class CLIError(Exception):
    """A user error found by the command line itself; printed without a traceback."""


# Subcommand registry.


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None


COMMANDS: dict[str, Command] = {}


def command(
    name: str,
    help: str,
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None,
    description: str | None = None,
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Register the decorated function as subcommand ``name``; subcommands list in definition order."""

    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        if name in COMMANDS:
            raise RuntimeError(f"subcommand {name!r} is defined twice")
        COMMANDS[name] = Command(name, help, add_arguments, run, description or run.__doc__)
        return run

    return register


def _add_common_options(parser: argparse.ArgumentParser, suppress_defaults: bool) -> None:
    """Options accepted both before and after the subcommand name.

    On subparsers their defaults are suppressed, so that a value given before the subcommand
    is not overwritten by the subparser's default.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress_defaults else value

    parser.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        default=default(None),
        help="number of CPU threads torch may use (default: torch's choice)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default(False), help="no progress bars or summaries"
    )


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Real-time streaming neural audio codec (causal EnCodec).",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    _add_common_options(parser, suppress_defaults=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        sub = subparsers.add_parser(cmd.name, help=cmd.help, description=cmd.description or cmd.help)
        cmd.add_arguments(sub)
        _add_common_options(sub, suppress_defaults=True)
        sub.set_defaults(run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors (argparse already printed them)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USER_ERROR
    try:
        if args.threads is not None:
            import torch

            torch.set_num_threads(args.threads)
        return args.run(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _user_errors() as error:
        print(f"{PROG}: error: {_message(error)}", file=sys.stderr)
        return EXIT_USER_ERROR


def _user_errors() -> tuple[type[BaseException], ...]:
    import soundfile

    # ValueError covers the library's CheckpointFormatError; OSError covers FileNotFoundError,
    # ConnectionError and PermissionError.
    return (CLIError, ValueError, OSError, soundfile.SoundFileError)


def _message(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        return f"{error.filename}: {error.strerror}"  # e.g. "out/x.sc: Permission denied"
    return str(error) or type(error).__name__


# Shared helpers.


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_model_option(parser: argparse.ArgumentParser, default: str | None, help: str) -> None:
    parser.add_argument("-m", "--model", metavar="NAME_OR_PATH", default=default, help=help)


MODEL_HELP = (
    "'default' (the bundled model), a Hugging Face Hub id such as facebook/encodec_24khz, "
    "a model directory or an original-format checkpoint file"
)


def _load_model(name_or_path: str) -> Any:
    from .pretrained import load_model

    return load_model(name_or_path)


def _model_reference(name_or_path: str) -> str:
    """What to write into a codes file so that ``load_model`` finds the model again.

    Local paths are made absolute (so decoding works from any directory); names are kept.
    """
    if name_or_path != DEFAULT_MODEL and Path(name_or_path).expanduser().exists():
        return str(Path(name_or_path).expanduser().resolve())
    return name_or_path


def _progress(total: int, description: str, unit: str, quiet: bool) -> Any:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=description,
        unit=unit,
        leave=False,
        dynamic_ncols=True,
        disable=quiet or not sys.stderr.isatty(),
    )


def _require_file(path: str, what: str) -> Path:
    file = Path(path)
    if not file.exists():
        raise CLIError(f"{what} not found: {file}")
    if not file.is_file():
        raise CLIError(f"{what} is not a file: {file}")
    return file


def _check_audio_extension(path: str) -> None:
    """Fail before the work if ``write_audio`` could not write ``path``'s format."""
    import soundfile

    if Path(path).suffix.lstrip(".").upper() not in soundfile.available_formats():
        raise CLIError(
            f"cannot tell the audio format of {path} from its extension; use e.g. .wav or .flac"
        )


def _chunks(length: int, size: int) -> Iterator[slice]:
    for start in range(0, length, size):
        yield slice(start, min(start + size, length))


def _format_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024**2:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1024**2:.1f} MiB"


def _kbps(num_bytes: int, seconds: float) -> float | None:
    return num_bytes * 8 / seconds / 1000 if seconds > 0 else None


def _format_kbps(kbps: float | None) -> str:
    return "n/a" if kbps is None else f"{kbps:.2f} kbps"


# encode


def _encode_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN_AUDIO", help="audio file (WAV, FLAC, OGG, ... anything libsndfile reads)")
    parser.add_argument("output", metavar="OUT.sc", help="codes file to write")
    _add_model_option(parser, DEFAULT_MODEL, f"model to encode with: {MODEL_HELP} (default: %(default)s)")
    add_rate_options(parser)


def add_rate_options(parser: argparse.ArgumentParser) -> None:
    """``--bandwidth KBPS`` or ``--codebooks K``; :func:`codebooks_of` reads them."""
    rate = parser.add_mutually_exclusive_group()
    rate.add_argument(
        "-b",
        "--bandwidth",
        type=float,
        metavar="KBPS",
        help=f"target bitrate in kbit/s; uses the most codebooks that fit (default: {DEFAULT_BANDWIDTH_KBPS:g})",
    )
    rate.add_argument("-k", "--codebooks", type=int, metavar="K", help="number of codebooks to use")


def codebooks_of(model: Any, args: argparse.Namespace) -> int:
    """The codebook count ``--codebooks`` or ``--bandwidth`` asks of ``model`` (checked)."""
    if args.codebooks is not None:
        return model.check_num_codebooks(args.codebooks)
    return model.codebooks_for_bandwidth(DEFAULT_BANDWIDTH_KBPS if args.bandwidth is None else args.bandwidth)


@command("encode", "compress an audio file into a .sc codes file", _encode_arguments)
def encode(args: argparse.Namespace) -> int:
    """Compress an audio file into a .sc codes file with the streaming encoder.

    The audio is resampled to the model's rate and converted to its channel count.
    """
    import torch

    from .audio import read_audio
    from .container import CodesFile, save_codes

    _require_file(args.input, "input audio file")
    model = _load_model(args.model)
    model.set_num_codebooks(codebooks_of(model, args))
    encoder = model.streaming_encoder()  # before reading: fails early for models that cannot stream

    wav, _ = read_audio(args.input, sample_rate=model.sample_rate, channels=model.channels)
    num_samples = wav.shape[-1]
    chunk = max(1, round(CHUNK_SECONDS * model.sample_rate))
    pieces: list[torch.Tensor] = []
    with _progress(math.ceil(num_samples / model.hop_length), "encoding", "frame", args.quiet) as bar:
        for part in _chunks(num_samples, chunk):
            pieces.append(encoder.push(wav[None, :, part])[0])
            bar.update(pieces[-1].shape[-1])
        pieces.append(encoder.flush()[0])
        bar.update(pieces[-1].shape[-1])
    codes = torch.cat(pieces, dim=-1).cpu().numpy().astype(np.int64)

    codes_file = CodesFile(
        model=_model_reference(args.model),
        sample_rate=model.sample_rate,
        channels=model.channels,
        hop_length=model.hop_length,
        cardinality=model.cardinality,
        num_samples=num_samples,
        codes=codes,
        scale=None,
    )
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    save_codes(output, codes_file)
    if not args.quiet:
        size = output.stat().st_size
        print(
            f"{args.input} -> {output}: {codes_file.duration:.2f} s, {codes_file.num_frames} frames x "
            f"{codes_file.num_codebooks} codebooks ({codes_file.bandwidth_kbps:g} kbps), "
            f"{_format_bytes(size)} ({_format_kbps(_kbps(size, codes_file.duration))} incl. header)"
        )
    return EXIT_OK


# decode


def _decode_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN.sc", help="codes file written by 'streamcodec encode'")
    parser.add_argument("output", metavar="OUT_AUDIO", help="audio file to write; the format follows the extension")
    _add_model_option(parser, None, f"model to decode with (default: the one named in the file): {MODEL_HELP}")


@command("decode", "decompress a .sc codes file into an audio file", _decode_arguments)
def decode(args: argparse.Namespace) -> int:
    """Decompress a .sc codes file into an audio file with the streaming decoder.

    The audio is written at the model's sample rate, trimmed to the original length.
    """
    import torch

    from .audio import write_audio
    from .container import load_codes

    _require_file(args.input, "codes file")
    _check_audio_extension(args.output)
    codes_file = load_codes(args.input)
    if args.model is not None:
        model = _load_model(args.model)
    else:
        try:
            model = _load_model(codes_file.model)
        except (OSError, ValueError) as error:
            raise CLIError(
                f"cannot load the model {codes_file.model!r} named in {args.input} ({error}); "
                "pass the model it was encoded with as --model"
            ) from error
    _check_model_fits(model, codes_file, args.input)
    decoder = model.streaming_decoder()

    codes = torch.from_numpy(np.array(codes_file.codes))[None]  # [1, K, F], writable copy
    chunk = max(1, round(CHUNK_SECONDS * model.frame_rate))
    pieces: list[torch.Tensor] = []
    with _progress(codes_file.num_frames, "decoding", "frame", args.quiet) as bar:
        for part in _chunks(codes_file.num_frames, chunk):
            pieces.append(decoder.push(codes[..., part])[0])
            bar.update(part.stop - part.start)
    if pieces:
        wav = torch.cat(pieces, dim=-1)
    else:
        wav = torch.zeros(model.channels, 0)
    wav = wav[..., : codes_file.num_samples].cpu()
    if codes_file.scale is not None:
        wav = wav * codes_file.scale
    write_audio(args.output, wav, model.sample_rate)
    if not args.quiet:
        print(
            f"{args.input} -> {args.output}: {codes_file.duration:.2f} s at {model.sample_rate} Hz, "
            f"{model.channels} channel{'s' if model.channels != 1 else ''}, "
            f"{codes_file.num_codebooks} codebooks ({codes_file.bandwidth_kbps:g} kbps)"
        )
    return EXIT_OK


def _check_model_fits(model: Any, codes_file: Any, path: str) -> None:
    """Raise ``CLIError`` naming every property of the file the model does not share."""
    wanted = {
        "sample rate": (codes_file.sample_rate, model.sample_rate),
        "channels": (codes_file.channels, model.channels),
        "hop length": (codes_file.hop_length, model.hop_length),
        "codebook size": (codes_file.cardinality, model.cardinality),
    }
    differences = [f"{what} {file} vs {mine}" for what, (file, mine) in wanted.items() if file != mine]
    if codes_file.num_codebooks > model.total_codebooks:
        differences.append(f"codebooks {codes_file.num_codebooks} vs at most {model.total_codebooks}")
    if differences:
        raise CLIError(
            f"{path} was not encoded with model {model.name!r} (file vs model: {', '.join(differences)}); "
            f"it names {codes_file.model!r}: pass the model it was encoded with as --model"
        )


# info


def _info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN.sc", help="codes file")
    parser.add_argument("--json", action="store_true", help="print the information as a JSON object")


def codes_file_info(path: str | Path) -> dict[str, Any]:
    """The metadata of the codes file at ``path``, with derived sizes and rates."""
    from .container import load_codes
    from .quantization.bitpacking import bits_per_code, packed_size

    codes_file = load_codes(path)
    bits = bits_per_code(codes_file.cardinality)
    file_bytes = Path(path).stat().st_size
    payload_bytes = packed_size(codes_file.num_codebooks * codes_file.num_frames, bits)
    return {
        "file": str(path),
        "model": codes_file.model,
        "sample_rate": codes_file.sample_rate,
        "channels": codes_file.channels,
        "hop_length": codes_file.hop_length,
        "frame_rate": codes_file.frame_rate,
        "num_codebooks": codes_file.num_codebooks,
        "cardinality": codes_file.cardinality,
        "bits": bits,
        "num_frames": codes_file.num_frames,
        "num_samples": codes_file.num_samples,
        "duration": codes_file.duration,
        "bandwidth_kbps": codes_file.bandwidth_kbps,
        "scale": codes_file.scale,
        "file_bytes": file_bytes,
        "header_bytes": file_bytes - payload_bytes,
        "payload_bytes": payload_bytes,
        "bitrate_kbps": _kbps(file_bytes, codes_file.duration),
    }


@command("info", "show the metadata of a .sc codes file", _info_arguments)
def info(args: argparse.Namespace) -> int:
    """Show the metadata of a .sc codes file: model, rates, codebooks, length and bitrate."""
    _require_file(args.input, "codes file")
    meta = codes_file_info(args.input)
    if args.json:
        print(json.dumps(meta, indent=2))
        return EXIT_OK
    channels = f"{meta['channels']} channel{'s' if meta['channels'] != 1 else ''}"
    scale = "none" if meta["scale"] is None else f"{meta['scale']:g}"
    rows = [
        ("file", f"{meta['file']}"),
        ("model", meta["model"]),
        ("sample rate", f"{meta['sample_rate']} Hz, {channels}"),
        ("hop length", f"{meta['hop_length']} samples ({meta['frame_rate']:g} frames/s)"),
        ("codebooks", f"{meta['num_codebooks']} x {meta['cardinality']} entries ({meta['bits']} bits per code)"),
        ("frames", f"{meta['num_frames']}"),
        ("duration", f"{meta['duration']:.3f} s ({meta['num_samples']} samples)"),
        ("bandwidth", f"{meta['bandwidth_kbps']:g} kbps (codes)"),
        ("scale", scale),
        (
            "file size",
            f"{meta['file_bytes']} bytes ({meta['header_bytes']} header + {meta['payload_bytes']} payload)",
        ),
        ("bitrate", f"{_format_kbps(meta['bitrate_kbps'])} (whole file incl. header)"),
    ]
    width = max(len(label) for label, _ in rows) + 1
    for label, value in rows:
        print(f"{label + ':':<{width}} {value}")
    return EXIT_OK



def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks a free one (default: 8765)")
    _add_model_option(parser, DEFAULT_MODEL, f"the codec whose codes the server relays: {MODEL_HELP}")
    parser.add_argument("--max-peers", type=_positive_int, default=256, help="sessions the server holds at once")
    parser.add_argument("--max-room-peers", type=_positive_int, default=32, help="sessions one room holds at once")


@command("serve", "run the websocket server (/link/ROOM relay, /codec, /health, /metrics)", _serve_arguments)
def serve(args: argparse.Namespace) -> int:
    import asyncio
    import logging

    from server.app import LinkServer, link_format_of, start_server

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    import gc

    model = _load_model(args.model)
    link = LinkServer(link_format_of(model), args.max_peers, args.max_room_peers, model=model)
    # The model's objects are long-lived: keep them out of the collector, whose full passes over
    # them would otherwise stall every session for tens of milliseconds.
    gc.collect()
    gc.freeze()

    async def run() -> None:
        server = await start_server(link, args.host, args.port)
        host, port = server.sockets[0].getsockname()[:2]
        print(f"streamcodec server on ws://{host}:{port} (model {link.format.model}; /link/ROOM, /codec, /health, /metrics)", flush=True)
        await server.serve_forever()

    asyncio.run(run())
    return EXIT_OK


from clients import commands as _client_commands  # noqa: E402,F401  (registers send, receive, talk, ...)

if __name__ == "__main__":
    sys.exit(main())
