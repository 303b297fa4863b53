"""The ``voicecx`` command (DESIGN §3.1).

Exit codes: 0 ok, 1 some inputs failed, 2 usage or bad input. Every failure the user can cause is
reported as one line on stderr, never a traceback (set VOICECX_DEBUG=1 to see one).
Heavy imports (numba, torch, faster-whisper) happen inside the sub-commands so ``--help`` is instant.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

EXIT_OK, EXIT_SOME_FAILED, EXIT_BAD_INPUT = 0, 1, 2

log = logging.getLogger("voicecx")


class UsageError(ValueError):
    """A bad flag combination or argument value (exit 2)."""


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean 'bad input', collected lazily so --help stays fast."""
    from voicecx.audio import AudioError

    errors: list[type[BaseException]] = [AudioError, UsageError, ValueError, FileNotFoundError]
    try:
        from voicecx.kernels import BackendUnavailable

        errors.append(BackendUnavailable)
    except ImportError:
        pass
    try:
        from voicecx.transcribe import ModelNotFound

        errors.append(ModelNotFound)
    except ImportError:
        pass
    return tuple(errors)


# ----------------------------------------------------------------------------- sub-commands

def cmd_pitch(args: argparse.Namespace) -> int:
    """F0 track per file as CSV ``time_s,f0_hz`` (frame k centred at k*hop; 0 = unvoiced)."""
    from voicecx import audio as audio_mod
    from voicecx.kernels import get_backend

    if not args.csv:
        raise UsageError("pitch: only CSV output exists; pass --csv")
    if len(args.files) > 1 and not args.out_dir:
        raise UsageError("pitch: several files need --out-dir DIR (one CSV per file)")
    if args.hop_ms <= 0 or args.fmin <= 0 or args.fmin >= args.fmax:
        raise UsageError("pitch: need --hop-ms > 0 and 0 < --fmin < --fmax")
    backend = get_backend(args.device)
    out_dir = Path(args.out_dir) if args.out_dir else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.files:
        try:
            call = audio_mod.load(name)
            x = call.leg(0)
            sr = call.sample_rate
            if args.fmax >= sr / 2:
                raise UsageError(f"{name}: --fmax {args.fmax:g} Hz must be below Nyquist ({sr / 2:g} Hz)")
            hop = max(1, int(round(args.hop_ms * sr / 1000.0)))
            f0, _ = backend.pitch_yin(x, sr, hop, args.fmin, args.fmax)
            text = _pitch_csv(f0, hop, sr)
        except _user_errors() as exc:
            if len(args.files) == 1:
                raise
            print(f"voicecx pitch: {exc}", file=sys.stderr)
            failed += 1
            continue
        if out_dir is None:
            sys.stdout.write(text)
        else:
            target = out_dir / f"{Path(name).stem}.csv"
            _atomic_write(target, text)
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _pitch_csv(f0, hop: int, sr: int) -> str:
    step = hop / sr
    decimals = 3 if abs(step * 1000 - round(step * 1000)) < 1e-9 else 6
    lines = ["time_s,f0_hz"]
    lines += [f"{k * step:.{decimals}f},{float(v):.2f}" for k, v in enumerate(f0)]
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def cmd_diarize(args: argparse.Namespace) -> int:
    from voicecx.diarize import cli_diarize

    return cli_diarize(args)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from voicecx.transcribe import cli_transcribe

    return cli_transcribe(args)


def cmd_score_text(args: argparse.Namespace) -> int:
    from voicecx.language import score_text_lines

    if args.jsonl == "-":
        score_text_lines(sys.stdin, sys.stdout, language=args.language)
    else:
        path = Path(args.jsonl)
        if not path.is_file():
            raise UsageError(f"score-text: {path}: no such file")
        with path.open(encoding="utf-8") as f:
            score_text_lines(f, sys.stdout, language=args.language)
    return EXIT_OK


def cmd_analyse(args: argparse.Namespace) -> int:
    from voicecx.pipeline import cli_analyse

    return cli_analyse(args)


def cmd_batch(args: argparse.Namespace) -> int:
    from voicecx.batch import cli_batch

    return cli_batch(args)


def cmd_stream(args: argparse.Namespace) -> int:
    from voicecx.stream import cli_stream

    return cli_stream(args)


