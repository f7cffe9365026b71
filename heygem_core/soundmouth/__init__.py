"""The learned mouth from sound: a small network that hears speech (any voice, any language)
and predicts, for every video frame, how the mouth moves.

    features.py  per-clip normalised log-mel frames at 100 Hz (what the network hears)
    net.py       the network's forward pass in numpy, its weights file and its version
    data.py      training material: real talking heads (their own sound -> their own mouth,
                 their recording's offset taken out) and synthetic speech with exact phone
                 timings, augmented
    train.py     the torch model and its training loop (torch only here, never at run time)
    predict.py   audio -> MouthPrediction -> MouthPlan
    corpus.py    the real clips of ../shared/corpus: speaker, group, fold
    adapt.py     a head fitted on one lecturer's own sound -> own mouth, used where it helps

Inference needs numpy only: a worker never imports torch (its import alone costs more than
the network's whole run on a lecture).
"""
