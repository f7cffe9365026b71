"""Synthetic training speech and sound augmentation for the learned mouth: espeak-ng pseudo-words
in many languages and Festival's voices, whose phone timings are exact (their targets are the
mouth plan those phones give, plan.build_plan), and what a real recording adds to a voice (room,
band, noise, gain), for synthetic speech and for copies of real clips alike. The ``Utterance``
they make, and the real clips, are ``data``'s.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from .. import audio as audio_mod
from ..phonetics.types import VISEMES
from . import features
from .data import Utterance

log = logging.getLogger(__name__)

# Languages espeak-ng speaks well, and letters to make pseudo-words of in each: the words need
# not mean anything, only sound like the language (its phones, its rhythm).
_LETTERS = {
    "en": ("b p m f v t d s z k g n l r w h th sh ch j y", "a e i o u ee oo ay ow ai"),
    "de": ("b p m f w t d s z k g n l r h sch ch pf ts", "a e i o u ä ö ü ei au eu ie"),
    "fr": ("b p m f v t d s z k g n l r ch j gn", "a e i o u é è ou oi an on in eu"),
    "es": ("b p m f t d s k g n l r rr ch ll j ñ", "a e i o u ia ue ie"),
    "it": ("b p m f v t d s z k g n l r c gl gn", "a e i o u ia io ie"),
    "pt": ("b p m f v t d s z k g n l r ch lh nh j", "a e i o u ão ei ou"),
    "nl": ("b p m f v t d s z k g n l r w h ch sch", "a e i o u aa ee oo ui ij"),
    "pl": ("b p m f w t d s z k g n l r ch sz cz rz", "a e i o u y ą ę ó"),
    "ru": ("б п м ф в т д с з к г н л р ш ж ч", "а е и о у ы я ю"),
    "cmn": ("b p m f d t n l g k h j q x zh ch sh r z c s", "a o e i u ü ai ei ao ou an en ang"),
    "ja": (
        "か き く け こ さ し す せ そ た ち つ て と な に ぬ ね の は ひ ふ へ ほ ま み む め も ば ぱ ら り る れ ろ",
        "あ い う え お",
    ),
    "hi": ("क ख ग प फ ब भ म त द न र ल स ह", "ा ि ी ु ू े ो"),
}
_VOICE_VARIANTS = (None, "m1", "m2", "m3", "m4", "f1", "f2", "f3", "f4", "klatt")


def pseudo_text(language: str, rng: np.random.Generator, words: int) -> str:
    consonants, vowels = (s.split() for s in _LETTERS[language])
    if language in ("ja", "hi"):  # syllabic scripts: a consonant sign is a syllable already
        return " ".join("".join(rng.choice(consonants, rng.integers(1, 4))) for _ in range(words))
    out = []
    for _ in range(words):
        syl = int(rng.integers(1, 4))
        word = "".join(
            str(rng.choice(consonants)) * int(rng.random() < 0.85)
            + str(rng.choice(vowels))
            + (str(rng.choice(consonants)) if rng.random() < 0.3 else "")
            for _ in range(syl)
        )
        out.append(word)
    # punctuation makes espeak pause, as a speaker does between phrases
    for k in range(len(out) - 1):
        if rng.random() < 0.12:
            out[k] += "," if rng.random() < 0.6 else "."
    return " ".join(out)


def synthetic_utterance(seed: int, augment: bool = True) -> Utterance:
    """One espeak utterance (language, voice, rate and pitch drawn from ``seed``) with
    targets from its own phone timings, and its audio augmented."""
    from ..phonetics import synthesize

    rng = np.random.default_rng(seed)
    language = str(rng.choice(sorted(_LETTERS)))
    text = pseudo_text(language, rng, int(rng.integers(6, 16)))
    variant = _VOICE_VARIANTS[int(rng.integers(len(_VOICE_VARIANTS)))]
    pcm, sr, phones = synthesize(
        text, language, voice_variant=variant, rate=int(rng.integers(120, 230)), pitch=int(rng.integers(20, 85))
    )
    return _from_phones(f"synth-{seed}", f"espeak-{language}-{variant}", pcm, sr, phones, rng, augment, language)


def augment_audio(pcm: np.ndarray, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Room, band limits, noise and gain, each drawn at random: what a real recording adds."""
    from scipy.signal import butter, fftconvolve, sosfilt

    out = pcm.astype(np.float64)
    if rng.random() < 0.6:  # a room: decaying noise as its impulse response
        rt = rng.uniform(0.1, 0.6)
        t = np.arange(int(sr * rt)) / sr
        ir = rng.normal(0, 1, len(t)) * np.exp(-6.9 * t / rt)
        ir[0] = 1.0 / rng.uniform(0.05, 0.4)
        out = fftconvolve(out, ir)[: len(out)]
    if rng.random() < 0.5:  # a telephone-ish or cheap-microphone band
        lo, hi = rng.uniform(60, 400), rng.uniform(3000, min(7600, sr / 2 - 100))
        out = sosfilt(butter(4, [lo, hi], btype="band", fs=sr, output="sos"), out)
    peak = np.max(np.abs(out)) + 1e-9
    out = out / peak * rng.uniform(0.1, 0.9)
    if rng.random() < 0.8:  # noise from -10 to -45 dB under the speech
        rms = np.sqrt(np.mean(out**2)) + 1e-9
        noise = rng.normal(0, 1, len(out))
        if rng.random() < 0.5:  # brown-ish hum rather than hiss
            noise = np.cumsum(noise)
            noise -= np.convolve(noise, np.ones(400) / 400, mode="same")
        noise *= rms * 10 ** (-rng.uniform(10, 45) / 20) / (np.sqrt(np.mean(noise**2)) + 1e-9)
        out = out + noise
    return np.clip(out, -1, 1).astype(np.float32)


