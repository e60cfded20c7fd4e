"""The one exception type for bad user input.

Library code raises :class:`InputError` with a message that names the problem and the path; the CLI
turns it into one clear line and a non-zero exit (no traceback). Everything else is a bug and keeps its
traceback.
"""


class InputError(ValueError):
    """Bad user input: a missing path, an unknown format, labels that do not fit the protocol, ..."""
