"""heygem's core: media, audio, tracking, lip-sync engines, blending, storage, intake.

The thread pools of OpenBLAS and OpenCV are held to one thread before either library loads.
Our matrix products and image operations are small (a mouth box, a 1500 x 200 cost table),
so their pools' workers mostly spin-wait between calls, on the cores the x264 encoder and the
phone recogniser need: a composite cost 3.0 ms of CPU per frame with OpenCV's default pool
and 1.6 ms with one thread. Parallelism here comes from processes (ffmpeg, the phone
decoding helpers) and from jobs. An explicit setting in the environment is kept.
"""

import os as _os

for _name in ("OPENBLAS_NUM_THREADS", "OPENCV_FOR_THREADS_NUM"):
    _os.environ.setdefault(_name, "1")
