"""The shipped model hears speech: on real clips it never saw, its opening follows the real
mouth (read by FaceMesh, not by the tracker) far better than the same model fed the same
sound shuffled in time; and its plan closes the lips where the speech pauses."""

import numpy as np
import pytest

from heygem_core import audio as audio_mod
from heygem_core import media, planners, quality
from heygem_core.config import Settings
from heygem_core.errors import InputError
from heygem_core.files import sha256_file
from heygem_core.plan import PAUSE_MIN_S, relative_loudness
from heygem_core.soundmouth import net
from heygem_core.soundmouth.predict import learned_plan, predict
from tests.paths import CORPUS, LANGUAGE_AUDIO

# the shipped model was trained on every corpus speaker but these two (scripts/train_mouth.py
# --hold-out), kept out to judge it on
HELD_OUT = [CORPUS / "presenter_suit_6s.mp4", CORPUS / "grid_lbax4n.mpg"]


def _shuffled(pcm: np.ndarray, sr: int, seed: int, block_s: float = 0.4) -> np.ndarray:
    n = int(block_s * sr)
    blocks = [pcm[k : k + n] for k in range(0, len(pcm), n)]
    order = np.random.default_rng(seed).permutation(len(blocks))
    return np.concatenate([blocks[k] for k in order])


@pytest.mark.parametrize("clip", HELD_OUT, ids=lambda p: p.stem)
def test_the_model_beats_shuffled_sound_on_a_real_clip_it_never_saw(clip, tmp_path):
    if not clip.exists():
        pytest.fail(f"the shared corpus clip {clip} is missing")
    seen = {c["sha256"] for c in net.load().manifest["real"]}
    assert sha256_file(clip) not in seen, "the model was trained on this clip: pick another"
    settings = Settings(cache_dir=tmp_path)
    info = media.probe_video(clip)
    real = quality.independent_series(info, settings).opening
    sound = audio_mod.load_audio(clip, 16000)
    fps, n = float(info.fps), len(real)
    own = quality.correlation(real, predict(sound.pcm, sound.sr).at(fps, n).opening)
    shuffled = [
        quality.correlation(real, predict(_shuffled(sound.pcm, sound.sr, s), sound.sr).at(fps, n).opening)
        for s in range(5)
    ]
    assert own > 0.3, f"own sound r {own:.2f}"
    assert own > max(shuffled) + 0.15, f"own {own:.2f}, shuffled {np.round(shuffled, 2)}"


def test_the_plan_closes_the_lips_in_a_pause_and_opens_them_in_speech():
    speech = audio_mod.analysis_audio(LANGUAGE_AUDIO["de"])
    sr = speech.sr
    pause_s = PAUSE_MIN_S + 0.5  # a pause by the plan's own rule, with room either side
    gap = np.zeros(int(pause_s * sr), np.float32)
    pcm = np.concatenate([speech.pcm[: 3 * sr], gap, speech.pcm[3 * sr : 6 * sr]])
    fps = 25.0
    n = int(len(pcm) / sr * fps)
    loud = audio_mod.loudness_envelope(audio_mod.Audio(pcm=pcm, sr=sr), fps, n)
    plan = learned_plan(predict(pcm, sr), loud, fps)
    pause = slice(int((3 + 0.1) * fps), int((3 + pause_s - 0.1) * fps))
    assert plan.closed[pause].all() and np.all(plan.opening[pause] == 0)
    assert plan.opening[plan.closed].max() == 0.0
    talking = np.r_[0 : int(3 * fps), int((3 + pause_s) * fps) : n]
    assert plan.opening[talking].max() > 0.7 and plan.opening[talking].mean() > 0.2
    # where the voice is loud, lips meet only at closures (/p b m/ and the like), not for long
    loud_speech = talking[relative_loudness(loud[talking]) > 0.3]
    assert plan.closed[loud_speech].mean() < 0.3
    assert len(plan.viseme) == n and set(plan.viseme) > {"sil"}


def test_with_a_transcript_the_scripted_closures_are_kept():
    from heygem_core.phonetics.types import Phone
    from heygem_core.plan import build_plan

    speech = audio_mod.analysis_audio(LANGUAGE_AUDIO["en"])
    fps, n = 25.0, int(speech.duration * 25)
    loud = audio_mod.loudness_envelope(speech, fps, n)
    phones = [Phone(0.0, 1.0, "a", "aa"), Phone(1.0, 1.2, "m", "PP"), Phone(1.2, speech.duration, "a", "aa")]
    plan = learned_plan(predict(speech.pcm, speech.sr), loud, fps, phones)
    scripted = build_plan(phones, loud, fps)
    assert np.array_equal(plan.closed, scripted.closed) and plan.viseme == scripted.viseme
    assert np.all(plan.opening[plan.closed] == 0)


def test_planner_is_chosen_by_name_and_an_unknown_one_is_named():
    assert planners.version(Settings(planner="phones")) == "phones"
    assert planners.version(Settings()).startswith("mouthnet-")
    with pytest.raises(InputError, match="unknown planner 'nobody'.*HEYGEM_PLANNER.*learned, phones"):
        planners.version(Settings(planner="nobody"))
