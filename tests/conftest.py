"""Shared test fixtures: where the real test media lives, and a factory for derived media.

The recordings in ``<repo>/../shared/fixtures`` are read-only and never copied into the repo;
bad or unusual media (truncated, rotated, variable frame rate...) is generated from them with
ffmpeg into a session temp folder, once per test session.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
FIXTURES_DIR = (REPO_ROOT / ".." / "shared" / "fixtures").resolve()


class MediaFactory:
    """Makes derived test media in one temp folder; each name is made once and then reused.

    The folder is shared by every test module of the session, so asking for a name already made
    from a different recipe is an error rather than a silent mix-up.
    """

    def __init__(self, root: Path):
        self.root = root
        self._recipes: dict[str, tuple] = {}

    def path(self, name: str) -> Path:
        return self.root / name

    def _claim(self, name: str, recipe: tuple) -> None:
        if self._recipes.setdefault(name, recipe) != recipe:
            raise ValueError(f"test media {name!r} was already made from a different recipe")

    def ffmpeg(self, name: str, *args: str) -> Path:
        """``ffmpeg <args> <root/name>``: output options go in ``args``, the output path last."""
        self._claim(name, ("ffmpeg", *args))
        out = self.path(name)
        if not out.exists():
            cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args, str(out)]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                out.unlink(missing_ok=True)
                raise RuntimeError(f"making test media {name} failed:\n{done.stderr}")
        return out

    def write_bytes(self, name: str, data: bytes) -> Path:
        self._claim(name, ("bytes", hashlib.sha256(data).hexdigest()))
        out = self.path(name)
        out.write_bytes(data)
        return out

    def truncated(self, name: str, source: Path, fraction: float = 0.5) -> Path:
        """The first ``fraction`` of ``source``'s bytes: a download or copy cut short."""
        data = source.read_bytes()
        return self.write_bytes(name, data[: int(len(data) * fraction)])


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES_DIR.is_dir():
        pytest.skip(f"test media not found at {FIXTURES_DIR}")
    return FIXTURES_DIR


@pytest.fixture(scope="session")
def media_factory(tmp_path_factory: pytest.TempPathFactory) -> MediaFactory:
    return MediaFactory(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def quiet_source(media_factory, tmp_path_factory) -> Path:
    """A presenter who barely moves the mouth: katie_8s's 15% most closed frames (by her
    tracked mouth), in their order, as a 1.2 s video."""
    import numpy as np

    from heygem_core import mouth
    from heygem_core.config import Settings
    from heygem_core.track import track_video

    source = FIXTURES_DIR / "video" / "katie_8s.mp4"
    track = track_video(source, Settings(cache_dir=tmp_path_factory.mktemp("quiet-cache")))
    opening = mouth.opening(track.landmarks)
    keep = np.sort(np.argsort(opening)[: int(len(opening) * 0.15)])
    frames = "+".join(f"eq(n\\,{k})" for k in keep)
    return media_factory.ffmpeg(
        "quiet_katie.mp4",
        "-i",
        str(source),
        "-vf",
        f"select='{frames}',setpts=N/25/TB",
        "-an",
        "-r",
        "25",
        "-pix_fmt",
        "yuv420p",
    )


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """A real Prefect API for the session (``prefect_test_harness``: a temporary server on
    SQLite), with its own result storage; yields what another process needs to join it."""
    import os

    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    results = tmp_path_factory.mktemp("prefect-results")
    with temporary_settings({PREFECT_LOCAL_STORAGE_PATH: results}):
        with prefect_test_harness(server_startup_timeout=120):
            from prefect.settings import PREFECT_API_URL

            yield {
                "PREFECT_API_URL": PREFECT_API_URL.value(),
                "PREFECT_LOCAL_STORAGE_PATH": str(results),
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            }


@pytest.fixture
def web_context(tmp_path, prefect_api, monkeypatch):
    """``make(max_upload_bytes)``: the web app's context as ``heygem ui`` builds it, on the
    session's Prefect API, a local store and a cache in the test's folder."""
    from webapp import jobs

    from tests.paths import FIXTURES

    for name, value in prefect_api.items():  # the flow runs in a worker thread, which reads Prefect's env
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HEYGEM_STORE", "local")
    monkeypatch.setenv("HEYGEM_ARTIFACT_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("HEYGEM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HEYGEM_INPUT_ROOTS", str(FIXTURES))
    return lambda max_upload_bytes: jobs.WebContext.create(
        prefect_api["PREFECT_API_URL"], max_upload_bytes=max_upload_bytes
    )


def short_batch_inputs(media_factory, folder: Path) -> tuple[Path, Path, Path]:
    """A 2 s katie clip that works, 2 s of German audio and a 2 s faceless clip, in ``folder``."""
    import shutil

    from tests.paths import LANGUAGE_AUDIO, VIDEOS

    clip = Path(
        shutil.copy(
            media_factory.ffmpeg(
                "katie_2s.mp4",
                "-i",
                str(VIDEOS["katie_8s"]),
                "-t",
                "2",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                "-an",
            ),
            folder,
        )
    )
    audio = Path(shutil.copy(media_factory.ffmpeg("de_2s.wav", "-i", str(LANGUAGE_AUDIO["de"]), "-t", "2"), folder))
    faceless = folder / "faceless.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
            "-pix_fmt",
            "yuv420p",
            str(faceless),
        ],
        check=True,
    )
    return clip, audio, faceless
