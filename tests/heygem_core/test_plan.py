import numpy as np

from heygem_core.phonetics import Phone
from heygem_core.plan import build_plan, frame_visemes


def _phones(spec):
    t, out = 0.0, []
    for viseme, dur in spec:
        out.append(Phone(t, t + dur, viseme.lower(), viseme))
        t += dur
    return out


def test_bilabial_closes_even_when_shorter_than_a_frame():
    phones = _phones([("aa", 0.2), ("PP", 0.02), ("aa", 0.2)])
    vis = frame_visemes(phones, fps=25, n_frames=11)
    assert "PP" in vis


def test_plan_shapes_follow_phones_and_loudness():
    fps = 25
    phones = _phones([("sil", 0.4), ("aa", 0.4), ("PP", 0.12), ("aa", 0.4), ("sil", 0.4)])
    n = int(round(1.72 * fps))
    loud = np.full(n, -60.0)
    loud[10:33] = -20.0
    plan = build_plan(phones, loud, fps)
    assert plan.n_frames == n
    assert (plan.opening[:8] == 0).all(), "silence is a closed, resting mouth"
    pp = [i for i, v in enumerate(plan.viseme) if v == "PP"]
    assert pp and (plan.opening[pp] == 0).all() and plan.closed[pp].all()
    assert plan.opening[14] > 0.5 and plan.opening[27] > 0.5
    # Louder speech opens wider for the same vowel.
    quiet = build_plan(phones, np.where(loud > -30, -32.0, -60.0), fps)
    assert plan.opening[14] >= quiet.opening[14]


def test_lips_meet_in_a_pause_but_not_in_every_gap_between_words():
    fps = 25
    phones = _phones([("aa", 0.4), ("sil", 0.08), ("E", 0.4), ("sil", 0.4), ("aa", 0.4)])
    n = int(round(1.68 * fps))
    loud = np.full(n, -20.0)
    loud[10:12] = -60.0  # an 80 ms gap between two words
    loud[22:32] = -60.0  # a 400 ms pause
    plan = build_plan(phones, loud, fps)
    assert not plan.closed[10:12].any(), "a gap between words does not snap the lips shut"
    assert (plan.opening[10:12] > 0).all() and (plan.opening[10:12] < plan.opening[5]).all()
    assert plan.closed[22:32].all() and (plan.opening[22:32] == 0).all(), "a pause closes them"
