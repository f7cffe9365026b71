"""One audio × many videos (the seed product's batch mode): ``heygem batch --audio A V...``."""

from __future__ import annotations

from pathlib import Path

from prefect import flow
from prefect.states import State
from prefect.runtime import flow_run


from .outcome import final_state
from .common import produce, without_caller_tags
from .runner import WorkersTaskRunner
from .jobs import batch_records, refused_rows, validate_jobs


def _name() -> str:
    p = flow_run.parameters
    return f"batch {Path(str(p.get('audio', 'audio'))).name} × {len(p.get('videos') or [])} videos ({p.get('language', '')})"


@flow(name="batch", flow_run_name=_name, log_prints=True, task_runner=WorkersTaskRunner())
def batch(
    audio: str,
    videos: list[str],
    language: str = "en",
    transcript: str | None = None,
    input_roots: list[str] | None = None,
    overrides: dict | None = None,
    refused: list[dict] | None = None,
) -> State:
    """Re-voice every video with the same audio; a failing video fails alone.

    Args:
        audio: path (or ``store:<key>``) of the new audio.
        videos: paths (or ``store:<key>``) of the source videos.
        language: BCP-47 tag of the audio's language.
        transcript: optional UTF-8 text of what the audio says (better lip sync).
        refused: videos the caller refused before the run (the web app's uploads), each
            ``{"name": file name, "message": why}``: failed rows of the report, after ``videos``.
    """
    # A bad video fails its own row (listed in the report); the others run.
    with without_caller_tags():
        checked = validate_jobs(
            batch_records(audio, videos, language, transcript),
            f"batch of {len(videos)}",
            input_roots,
            overrides,
            skip_invalid=True,
        )
    skipped = checked["skipped"] + refused_rows(refused or [], len(videos), language)
    return final_state(produce(checked["rows"], kind="batch", overrides=overrides, skipped=skipped))
