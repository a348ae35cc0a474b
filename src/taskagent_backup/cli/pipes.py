"""Quiet exit when the reader of a command's output goes away.

``taskagent-backup list | head`` closes the pipe while the command still
writes.  Python ignores SIGPIPE, so the next write or the final flush
raises ``BrokenPipeError``, and without handling the user sees a traceback
or "Exception ignored ... BrokenPipeError" at exit.  Command-line tools
such as ``cat`` stop quietly instead, and so do these commands.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
from collections.abc import Callable

# Exit status of a process killed by SIGPIPE (128 + 13) as a shell reports
# it, for example for `cat` in the same pipeline.  The Python documentation's
# recipe exits with 1 instead, which would look like a failed backup check.
EXIT_BROKEN_PIPE = 141

Handler = Callable[[argparse.Namespace], int]


def quiet_on_broken_pipe(handler: Handler) -> Handler:
    """Wrap a subcommand handler so a closed stdout ends it quietly.

    The wrapper flushes stdout before returning, so a pipe closed before
    the buffered output is written is caught here too.  It then points
    stdout at ``/dev/null``, where the interpreter's own flush at exit
    writes the rest, and returns ``EXIT_BROKEN_PIPE``.  Other errors pass
    through unchanged.
    """

    @functools.wraps(handler)
    def run(arguments: argparse.Namespace) -> int:
        try:
            exit_code = handler(arguments)
            sys.stdout.flush()
        except BrokenPipeError:
            _discard_stdout()
            return EXIT_BROKEN_PIPE

        return exit_code

    return run


def _discard_stdout() -> None:
    # Recipe from the Python documentation of the signal module ("Note on
    # SIGPIPE"): replace the stdout descriptor rather than close it.
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        # A replaced sys.stdout (a test's capture buffer) has no descriptor.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
