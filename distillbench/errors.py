"""One exception type for every failure a user can cause (bad input, missing files, unknown names).

The CLI prints these as a single `error: ...` line and exits 2; anything else is a bug and keeps its traceback.
"""


class DistillBenchError(Exception):
    """A failure with a message meant for the user: what was expected, what arrived, what to do."""
