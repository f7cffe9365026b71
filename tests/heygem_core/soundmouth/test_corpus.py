"""The corpus as training and judging material: every clip with its speaker and group, one
person one speaker (across the single clips and the bulk sets), folds that never split one."""

from heygem_core.soundmouth import corpus, data
from tests.paths import FIXTURES

SHARED = FIXTURES.parent


def test_every_clip_has_a_speaker_and_a_group_and_the_bulk_sets_are_one_speaker_each():
    clips = corpus.all_clips(SHARED)
    singles = [c for c in clips if not c.bulk]
    assert len(singles) >= 30 and {c.group for c in singles} == {corpus.GRID, corpus.CONVERSATIONAL}
    bulk = [c for c in clips if c.bulk]
    assert {c.speaker for c in bulk} == {"grid_s1", "arabic_anchors"}
    assert {c.group for c in bulk} == {corpus.GRID, corpus.ARABIC}
    assert len([c for c in bulk if c.speaker == "arabic_anchors"]) > 900


def test_one_person_is_one_speaker_and_never_split_across_folds():
    by_name = {c.name: c for c in corpus.all_clips(SHARED)}
    # grid_bbaf2n is GRID speaker s1, the bulk set's man
    assert by_name["grid_bbaf2n"].speaker == "grid_s1" == by_name["s1_bbaf5a"].speaker
    assert by_name["grid_pwij3p"].speaker == by_name["grid_swwp2s"].speaker
    folds: dict[str, set[int]] = {}
    for c in by_name.values():
        folds.setdefault(c.speaker, set()).add(corpus.fold_of(c.speaker))
    assert all(len(f) == 1 for f in folds.values())
    assert len({f for fs in folds.values() for f in fs}) == corpus.FOLDS  # every fold judges someone
    assert data.speaker_of(by_name["katie_8s"].path) == "katie_8s"