def augmented(utt: Utterance, path: Path, copies: int, seed: int) -> list[Utterance]:
    """``copies`` of a real clip with its sound augmented (same mouth targets)."""
    clip = audio_mod.load_audio(path, sr=16000)
    out = []
    for k in range(copies):
        rng = np.random.default_rng([seed, k, int(hashlib.sha256(utt.name.encode()).hexdigest()[:8], 16)])
        feats = features.clip_features(augment_audio(clip.pcm, clip.sr, rng), clip.sr)[: len(utt)]
        out.append(
            Utterance(
                name=f"{utt.name}~{k}",
                speaker=utt.speaker,
                kind="real",
                feats=feats,
                opening=utt.opening,
                width=utt.width,
                closed=utt.closed,
                viseme=utt.viseme,
            )
        )
    return out


# --------------------------------------------------------------------------- Festival voices

# Festival's diphone and HTS voices sound more like a recorded person than espeak's formant
# synthesis; their segment timings are exact too. English phones are Festival's radio set
# (ARPAbet in lower case); the other languages' voices use SAMPA-like symbols, read like
# espeak's. Each voice: (language, the text encoding its front end reads). Debian packages:
# festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts; for the other languages
# (``--festival-languages``) festvox-italp16k festvox-itapc16k festvox-czech-dita
# festvox-czech-machac festvox-suopuhe-lj festvox-suopuhe-mv festvox-ru festvox-ca-ona-hts.
FESTIVAL_VOICES = {
    "kal_diphone": ("en", "ascii"),
    "ked_diphone": ("en", "ascii"),
    "cmu_us_slt_arctic_hts": ("en", "ascii"),
    "lp_diphone": ("it", "latin-1"),
    "pc_diphone": ("it", "latin-1"),
    "czech_dita": ("cs", "iso-8859-2"),
    "czech_machac": ("cs", "iso-8859-2"),
    "suo_fi_lj_diphone": ("fi", "latin-1"),
    "hy_fi_mv_diphone": ("fi", "latin-1"),
    "msu_ru_nsh_clunits": ("ru", "utf-8"),
    "upc_ca_ona_hts": ("ca", "latin-1"),
}
# With other languages' voices, this share of Festival utterances stays English.
FESTIVAL_ENGLISH_SHARE = 0.5
_FESTIVAL_PAUSES = {"pau", "h#", "brth", "#", "_"}
_FESTIVAL_LETTERS = {
    "cs": ("b p m f v t d s z k g n l r h ch š ž č ř j c", "a e i o u á é í ú ů y ě"),
    "fi": ("b p m v t d s k g n l r h j ng nn kk tt pp ss", "a e i o u y ä ö aa ii uu ää"),
    "ca": ("b p m f v t d s z k g n l r rr ny ll x tx j", "a e i o u ia ui"),
}
_ENGLISH_WORDS = (
    "bin blue at by in with lay place set green red white now please again soon "
    "one two three four five six seven eight nine zero a b c d e f g h i j k l m n o p q r s t u v "
    "x y z the course lecture today we will look at how this works and why it matters mouth "
    "model people problem simple example maybe about between before after because measure "
    "number power paper map mom baby bubble open apple father water morning evening"
).split()


