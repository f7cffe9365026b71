"""Per-lecturer adaptation on real footage: the source's own sound offset is found over the
whole clip, a short source keeps the general model, the decision is kept by the source's
content, and the adapted opening is the general one wherever no head is used."""

import numpy as np
import pytest

from heygem_core import audio as audio_mod
from heygem_core import cache, planners
from heygem_core.config import Settings
from heygem_core.soundmouth import adapt, features, net, predict
from heygem_core.track import track_video
from tests.paths import CORPUS, VIDEOS

OBAMA = CORPUS / "obama_20s_audio_adv240ms.mp4"  # in step: its sound was re-timed (corpus README)


@pytest.fixture(scope="module")
def obama(tmp_path_factory):
    if not OBAMA.exists():
        pytest.fail(f"the shared corpus clip {OBAMA} is missing")
    settings = Settings(cache_dir=tmp_path_factory.mktemp("cache"))
    return track_video(OBAMA, settings), audio_mod.load_audio(OBAMA, 16000)


def _mouth_and_loudness(track, sound, delay_frames):
    from heygem_core import mouth

    fps = track.fps
    pcm = np.concatenate([np.zeros(int(round(delay_frames / fps * sound.sr)), np.float32), sound.pcm])
    gap = np.where(track.lost, np.nan, mouth.opening(track.landmarks))
    loud = audio_mod.loudness_envelope(audio_mod.Audio(pcm, sound.sr), fps, track.n_frames)
    general = predict.predict(pcm, sound.sr).at(fps, track.n_frames).opening
    return gap, loud, general


@pytest.mark.slow
def test_a_sound_laid_late_on_its_picture_is_found_over_the_whole_clip(obama):
    track, sound = obama
    assert adapt.source_lag(*_mouth_and_loudness(track, sound, 0)) == 0
    # the same recording with its sound 6 frames (240 ms) after its picture
    assert adapt.source_lag(*_mouth_and_loudness(track, sound, 6)) in (5, 6, 7)


@pytest.mark.slow
def test_a_long_enough_source_is_weighed_and_the_choice_is_kept_by_its_content(obama, tmp_path):
    track, sound = obama
    weights = net.load()
    fitted = adapt.fit(track.landmarks, track.lost, track.fps, sound.pcm, sound.sr, weights)
    assert fitted.seconds > adapt.MIN_SECONDS
    assert np.isfinite(fitted.general_r) and np.isfinite(fitted.adapted_r)
    if fitted.used:  # a head is used only where it beat the general model on held-back parts
        assert fitted.adapted_r >= fitted.general_r + adapt.MARGIN
        assert fitted.coef.shape == (_n_inputs(weights),)
    else:
        assert "general model" in fitted.reason
    # kept by the source's content: the same source reads it back, another source has its own key
    settings = Settings(cache_dir=tmp_path)
    first = planners.adaptation(OBAMA, track, settings)
    assert first.weight == fitted.weight and first.reason == fitted.reason
    from heygem_core.track import version as tracker_version

    key = adapt.cache_key(track.source_sha256, tracker_version(settings), weights)
    assert cache.entry(tmp_path, "adapt", key, ".npz").exists()
    assert adapt.cache_key("0" * 64, tracker_version(settings), weights) != key


def test_a_short_source_keeps_the_general_model(tmp_path):
    settings = Settings(cache_dir=tmp_path)
    video = VIDEOS["chaplin_7s"]  # 7 s of face
    track = track_video(video, settings)
    got = planners.adaptation(video, track, settings)
    assert not got.used and "too short" in got.reason
    sound = audio_mod.load_audio(video, 16000)
    plain = predict.predict(sound.pcm, sound.sr)
    same = predict.predict(sound.pcm, sound.sr, None, got)
    np.testing.assert_array_equal(plain.opening, same.opening)
    assert planners.adaptation(video, track, Settings(cache_dir=tmp_path, adapt="off")) is None
    assert planners.adaptation(video, track, Settings(cache_dir=tmp_path, planner="phones")) is None


def _n_inputs(weights) -> int:
    """The head's inputs: the hidden layer and the log-mel around each frame, and a constant."""
    return weights.arch["width"] * len(adapt.CONTEXT) + features.N_FEATURES * len(adapt.SOUND_CONTEXT) + 1


def test_a_head_changes_the_opening_by_its_weight():
    weights = net.load()
    rng = np.random.default_rng(0)
    h = np.abs(rng.normal(size=(300, weights.arch["width"]))).astype(np.float32)
    feats = rng.normal(size=(300, features.N_FEATURES)).astype(np.float32)
    general = rng.uniform(0.1, 1.0, 300)
    coef = rng.normal(size=_n_inputs(weights))
    head = adapt.Adaptation(0.5, 0, 0.3, 0.4, 30.0, weights.version, "test", coef=coef)
    out = head.opening(h, feats, general)
    assert out.shape == general.shape and np.all((out >= 0) & (out <= net.OPEN_MAX))
    assert not np.allclose(out, general)
    none = adapt.Adaptation(0.0, 0, 0.3, 0.3, 30.0, weights.version, "test")
    np.testing.assert_array_equal(none.opening(h, feats, general), general)


def test_a_long_sound_is_read_a_chunk_at_a_time_with_the_same_result():
    """The head's inputs (~770 numbers a frame) are made a chunk at a time, so an hour of new
    sound does not hold them all at once; the chunks' seams must not show."""
    weights = net.load()
    rng = np.random.default_rng(1)
    n = 2 * adapt.CHUNK + 123
    h = rng.normal(size=(n, weights.arch["width"])).astype(np.float32)
    feats = rng.normal(size=(n, features.N_FEATURES)).astype(np.float32)
    general = rng.uniform(0.1, 1.0, n)
    coef = rng.normal(size=_n_inputs(weights))
    got = adapt.Adaptation(1.0, 0, 0.3, 0.4, 30.0, weights.version, "test", coef=coef).opening(h, feats, general)
    head = adapt._inputs(h, feats, np.arange(n)) @ coef  # all at once
    z = (head - head.mean()) / (head.std() + 1e-9)
    np.testing.assert_allclose(got, np.clip(general.mean() + general.std() * z, 0.0, net.OPEN_MAX), atol=1e-9)
