"""One audio × one video."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.states import State
from prefect.runtime import flow_run

from .outcome import final_state
from .common import produce, without_caller_tags
from .jobs import validate_jobs


def _name() -> str:
    p = flow_run.parameters
    who = p.get("lecturer") or Path(str(p.get("video", "video"))).stem
    return f"{who}/{p.get('language', '')}"


@flow(name="single", flow_run_name=_name, log_prints=True)
def single(
    video: str,
    audio: str,
    language: str = "en",
    transcript: str | None = None,
    lecturer: str | None = None,
    output: str | None = None,
    input_roots: list[str] | None = None,
    overrides: dict | None = None,
) -> State:
    """Re-voice one video with one audio.

    Args:
        video: path (or ``store:<key>``) of the source video.
        audio: path (or ``store:<key>``) of the new audio.
        language: BCP-47 tag of the audio's language.
        transcript: optional UTF-8 text of what the audio says.
        lecturer: name shown in reports (default: the video's file name).
        output: output file name (default: ``<lecturer>_<language>.mp4``).
    """
    record = {
        "lecturer": lecturer or Path(video).stem,
        "video": video,
        "language": language,
        "audio": audio,
        "transcript": transcript or "",
        "title": "",
        "output": output or "",
    }
    with without_caller_tags():
        rows = validate_jobs([record], Path(video).name, input_roots, overrides)["rows"]
    return final_state(produce(rows, kind="single", overrides=overrides))
