"""Write heygem_core/models/en-us-phone-bigram.lm, the blind aligner's phone language model:
pocketsphinx's own en-us phone LM (shipped in its wheel) cut down to bigrams.

Why: at the aligner's low language weight the trigrams barely change the phones but took a
third of the decoder's time (see heygem_core/sphinx.PHONE_LM). Each bigram probability is
the one the shipped model gives (its own bigram, or its back-off to the unigram), asked
through pocketsphinx's ``NGramModel.prob``; all are written out, so none backs off. (Its
ARPA writer is not used: it wrote a different, wrong scale on every run here.) Run again
only if pocketsphinx's model changes:

    .venv/bin/python scripts/phone_bigram.py [--out FILE]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from heygem_core import sphinx  # noqa: E402
from heygem_core.phonetics.visemes import ARPABET_PHONES  # noqa: E402

START, END = "<s>", "</s>"
NEVER = -99.0  # log10 probability ARPA files give a word that never comes (<s> as a next word)


def bigram_arpa(log10_prob, phones: list[str], source: str) -> str:
    """ARPA text of the unigrams and every bigram of ``phones`` (plus sentence start and
    end), from ``log10_prob(word, history or None)``."""
    words = [END, START, *phones]
    unigrams = [f"{NEVER if w == START else log10_prob(w, None):.4f}\t{w}\t0.0000" for w in words]
    bigrams = [f"{log10_prob(w, h):.4f}\t{h} {w}" for h in [START, *phones] for w in [*phones, END]]
    return "\n".join(
        [
            f"pocketsphinx's en-us phone language model ({source}) cut down to bigrams, every one",
            "written out; made by heygem's scripts/phone_bigram.py.",
            "\\data\\",
            f"ngram 1={len(unigrams)}",
            f"ngram 2={len(bigrams)}",
            "",
            "\\1-grams:",
            *unigrams,
            "",
            "\\2-grams:",
            *bigrams,
            "",
            "\\end\\",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    import argparse

    from pocketsphinx import Config, LogMath, NGramModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(sphinx.BIGRAM_LM_FILE))
    out = parser.parse_args(argv).out

    logmath = LogMath(1.0001, 0, False)
    model = NGramModel(Config(), logmath, sphinx.phone_lm_path("trigram"))
    unknown = model.prob(["NOT-A-PHONE"])
    for phone in ARPABET_PHONES:
        if model.prob([phone]) == unknown:
            raise SystemExit(f"{phone} is not in pocketsphinx's phone LM")

    def log10_prob(word: str, history: str | None) -> float:
        # prob() takes the word first, then its history, most recent first.
        return logmath.log_to_log10(model.prob([word] if history is None else [word, history]))

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(bigram_arpa(log10_prob, ARPABET_PHONES, "en-us-phone.lm.bin"))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
