def align_blind(pcm, sr):
    raise NotImplementedError