def festival_voices(languages: tuple[str, ...] = ("en",)) -> list[str]:
    """The Festival voices installed here for ``languages`` (none when Festival is missing)."""
    import shutil

    if shutil.which("festival") is None:
        return []
    root = Path("/usr/share/festival/voices")
    return [v for v, (lang, _) in FESTIVAL_VOICES.items() if lang in languages and any(root.glob(f"*/{v}"))]


def _festival_text(language: str, rng: np.random.Generator) -> str:
    if language == "en":
        return _english_text(rng)
    if language in _FESTIVAL_LETTERS:
        consonants, vowels = (s.split() for s in _FESTIVAL_LETTERS[language])
        words = []
        for _ in range(int(rng.integers(6, 15))):
            syl = int(rng.integers(1, 4))
            words.append(
                "".join(
                    str(rng.choice(consonants)) * int(rng.random() < 0.85) + str(rng.choice(vowels)) for _ in range(syl)
                )
            )
            if rng.random() < 0.1:
                words[-1] += ","
        return " ".join(words) + "."
    return pseudo_text(language, rng, int(rng.integers(6, 15))) + "."


def festival_viseme(label: str, language: str) -> str:
    from ..phonetics.visemes import espeak_viseme, sphinx_viseme

    if label in _FESTIVAL_PAUSES:
        return "sil"
    if language == "en":
        return sphinx_viseme(label)
    if label.rstrip("0123456789") in {"ax", "@"}:  # schwa (Catalan, Russian reduced vowels)
        return "E"
    return espeak_viseme(label)


def _english_text(rng: np.random.Generator) -> str:
    words = []
    for _ in range(int(rng.integers(6, 15))):
        words.append(str(rng.choice(_ENGLISH_WORDS)) if rng.random() < 0.7 else pseudo_text("en", rng, 1))
        if rng.random() < 0.1:
            words[-1] += ","
    return " ".join(words) + "."