def cmd_serve(args: argparse.Namespace) -> int:
    from voicecx.server import cli_serve

    return cli_serve(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from voicecx.bench import cli_bench

    return cli_bench(args)


def cmd_samples(args: argparse.Namespace) -> int:
    """List the bundled demo calls (they ship with the source tree, see samples/README.md)."""
    root = Path(__file__).resolve().parent.parent / "samples" / "calls"
    if not root.is_dir():
        raise UsageError("samples: the demo calls ship with the source checkout (samples/calls/), not found here")
    for wav in sorted(root.glob("*.wav")):
        print(wav)
    return EXIT_OK


# ----------------------------------------------------------------------------- parser

def _add_analyse_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--roles", default="auto", choices=["auto", "agent,customer", "customer,agent"],
                   help="which stereo channel is the agent (auto: decide from evidence)")
    p.add_argument("--mono", action="store_true", help="treat the recording as one mixed channel (neural diarisation)")
    p.add_argument("--language", default="auto", help="auto | en | zh | ko | da | ...")
    p.add_argument("--model", default="tiny.en", help="Whisper model: tiny.en | base | PATH to a CTranslate2 model")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"], help="kernel backend")
    p.add_argument("--no-asr", action="store_true", help="audio-only analysis: no transcript, text behaviours null")
    p.add_argument("--rttm", help="use this diarisation (RTTM) instead of computing one")
    p.add_argument("--config", help="TOML file overriding Config defaults")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voicecx", description="How empathic did the agent sound? Call analysis with evidence.")
    parser.add_argument("--version", action="version", version=f"voicecx {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands: dict[str, Callable[[argparse.Namespace], int]] = {}

    def add(name: str, func: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        commands[name] = func
        return sub.add_parser(name, help=help_text, description=help_text)

    p = add("analyse", cmd_analyse, "analyse one call: JSON + HTML empathy report")
    p.add_argument("call", help="audio file (wav/flac/mp3/ogg, μ-law/A-law WAV; mono or stereo)")
    p.add_argument("--out", default="reports", help="output folder (default: reports)")
    p.add_argument("--json", dest="json_out", metavar="-", help="'-' prints the report JSON to stdout")
    _add_analyse_options(p)

    p = add("batch", cmd_batch, "analyse many calls (local process pool or Ray): reports, summary.csv, manifest.jsonl")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="audio files, folders (recursive), globs, or .txt/.csv lists of paths")
    p.add_argument("--out", required=True, help="output folder for reports, summary.csv, summary.html, manifest.jsonl")
    p.add_argument("--workers", type=int, help="parallel workers (default: half the CPUs, at least 1)")
    p.add_argument("--engine", default="local", choices=["local", "ray"], help="local process pool or a Ray cluster")
    p.add_argument("--ray-address", help="join this Ray cluster ('auto' or HOST:PORT); default: start a local one")
    p.add_argument("--resume", action="store_true", help="skip inputs that already have a valid report for this config")
    p.add_argument("--timeout", type=float, help="seconds per file before its worker is killed and the file recorded as failed")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    _add_analyse_options(p)

    p = add("pitch", cmd_pitch, "F0 track as CSV (time_s,f0_hz)")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--hop-ms", type=float, default=10.0)
    p.add_argument("--fmin", type=float, default=50.0)
    p.add_argument("--fmax", type=float, default=500.0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--csv", action="store_true", help="CSV output (required)")
    p.add_argument("--out-dir", help="write DIR/<file stem>.csv per input (needed for several files)")

    p = add("diarize", cmd_diarize, "who spoke when, as RTTM")
    p.add_argument("file")
    p.add_argument("--mono", action="store_true")
    p.add_argument("--num-speakers", type=int)
    p.add_argument("--min-speakers", type=int)
    p.add_argument("--max-speakers", type=int)
    p.add_argument("--roles", default="auto", choices=["auto", "agent,customer", "customer,agent"])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--rttm", default="-", help="'-' for stdout (default) or a file path")

    p = add("transcribe", cmd_transcribe, "transcript with speakers and word timestamps, as JSON")
    p.add_argument("file")
    p.add_argument("--model", default="tiny.en")
    p.add_argument("--language", default="auto")
    p.add_argument("--mono", action="store_true")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--json", default="-", help="'-' for stdout (default) or a file path")

    p = add("score-text", cmd_score_text, "empathy of text responses (JSON lines in, JSON lines out)")
    p.add_argument("--language", default="auto")
    p.add_argument("--jsonl", required=True, help="input JSON lines file, or '-' for stdin")

    p = add("bench", cmd_bench, "kernel and pipeline throughput, CPU vs CUDA")
    p.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    p.add_argument("--seconds", type=float, default=600.0, help="seconds of audio per call (default 600)")
    p.add_argument("--calls", type=int, default=100, help="calls in the batch run (default 100)")
    p.add_argument("--json", dest="json_out", help="also write the results as JSON to this file")

    p = add("stream", cmd_stream, "replay a recording as a live call; alerts as JSON lines")
    p.add_argument("call", help="audio file (mono or stereo; stereo: agent left, customer right by default)")
    p.add_argument("--realtime", action="store_true", help="pace the audio at real time")
    p.add_argument("--speed", type=float, help="pace the audio at X times real time (implies --realtime)")
    p.add_argument("--roles", default="agent,customer", choices=["agent,customer", "customer,agent"])
    p.add_argument("--asr", action="store_true", help="live ASR (tiny.en) for angry_words_no_empathy and no_greeting")
    p.add_argument("--states", action="store_true", help="also print the periodic state messages")
    p.add_argument("--config", help="TOML file overriding Config defaults ([live] section)")

    p = add("serve", cmd_serve, "live-desk server: WebSocket audio in, alerts out, dashboard at /")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--token-file", help="file holding the access token (else env VOICECX_TOKEN)")
    p.add_argument("--insecure-dev", action="store_true", help="run without a token (local development only)")
    p.add_argument("--asr", action="store_true", help="live ASR (tiny.en) for the text alerts")
    p.add_argument("--config", help="TOML file overriding Config defaults ([live] section)")

    add("samples", cmd_samples, "list the bundled demo calls")
    parser.set_defaults(_commands=commands)
    return parser


def _version() -> str:
    from voicecx import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="voicecx: %(message)s", stream=sys.stderr)
    if not args.command:
        parser.print_help()
        return EXIT_BAD_INPUT
    func = args._commands[args.command]
    try:
        return func(args)
    except KeyboardInterrupt:
        print("voicecx: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the CLI's job is to turn every failure into one line
        if os.environ.get("VOICECX_DEBUG"):
            raise
        if isinstance(exc, _user_errors()):
            print(f"voicecx {args.command}: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"voicecx {args.command}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              "(set VOICECX_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_SOME_FAILED


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
