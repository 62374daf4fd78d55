"""The client subcommands of ``streamcodec``: send, receive, talk, loopback, devices, latency."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json

from streamcodec.cli import (
    DEFAULT_MODEL,
    EXIT_OK,
    MODEL_HELP,
    _add_model_option,
    _load_model,
    _positive_int,
    _require_file,
    add_rate_options,
    codebooks_of,
    command,
)

from .link import DEFAULT_SERVER


def _link_arguments(parser: argparse.ArgumentParser, room: bool = True) -> None:
    parser.add_argument("--server", default=DEFAULT_SERVER, help="server address (default: %(default)s)")
    if room:
        parser.add_argument("--room", default="main", help="room to join (default: %(default)s)")
    _add_model_option(parser, DEFAULT_MODEL, f"the codec: {MODEL_HELP} (default: %(default)s)")
    add_rate_options(parser)


def _send_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN_AUDIO", help="audio file to stream")
    _link_arguments(parser)
    parser.add_argument("--frames-per-packet", type=_positive_int, default=1, help="frames per code packet (default: 1)")
    parser.add_argument("--fast", action="store_true", help="send as fast as the room's receivers keep up, not in real time")


@command("send", "stream an audio file into a room", _send_arguments)
def send(args: argparse.Namespace) -> int:
    from .files import send_file

    _require_file(args.input, "input audio file")
    model = _load_model(args.model)
    report = asyncio.run(
        send_file(args.input, args.server, args.room, model, codebooks_of(model, args), args.frames_per_packet, args.fast)
    )
    if not args.quiet:
        print(f"sent {report.frames} frames in {report.packets} packets ({report.bytes_sent} bytes) in {report.seconds:.1f} s")
    return EXIT_OK


def _receive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", metavar="OUT.wav", help="WAV file to write (complete at every moment)")
    _link_arguments(parser)
    parser.add_argument("--idle-timeout", type=float, default=30.0, help="stop after this many seconds without codes")


@command("receive", "write the first stream heard in a room to a WAV file", _receive_arguments)
def receive(args: argparse.Namespace) -> int:
    from .files import receive_file

    model = _load_model(args.model)
    report = asyncio.run(receive_file(args.output, args.server, args.room, model, codebooks_of(model, args), args.idle_timeout))
    if not args.quiet:
        counts = report.counts
        print(
            f"wrote {report.frames_written} frames to {args.output} (ended by {report.ended_by}): "
            f"{counts.decoded} decoded, {counts.concealed} concealed, {report.missing_packets} packets missing"
        )
    return EXIT_OK


def _latency_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", default=None, help="a running server (default: start one on a free loopback port)")
    _add_model_option(parser, DEFAULT_MODEL, f"the codec: {MODEL_HELP} (default: %(default)s)")
    add_rate_options(parser)
    parser.add_argument("--streams", type=_positive_int, default=1, help="concurrent streams (default: 1)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio per stream (default: 10)")
    parser.add_argument("--frames-per-packet", type=_positive_int, default=1, help="frames per code packet (default: 1)")
    parser.add_argument("--codec", choices=("batched", "replicated"), default="batched",
                        help="one batched codec session per side, or one per stream (default: batched)")
    parser.add_argument("--json", metavar="OUT.json", help="write the report as JSON")
    parser.add_argument("--plot", metavar="OUT.png", help="write a plot of the latency distribution")


@command("latency", "measure end-to-end latency through a server over loopback", _latency_arguments)
def latency(args: argparse.Namespace) -> int:
    from .latency import LatencyConfig, format_table, plot, run_latency, write_json

    model = _load_model(args.model)  # fail here, not in a child, on a bad name or bandwidth
    config = LatencyConfig(
        model=args.model, streams=args.streams, seconds=args.seconds, codebooks=codebooks_of(model, args),
        frames_per_packet=args.frames_per_packet, codec=args.codec, server=args.server,
    )
    del model
    report = run_latency(config)
    print(format_table(report))
    if args.json:
        write_json(report, args.json)
    if args.plot:
        plot(report, args.plot)
    return EXIT_OK


def _device_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input-device", help="microphone: index or name ('streamcodec devices' lists them)")
    parser.add_argument("--output-device", help="speaker: index or name")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long (default: until Ctrl-C)")


def _device(value: str | None) -> int | str | None:
    return int(value) if value is not None and value.isdigit() else value


def _live_setup() -> None:
    """One torch thread and a frozen GC heap: a live loop must not wait for either."""
    import gc

    import torch

    torch.set_num_threads(1)
    gc.collect()
    gc.freeze()


def _talk_arguments(parser: argparse.ArgumentParser) -> None:
    _link_arguments(parser)
    _device_arguments(parser)


@command("talk", "full-duplex voice link: microphone into a room, the room's other peer on the speaker", _talk_arguments)
def talk(args: argparse.Namespace) -> int:
    from .live import talk as run_talk

    model = _load_model(args.model)
    _live_setup()
    report = asyncio.run(run_talk(
        args.server, args.room, model, codebooks_of(model, args), args.seconds,
        _device(args.input_device), _device(args.output_device), args.quiet,
    ))
    print(json.dumps(dataclasses.asdict(report)))  # the run's counters (-q silences only the live line)
    return EXIT_OK


def _loopback_arguments(parser: argparse.ArgumentParser) -> None:
    _add_model_option(parser, DEFAULT_MODEL, f"the codec: {MODEL_HELP} (default: %(default)s)")
    add_rate_options(parser)
    _device_arguments(parser)
    parser.add_argument("--cycle", type=float, metavar="SECONDS", help="step through every bandwidth, this long each")


@command("loopback", "microphone -> codec -> speaker in one process, to hear the codec", _loopback_arguments)
def loopback(args: argparse.Namespace) -> int:
    from .live import loopback as run_loopback

    model = _load_model(args.model)
    _live_setup()
    report = asyncio.run(run_loopback(
        model, codebooks_of(model, args), args.seconds, args.cycle,
        _device(args.input_device), _device(args.output_device), args.quiet,
    ))
    print(json.dumps(dataclasses.asdict(report)))  # the run's counters (-q silences only the live line)
    return EXIT_OK


@command("devices", "list the sound devices")
def devices(args: argparse.Namespace) -> int:
    from .devices import list_devices

    print(list_devices())
    return EXIT_OK