def festival_utterances(
    seeds: list[int], workdir: Path, augment: bool = True, languages: tuple[str, ...] = ("en",)
) -> list[Utterance]:
    """One Festival utterance per seed (voice, text, tempo drawn from it), synthesized in one
    Festival process, with targets from its own segment timings."""
    import subprocess

    from ..phonetics.types import Phone

    voices = festival_voices(languages)
    english = [v for v in voices if FESTIVAL_VOICES[v][0] == "en"]
    others = [v for v in voices if FESTIVAL_VOICES[v][0] != "en"]
    if not voices:
        return []
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    lines, plans, encodings = [], [], []
    for seed in seeds:
        rng = np.random.default_rng([7, seed])
        # English only: no draw here, so the English material is what it always was
        pool = english if (not others or (english and rng.random() < FESTIVAL_ENGLISH_SHARE)) else others
        voice = pool[int(rng.integers(len(pool)))]
        language, encoding = FESTIVAL_VOICES[voice]
        text = _festival_text(language, rng).replace('"', "")
        stretch = float(rng.uniform(0.85, 1.25))
        stem = workdir / f"f{seed}"
        # a text some voice's front end cannot say fails alone (unwind-protect), not the batch
        lines.append(
            f"(unwind-protect (begin (voice_{voice})(Parameter.set 'Duration_Stretch {stretch:.3f})"
            f'(set! utt (Utterance Text "{text}"))(utt.synth utt)'
            f'(utt.save.wave utt "{stem}.wav" \'riff)(utt.save.segs utt "{stem}.segs")) nil)'
        )
        plans.append((seed, voice, stem, rng))
        encodings.append(encoding)
    script = workdir / "batch.scm"
    # each voice's front end reads its own encoding, so the lines are encoded one by one
    script.write_bytes(b"".join((ln + "\n").encode(enc, errors="replace") for ln, enc in zip(lines, encodings)))
    subprocess.run(["festival", "-b", str(script)], capture_output=True, timeout=3600)
    out = []
    for seed, voice, stem, rng in plans:
        language = FESTIVAL_VOICES[voice][0]
        try:
            clip = audio_mod.load_audio(f"{stem}.wav", 16000)
            segs = [
                ln.split() for ln in Path(f"{stem}.segs").read_text(errors="replace").splitlines()[1:] if ln.strip()
            ]
        except Exception as err:  # noqa: BLE001 - one failed utterance is skipped, not fatal
            log.warning("festival utterance %s skipped: %s", stem, err)
            continue
        phones, start = [], 0.0
        for stop, _, label in segs:
            end = float(stop)
            phones.append(Phone(start, end, label, festival_viseme(label, language)))
            start = end
        out.append(
            _from_phones(
                f"festival-{seed}", f"festival-{voice}", clip.pcm, clip.sr, phones, rng, augment, language=language
            )
        )
    return out


def _from_phones(
    name: str,
    speaker: str,
    pcm: np.ndarray,
    sr: int,
    phones: list,
    rng: np.random.Generator,
    augment: bool,
    language: str,
) -> Utterance:
    """An utterance from speech and its exact phones: silence around it, tempo and room
    augmentation, and the phone plan as targets."""
    from ..phonetics.features import energy_db
    from ..plan import build_plan

    lead = np.zeros(int(sr * rng.uniform(0.1, 0.5)), np.float32)
    tail = np.zeros(int(sr * rng.uniform(0.1, 0.5)), np.float32)
    shift = len(lead) / sr
    pcm = np.concatenate([lead, pcm.astype(np.float32), tail])
    tempo = float(rng.uniform(0.85, 1.2)) if augment else 1.0
    if tempo != 1.0:  # speed change (pitch moves with it, as a faster or slower voice)
        n = int(len(pcm) / tempo)
        pcm = np.interp(np.arange(n) * tempo, np.arange(len(pcm)), pcm).astype(np.float32)
    phones = [type(p)((p.start + shift) / tempo, (p.end + shift) / tempo, p.label, p.viseme) for p in phones]
    if augment:
        pcm = augment_audio(pcm, sr, rng)
    feats = features.clip_features(pcm, sr)
    loud = energy_db(features.resample(pcm, sr), 16000)[: len(feats)]
    plan = build_plan(phones, loud, features.RATE)
    vis_index = {v: k for k, v in enumerate(VISEMES)}
    return Utterance(
        name=name,
        speaker=speaker,
        kind="synthetic",
        feats=feats,
        opening=plan.opening.astype(np.float64),
        width=plan.width.astype(np.float64),
        closed=plan.closed.astype(np.float64),
        viseme=np.array([vis_index.get(v, 0) for v in plan.viseme], np.int64),
        extra={"language": language},
    )
