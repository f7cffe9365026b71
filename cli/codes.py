"""The exit codes of every ``heygem`` command, in one place."""

EXIT_OK = 0
EXIT_FAILURE = 1  # the job failed, or a run finished with some rows failed (the others are done)
EXIT_INPUT = 2  # bad input or settings: nothing was done
EXIT_FLAGGED = 3  # lipsync --strict: made, but flagged by QA (the file is kept)
