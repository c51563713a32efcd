"""The `python -I -S` command line that starts the shim, its zygote and the manager's spawner.

`-I -S` skips site and the console scripts (an editable install's finder
among them): ~60 ms less per start, and no re-exec into a lean interpreter
later. The programs it starts are stdlib only; the boot code puts the folder
that holds shim/ and manager/ first on sys.path instead.
"""

import os
import sys

PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def boot_code(module, function, parent=PARENT):
    """Return the -c code that puts PARENT first on sys.path and exits with MODULE.FUNCTION()."""
    return (f"import sys; sys.path[:0] = [{parent!r}]; "
            f"from {module} import {function}; sys.exit({function}())")


def boot_command(module, function, parent=PARENT):
    """Return the argv prefix that runs MODULE.FUNCTION(): our interpreter, -I -S."""
    return [sys.executable, "-I", "-S", "-c", boot_code(module, function, parent)]
