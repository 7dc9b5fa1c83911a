"""Expected errors: bad input that a message can name (a file and row, a key, a path), printed as one line.

Every error class of the package that reports bad input derives from InputError; the command-line scripts
wrap their main() in one_line_errors, so such an error prints `<stage>: error: <message>` and exits 2 with no
traceback. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

# A missing or misplaced input file is named by the OS's own message ("No such file or directory: 'x'").
MISSING_FILE_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError)


class InputError(ValueError):
    """Bad input: the message names the file and row, the key or the path, and what is wrong with it."""


def one_line_errors(stage: str) -> Callable:
    """Return a decorator making main(argv) print an InputError as `<stage>: error: ...` and return 2."""

    def decorate(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(argv=None) -> int:
            try:
                return main(argv)
            except (InputError, *MISSING_FILE_ERRORS) as error:
                print(f"{stage}: error: {error}", file=sys.stderr)
                return 2

        return run

    return decorate
