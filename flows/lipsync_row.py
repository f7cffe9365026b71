"""Lip-sync of one row as its own flow, deployed to the ``gpu`` work pool (``gpu-lipsync``).

A course run started from a deployment on the ``cpu`` pool calls it through ``run_deployment``
when ``HEYGEM_LIPSYNC_DEPLOYMENT`` is set (see ``tasks.stages.lipsync_remote`` and
deployments/README.md): the bytes go through the shared artifact store, only keys travel.
"""

from __future__ import annotations

from prefect import flow

from heygem_core.assets import Asset
from tasks.stages import lipsync


@flow(name="lipsync_row", flow_run_name="lipsync {label}")
def lipsync_row(
    video: Asset,
    track_key: str,
    audio: Asset,
    transcript: Asset | None,
    language: str,
    label: str,
    overrides: dict | None = None,
    adapt_key: str | None = None,
) -> str:
    """Plan one row's mouth motion on a GPU machine.

    Args:
        video: the source video in the artifact store (key, sha256, name).
        track_key: store key of its face track (Parquet).
        audio: the new audio in the artifact store, as given (key, sha256, name).
        transcript: the transcript in the store, if any.
        language: BCP-47 tag of the audio.
        label: lecturer/language, for names and logs.
        overrides: per-run settings (no secrets).
        adapt_key: store key of the learned mouth's adaptation to this lecturer (adapt_mouth).
    """
    return lipsync(video, track_key, audio, transcript, language, label, overrides, adapt_key)
