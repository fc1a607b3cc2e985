"""Why the server could not start, said in one line an operator can act on (no traceback).

:class:`StartupError` is what :meth:`Server.start` raises for the faults of the machine around it (a port
in use, the journal locked by another process, a database that does not answer, a directory that cannot be
written); ``voxcenter run`` logs its message once and exits 1. Bugs still raise with their traceback.
"""

from __future__ import annotations

import errno
import os


class StartupError(Exception):
    """The server cannot start; the message says what and where, in one line."""


def os_reason(error: OSError) -> str:
    """``address already in use``, ``permission denied``…: the system's words for ``error``, in lower case."""
    code = error.errno
    if code is None:
        # uvloop raises a bare OSError("could not bind to local_addr ...") for a port in use.
        text = str(error)
        return "address already in use" if "could not bind" in text else text.splitlines()[0] if text else "error"
    return os.strerror(code).lower() if code in errno.errorcode else str(error)


def database_reason(error: BaseException) -> str:
    """The first line of what the driver said (SQLAlchemy wraps it in a 3 KB message with the SQL)."""
    inner: BaseException = getattr(error, "orig", None) or error
    if isinstance(inner, OSError) and inner.errno is not None:
        return os_reason(inner)
    text = str(inner).strip() or type(inner).__name__
    return text.splitlines()[0]
