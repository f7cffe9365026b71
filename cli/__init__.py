"""The ``heygem`` command line, above everything else: ``heygem_core`` (lipsync, sync, gc), the
Prefect flows (run, batch, server: ``cli.prefect_commands``), the runs they keep (runs:
``cli.runs_command``, no Prefect) and the web app (ui). Errors a user
can fix print one line and exit with one of ``cli.codes``; heygem_core knows nothing of it."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import sys
from pathlib import Path

from heygem_core.config import Settings, variable
from heygem_core.errors import HeygemError, InputError, ProcessingError, os_reason

from .codes import EXIT_FAILURE, EXIT_FLAGGED, EXIT_INPUT, EXIT_OK  # noqa: F401 - EXIT_* are the API
from . import runs_command as runs_cli
from . import store_command as store_cli

PREFECT_COMMANDS = ("run", "batch", "flow", "server", "ui")


def _setting_flag(p: argparse.ArgumentParser, flag: str, name: str, what: str, **kwargs) -> None:
    """A flag that sets setting ``name``: its choices, default and variable from the setting's
    own metadata (heygem_core/config.py), so help and settings cannot disagree."""
    from heygem_core.config import allowed_text, setting_field, shown_default
    from heygem_core.plugins import REGISTRIES

    f = setting_field(name)
    if "choices" in f.metadata:
        kwargs["choices"] = f.metadata["choices"]
    elif name in {r.kind for r in REGISTRIES}:  # names plug-ins: say which there are
        what = f"{what}: {allowed_text(f).replace('`', '')}"
    p.add_argument(flag, help=f"{what} (default {shown_default(f)}; env {variable(name)})", **kwargs)


def _add_common(p: argparse.ArgumentParser) -> None:
    _setting_flag(p, "--engine", "engine", "lip-sync engine")
    _setting_flag(p, "--tracker", "tracker", "face tracker")
    _setting_flag(p, "--cache-dir", "cache_dir", "where face tracks and mouth libraries are cached", type=Path)
    p.add_argument("-v", "--verbose", action="store_true", help="log what happens")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heygem", description="Re-voice recorded video: only mouth and chin follow the new audio."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ls = sub.add_parser(
        "lipsync",
        help="re-voice one video with a new audio track",
        description="Replace the mouth and chin of the speaker in VIDEO so they follow "
        "AUDIO. The output keeps the video's size and frame rate and lasts as long as "
        "the audio (the video plays back and forth when the audio is longer).",
    )
    ls.add_argument("--video", required=True, type=Path, help="the recorded video (mp4, mov, mkv, webm …)")
    ls.add_argument(
        "--audio",
        required=True,
        type=Path,
        help="the new audio (wav, mp3, m4a/aac, flac, ogg, or a video whose sound to use)",
    )
    ls.add_argument("-o", "--output", required=True, type=Path, help="output .mp4 path")
    ls.add_argument(
        "--transcript", type=Path, help="UTF-8 text of what the audio says: gives precise lip closures (recommended)"
    )
    ls.add_argument(
        "--language", default="en", help="language of the audio/transcript, e.g. en, de, fr, zh, ja (default en)"
    )
    _setting_flag(ls, "--crf", "crf", "x264 quality, lower is better (18: visually lossless)", type=int)
    _setting_flag(ls, "--lufs", "target_lufs", "loudness target of the new audio, LUFS", type=float)
    _setting_flag(ls, "--extend", "extend_mode", "how the video fills a longer audio")
    _setting_flag(ls, "--speaker", "speaker", "which face speaks when several are visible")
    ls.add_argument(
        "--strict",
        action="store_true",
        help="exit 3 when QA flags the output (the file is kept, with a .qa.json beside it)",
    )
    ls.add_argument(
        "--no-qa", action="store_true", help="skip the QA reading of the output (about 1 s for 10 s of video)"
    )
    _setting_flag(
        ls,
        "--planner",
        "planner",
        "what plans the mouth from the audio (learned: the sound-to-mouth model; phones: the phone aligners alone)",
    )
    _add_common(ls)

    rn = sub.add_parser(
        "run",
        help="produce a course: every row of a spreadsheet, as a Prefect flow run",
        description="Validate SHEET (CSV or XLSX: lecturer, video, language, audio, "
        "[transcript, title, output]), then produce every row on a Prefect server "
        "(PREFECT_API_URL, or a local one started on 127.0.0.1:4200). Prints the "
        "dashboard link, the outputs and the zip.",
    )
    rn.add_argument(
        "sheet", help="course sheet (.csv or .xlsx), or store:KEY for one in the artifact store (heygem store put)"
    )
    rn.add_argument("-o", "--output", type=Path, help="also copy the videos, zip and report here")
    rn.add_argument(
        "--input-root",
        action="append",
        type=Path,
        metavar="DIR",
        help="folder the sheet's files must lie in (repeatable; default HEYGEM_INPUT_ROOTS or the sheet's folder)",
    )
    _setting_flag(rn, "--crf", "crf", "x264 quality", type=int)
    rn.add_argument("--engine", help="lip-sync engine (default exemplar)")
    rn.add_argument(
        "--skip-invalid",
        action="store_true",
        help="run the valid rows of a sheet with bad ones (each bad row is said and listed "
        "as failed in the report) instead of refusing the sheet",
    )
    rn.add_argument(
        "-v", "--verbose", action="store_true", help="also show the flow's warnings and task failures (tracebacks) here"
    )

    bt = sub.add_parser("batch", help="one audio × many videos, as a Prefect flow run")
    bt.add_argument("--audio", required=True, type=Path, help="the new audio")
    bt.add_argument("videos", nargs="+", type=Path, help="source videos")
    bt.add_argument("--language", default="en", help="language of the audio (BCP-47, default en)")
    bt.add_argument("--transcript", type=Path, help="UTF-8 text of what the audio says")
    bt.add_argument("-o", "--output", type=Path, help="also copy the videos, zip and report here")
    _setting_flag(bt, "--crf", "crf", "x264 quality", type=int)
    bt.add_argument("--engine", help="lip-sync engine (default exemplar)")
    bt.add_argument(
        "-v", "--verbose", action="store_true", help="also show the flow's warnings and task failures (tracebacks) here"
    )

    fl = sub.add_parser(
        "flow",
        help="run any registered flow by name (flows/registry.py)",
        description="Run a flow of flows/registry.py (or one an installed package adds) on "
        "the local Prefect server, with its parameters as KEY=VALUE (VALUE read as JSON "
        "where it is JSON, else as text). 'heygem flow --list' names them.",
    )
    fl.add_argument("name", nargs="?", help="the flow's name, e.g. single, batch, course_matrix, gc")
    fl.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the flow (repeat for more)",
    )
    fl.add_argument("--list", action="store_true", help="name the flows that can be run")
    fl.add_argument("-o", "--output", type=Path, help="for flows that make videos: also copy them here")
    fl.add_argument("-v", "--verbose", action="store_true", help="also show the flow's warnings here")

    sv = sub.add_parser("server", help="start (or find) the local Prefect server and print its URL")
    sv.add_argument("--port", type=int, help="port on 127.0.0.1 (default 4200, env HEYGEM_PREFECT_PORT)")

    ui = sub.add_parser(
        "ui",
        help="start the web app (single, batch, course sheet, history)",
        description="Serve the web app. It runs the same Prefect flows as 'heygem run' and "
        "'heygem batch' (they appear in the dashboard). A login (HEYGEM_UI_USER, "
        "HEYGEM_UI_PASSWORD) is required to listen on anything but 127.0.0.1. Also: "
        "HEYGEM_UI_CONCURRENCY (jobs at once, default 1), HEYGEM_UI_MAX_UPLOAD_MB "
        "(per file, default 500).",
    )
    ui.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; another address "
        "needs HEYGEM_UI_USER and HEYGEM_UI_PASSWORD)",
    )
    ui.add_argument("--port", type=int, default=7860, help="port (default 7860)")

    gc = sub.add_parser(
        "gc",
        help="free space: evict old cache objects and old runs",
        description="Evict what heygem keeps, from this machine's cache folder and the "
        "artifact store (HEYGEM_STORE: the local folder or S3/MinIO): cached stage outputs, "
        "ingested sources and local copies least recently used first, and runs older "
        "than --older-than (whole runs, by age only). Never what a running flow may "
        "use: anything used since the oldest running flow began is kept.",
    )
    gc.add_argument("--older-than", metavar="AGE", help="evict what was not used for this long, e.g. 30d, 12h")
    gc.add_argument(
        "--max-size", metavar="SIZE", help="then evict the least recently used cache objects until they fit, e.g. 20G"
    )
    gc.add_argument("--dry-run", action="store_true", help="only say what would be freed")
    _add_common(gc)

    runs_cli.add_parser(sub)
    store_cli.add_parser(sub)

    sy = sub.add_parser("sync", help="measure how well a video's mouth follows an audio track")
    sy.add_argument("video", type=Path)
    sy.add_argument("--audio", type=Path, help="audio to compare with (default: the video's own)")
    _add_common(sy)
    return parser


# Settings a flag sets: (setting, the flag's attribute, the flag as typed).
FLAG_SETTINGS = (
    ("engine", "engine", "--engine"),
    ("tracker", "tracker", "--tracker"),
    ("cache_dir", "cache_dir", "--cache-dir"),
    ("crf", "crf", "--crf"),
    ("target_lufs", "lufs", "--lufs"),
    ("extend_mode", "extend", "--extend"),
    ("speaker", "speaker", "--speaker"),
    ("planner", "planner", "--planner"),
)


def _as_flag(err: InputError, args: argparse.Namespace) -> InputError:
    """A setting's error about a value the user gave as a flag, worded about the flag
    (``--crf 99: must be ...``, not ``HEYGEM_CRF=99``)."""
    from heygem_core.config import SettingsError, variable

    if not isinstance(err, SettingsError):
        return err
    for name, attr, flag in FLAG_SETTINGS:
        given = getattr(args, attr, None)
        said = f"{variable(name)}={given}"
        if given is not None and str(err).startswith(said):
            return SettingsError(f"{flag} {given}{str(err)[len(said) :]}")
    return err


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment and the flags; every value checked except the choices
    that live in registries (``Settings.check()``, which the commands call)."""
    return Settings.from_env().replace(
        engine=getattr(args, "engine", None),
        tracker=getattr(args, "tracker", None),
        cache_dir=getattr(args, "cache_dir", None),
        crf=getattr(args, "crf", None),
        target_lufs=getattr(args, "lufs", None),
        extend_mode=getattr(args, "extend", None),
        speaker=getattr(args, "speaker", None),
        planner=getattr(args, "planner", None),
    )


