"""Where the shared real media lives: ``../shared/fixtures`` beside the checkout."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = (REPO.parent / "shared" / "fixtures").resolve()
VIDEOS = {name: FIXTURES / "video" / f"{name}.mp4" for name in ("katie_8s", "chaplin_7s", "sun_silent_22s")}
LANGUAGE_AUDIO = {
    lang: FIXTURES / "audio" / f"{stem}.wav"
    for lang, stem in (("en", "en_radio_8s"), ("zh", "zh_news_8s"), ("de", "de_9s"), ("fr", "fr_7s"), ("ja", "ja_9s"))
}
LECTURE_60S = FIXTURES / "audio" / "en_lecture_60s.wav"
CORPUS = FIXTURES.parent / "corpus" / "video"  # real clips with their own sound (its README)
