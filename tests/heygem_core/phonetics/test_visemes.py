import pytest

from heygem_core.phonetics import VISEMES
from heygem_core.phonetics.visemes import all_visemes_known, espeak_viseme, sphinx_viseme

# (mnemonic as espeak-ng 1.51 reports it, language it comes from, viseme)
ESPEAK_TABLE = [
    ("p", "en", "PP"),
    ("b", "de", "PP"),
    ("m", "ja", "PP"),
    ("B", "es", "PP"),
    ("pF", "de", "PP"),
    ("f", "fr", "FF"),
    ("v", "de", "FF"),
    ("p\\", "ja", "FF"),
    ("T", "en", "TH"),
    ("D", "es", "TH"),
    ("t", "en", "DD"),
    ("d", "fr", "DD"),
    ("t#", "en-us", "DD"),
    ("?", "en-us", "DD"),
    ("k", "en", "kk"),
    ("g", "es", "kk"),
    ("N", "en", "kk"),
    ("x", "de", "kk"),
    ("Q", "es", "kk"),
    ("h", "en", "kk"),
    ("tS", "en", "CH"),
    ("dZ", "ja", "CH"),
    ("S", "de", "CH"),
    ("Z", "fr", "CH"),
    ("C", "de", "CH"),
    ("J^", "es", "CH"),
    ("t_s\\", "ja", "CH"),
    ("d_z\\", "ja", "CH"),
    ("s\\", "ja", "CH"),
    ("ts.", "cmn", "CH"),
    ("ts.h", "cmn", "CH"),
    ("s.", "cmn", "CH"),
    ("s", "en", "SS"),
    ("z2", "fr", "SS"),
    ("ts", "de", "SS"),
    ("t_s", "ja", "SS"),
    ("ts2", "it", "SS"),
    ("n", "en", "nn"),
    ("l", "de", "nn"),
    ("n^", "es", "nn"),
    ("l^", "it", "nn"),
    ("N\\", "ja", "nn"),
    ("n-", "en-us", "nn"),
    ("r", "en", "RR"),
    ("**", "es", "RR"),
    ("R2", "es", "RR"),
    ("r`", "ja", "RR"),
    ("r-", "cmn", "RR"),
    ("a", "de", "aa"),
    ("A:", "en", "aa"),
    ("V", "en", "aa"),
    ("aI", "en", "aa"),
    ("aU", "en", "aa"),
    ("a#", "en", "aa"),
    ("A~", "fr", "aa"),
    ("&U~", "pt", "aa"),
    ("E", "de", "E"),
    ("e:", "de", "E"),
    ("@", "en", "E"),
    ("3:", "en", "E"),
    ("eI", "en", "E"),
    ("@-", "fr", "E"),
    ("E~", "fr", "E"),
    ("i:", "en", "ih"),
    ("I", "en", "ih"),
    ("y", "fr", "ih"),
    ("i.", "cmn", "ih"),
    ("j", "de", "ih"),
    ("yE", "cmn", "ih"),
    ("i@3", "en", "ih"),
    ("o:", "de", "oh"),
    ("O", "fr", "oh"),
    ("0", "en", "oh"),
    ("oU", "en-us", "oh"),
    ("OY", "de", "oh"),
    ("W", "de", "oh"),
    ("Y:", "de", "oh"),
    ("O~", "fr", "oh"),
    ("u:", "en", "ou"),
    ("U", "de", "ou"),
    ("w", "fr", "ou"),
    ("u~", "ja", "ou"),
    ("U@", "en", "ou"),
    ("_", "en", "sil"),
    ("_:", "de", "sil"),
    ("_!", "de", "sil"),
    ("_|", "fr", "sil"),
    ("(en)", "ja", "sil"),
    ("", "en", "sil"),
]


@pytest.mark.parametrize("label, language, viseme", ESPEAK_TABLE)
def test_espeak_mnemonics(label, language, viseme):
    assert espeak_viseme(label) == viseme


@pytest.mark.parametrize(
    "label, viseme",
    [
        ("'a", "aa"),
        (",u:", "ou"),
        ("%m", "PP"),  # stress marks in front
        ("a55", "aa"),
        ("i:11", "ih"),
        ("ei21", "E"),  # Mandarin tone digits behind
        ("011", "oh"),  # a digit that IS the vowel (ɒ) keeps its meaning
    ],
)
def test_espeak_marks_are_ignored(label, viseme):
    assert espeak_viseme(label) == viseme


@pytest.mark.parametrize(
    "label, viseme",
    [
        ("o~~", "oh"),
        ("e!", "E"),
        ("ZZ9", "CH"),  # unknown variants land on their base
        ("%%", "sil"),  # only marks: nothing to articulate
        ("Ix", "ih"),
        ("qq", "kk"),
        ("+", "DD"),
        ("V#", "aa"),
    ],
)
def test_unknown_mnemonics_fall_back_sensibly(label, viseme):
    assert espeak_viseme(label) == viseme


@pytest.mark.parametrize(
    "label, viseme",
    [
        ("P", "PP"),
        ("B", "PP"),
        ("M", "PP"),
        ("F", "FF"),
        ("V", "FF"),
        ("TH", "TH"),
        ("DH", "TH"),
        ("T", "DD"),
        ("D", "DD"),
        ("K", "kk"),
        ("NG", "kk"),
        ("CH", "CH"),
        ("ZH", "CH"),
        ("S", "SS"),
        ("N", "nn"),
        ("L", "nn"),
        ("R", "RR"),
        ("ER", "RR"),
        ("AA", "aa"),
        ("AY", "aa"),
        ("EH", "E"),
        ("IY", "ih"),
        ("Y", "ih"),
        ("AO", "oh"),
        ("OW", "oh"),
        ("UW", "ou"),
        ("W", "ou"),
        ("AH1", "aa"),
        ("SIL", "sil"),
        ("+NSN+", "sil"),
        ("+SPN+", "sil"),
        ("<sil>", "sil"),
    ],
)
def test_sphinx_phones(label, viseme):
    assert sphinx_viseme(label) == viseme


def test_tables_only_name_known_visemes():
    assert all_visemes_known()
    assert len(VISEMES) == 15 and VISEMES[0] == "sil"


PANGRAMS = {
    "en": "The quick brown fox jumps over the lazy dog. Water, butter, thought, cure, rhythm, "
    "choice, mouth, measure, singing.",
    "en-us": "Water, butter, little, button, forty, party, hurry, nurse, north, square.",
    "de": "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich. Pfeffer, Häuser, Mädchen, Lachen, euer.",
    "fr": "Portez ce vieux whisky au juge blond qui fume. Un bon vin blanc, huit, peur, lundi.",
    "es": "El veloz murciélago hindú comía feliz cardillo y kiwi. Llave, ñandú, perro, agua.",
    "cmn": "我们明天去北京买苹果和面包。你好，学生，吃饭，谢谢，女人，月亮。",
    "ja": "こんにちは。ありがとう。しんぶん、つくえ、きっぷ、ぎゅうにゅう、ひゃく、ふじさん。",
}


@pytest.mark.parametrize("language", sorted(PANGRAMS))
def test_real_espeak_output_needs_no_fallback(language, monkeypatch):
    """Every mnemonic espeak emits for these languages is in the table (by prefix)."""
    from heygem_core.phonetics import synthesize, visemes

    unknown: list[str] = []
    monkeypatch.setattr(visemes, "_fallback", lambda symbol: unknown.append(symbol) or "DD")
    synthesize(PANGRAMS[language], language)
    assert unknown == []