# What a command needs beyond the core install, and the extra that brings it (pyproject.toml).
EXTRAS = {
    "run": {"prefect": "flows"},
    "batch": {"prefect": "flows"},
    "flow": {"prefect": "flows"},
    "server": {"prefect": "flows"},
    "ui": {"prefect": "web", "gradio": "web"},
}


def _needs_extras(command: str) -> None:
    """One line naming the extra to install when a command's stack is not installed. Looks
    without importing: Prefect must be imported only once its server is chosen."""
    import importlib.util

    for module, extra in EXTRAS.get(command, {}).items():
        if importlib.util.find_spec(module) is None:
            raise InputError(
                f"'heygem {command}' needs {module}, which this install lacks: "
                f"pip install 'heygem[{extra}]' (scripts/install.sh installs everything)"
            )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in PREFECT_COMMANDS:  # Prefect brings its own console logging
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
        )
    settings = None
    try:
        settings = settings_from(args)
        if args.command != "lipsync":  # lipsync checks beside its probes (the registries load numpy)
            settings.check()
        if args.command == "lipsync":
            return _lipsync(args, settings)
        if args.command == "sync":
            return _sync(args, settings)
        if args.command == "gc":
            return _gc(args, settings)
        if args.command == "runs":
            return runs_cli.runs_command(args, settings)
        if args.command == "store":
            return store_cli.store_command(args, settings)
        if args.command in ("ui", "server") and args.port is not None and not 1 <= args.port <= 65535:
            raise InputError(f"--port {args.port}: must be from 1 to 65535")
        _needs_extras(args.command)
        if args.command == "ui":
            # Gradio and Prefect are imported only by the web app itself (webapp/).
            from webapp import ui_command

            return ui_command(args)
        if args.command in PREFECT_COMMANDS:
            # Prefect is imported only for these commands (flows/ is the Prefect layer).
            from . import prefect_commands as flow_cli

            return getattr(flow_cli, f"{args.command}_command")(args)
    except InputError as err:
        print(f"heygem: error: {_as_flag(err, args)}", file=sys.stderr)
        return EXIT_INPUT
    except HeygemError as err:
        print(f"heygem: failed: {_said(err)}", file=sys.stderr)
        detail = getattr(err, "detail", "")  # a tool's own last lines (ProcessingError): for -v, not the line above
        if detail:
            logging.getLogger("heygem_core").info("the tool said:\n%s", detail)
        return EXIT_FAILURE
    except OSError as err:  # the machine, not the input: a full disk, a folder we may not write
        print(f"heygem: failed: {_os_error(err, settings)}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("heygem: interrupted", file=sys.stderr)
        return 130
    return EXIT_FAILURE


def _gc(args, settings: Settings) -> int:
    from heygem_core import gc
    from heygem_core.store import open_store

    older = gc.parse_age(args.older_than) if args.older_than else None
    size = gc.parse_size(args.max_size) if args.max_size else None
    store = open_store(settings)
    report = gc.collect(Path(settings.cache_dir), store, older_than=older, max_size=size, dry_run=args.dry_run)
    for item in report.removed:
        logging.getLogger("heygem_core.gc").info(
            "%s %s %s (%d bytes)", "would remove" if args.dry_run else "removed", item.where, item.name, item.size
        )
    print(f"heygem gc ({settings.cache_dir}, store {store.describe()}): {report.summary()}")
    return EXIT_OK


def _lipsync(args, settings: Settings) -> int:
    from heygem_core.outputs import check_output

    check_output(args.output, (args.video, args.audio, args.transcript))  # before any work
    from heygem_core.intake import normalise_language

    if normalise_language(args.language) is None:  # as batch and sheets check it
        raise InputError(f"--language {args.language}: not a language code (BCP-47, such as en, de, fr, zh, ja)")
    if args.transcript is None and settings.planner == "phones":
        from heygem_core import sphinx

        sphinx.warm()  # the phone recognisers load their model while heygem imports the rest
    # The probes (ffprobe, ~0.1 s each) run beside the imports of the rest of heygem (~0.4 s).
    from concurrent.futures import ThreadPoolExecutor

    from heygem_core.probe import probe_audio, probe_video

    with ThreadPoolExecutor(2, thread_name_prefix="heygem-probe") as probes:
        probing_video = probes.submit(probe_video, args.video, settings.cache_dir)  # known videos: from the cache
        probing_audio = probes.submit(probe_audio, args.audio)
        settings.check()
        from heygem_core.pipeline import lipsync, read_transcript

        transcript = read_transcript(args.transcript)
        video, audio = probing_video.result(), probing_audio.result()  # a bad video is reported before bad audio
    from heygem_core.transcripts import check_transcript

    check_transcript(transcript, audio.duration, args.language, args.transcript)  # named by its file
    try:
        with _Progress() as progress:
            result = lipsync(
                video,
                audio,
                args.output,
                transcript=transcript,
                language=args.language,
                settings=settings,
                progress=progress,
                warn=progress.warn,
                qa=args.strict or not args.no_qa,
            )
    except ProcessingError as err:
        plain = _output_failure(err, args.output)
        if plain is None:
            raise
        logging.getLogger("heygem_core").info("%s failed:\n%s", args.output, err)  # the tool's detail (-v)
        raise plain from err
    print(
        f"wrote {result.output} ({result.width}x{result.height}, {result.fps:g} fps, "
        f"{result.duration:.2f} s, {result.n_frames} frames) in {result.timings['total']:.1f} s"
    )
    for note in result.notes:
        print(f"note: {note}")
    if result.qa is None:
        return EXIT_OK
    from heygem_core.report import qa_line

    print(qa_line(result.qa, settings))
    if args.strict and result.qa.flagged:
        side = Path(args.output).with_suffix(".qa.json")
        side.write_text(json.dumps(result.qa.as_dict(), indent=1), encoding="utf-8")
        print(f"heygem: flagged by QA (--strict): {args.output} kept; figures in {side}", file=sys.stderr)
        return EXIT_FLAGGED
    return EXIT_OK


def _said(err: HeygemError) -> str:
    """An error as the CLI's one line: where, what, what to do; a tool's detail goes to -v."""
    return err.headline + (f"; {err.hint}" if err.hint else "")


# A machine's fault in one of heygem's own folders is said about the folder and its setting.
_FOLDERS = (("cache_dir", "cache folder"), ("artifact_dir", "artifact store folder"))
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)


