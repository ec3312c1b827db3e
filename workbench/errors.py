"""Errors a user can fix. The CLI prints them as one line on stderr and exits 2."""


class WorkbenchError(Exception):
    """Bad input: a file, a key, a value or a run id. The message says what to do."""

    exit_code = 2