def _os_error(err: OSError, settings: Settings | None) -> str:
    """The OS's refusal in words; in one of heygem's own folders, about the folder and the
    variable that sets it."""
    reason = os_reason(err)
    if not err.filename:
        return reason
    where = Path(err.filename).absolute()
    for name, what in _FOLDERS if settings is not None and err.errno in _FULL else ():
        folder = Path(getattr(settings, name)).absolute()
        if where == folder or folder in where.parents:
            var = variable(name)
            return f"{folder}: {reason} (the {what}, {var}); free space there or set {var} to a folder on another disk"
    return f"{err.filename}: {reason}"


def _output_failure(err: ProcessingError, output: Path) -> ProcessingError | None:
    """One line for a failure while writing the output: it names the user's output file (not
    the ``.part`` temp file beside it, gone by now) and the cause in words, where the tool's
    stderr tells it (a full disk). None for any other failure."""
    out = Path(output).absolute()
    here = err.path.absolute() if err.path is not None else None
    ours = here is not None and (
        here == out or (here.parent == out.parent and here.name.startswith(f".{out.stem}.") and ".part" in here.name)
    )
    if not ours and err.cause is None:
        return None
    return ProcessingError(err.reason, output if ours else err.path, cause=err.cause)


def _sync(args, settings: Settings) -> int:
    from heygem_core.quality import sync_report

    rep = sync_report(args.video, args.audio, settings=settings)
    print(
        f"sync {rep.agreement:+.3f} (the mouth, read by FaceMesh, against the mouth expected for the "
        f"audio; QA's pass mark {settings.qa_min_sync:.2f}); loudness correlation {rep.correlation:+.3f}; "
        f"over {rep.frames} frames (face in {rep.coverage:.0%})"
    )
    return EXIT_OK


class _Progress:
    """A tqdm bar per stage on a terminal; silent otherwise (logs and CI stay clean)."""

    def __init__(self):
        self.enabled = sys.stderr.isatty()
        self.bar = None
        self.stage = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            if self.bar is not None:
                self.bar.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, unit="frame", leave=False)
        self.bar.n = done
        self.bar.refresh()

    def warn(self, message: str) -> None:
        """Said at once, above any progress bar."""
        line = f"heygem: warning: {message}"
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
