"""Owner identities for database lease rows, and telling whether an owner is alive."""

from __future__ import annotations

import os
import secrets
import socket

__all__ = ["new_owner", "owner_is_alive"]

_SEP = "|"


def new_owner() -> str:
    """A fresh lease owner: ``"<host>|<pid>|<random>"``, unique per lease."""
    return _SEP.join((socket.gethostname(), str(os.getpid()), secrets.token_hex(8)))


def owner_is_alive(owner: str) -> bool:
    """False only when ``owner`` was a process on this host that no longer exists.

    Owners on other hosts, malformed owners, and processes we cannot probe count as
    alive; their leases end by expiry instead.
    """
    host, _, rest = owner.partition(_SEP)
    pid_text, _, _ = rest.partition(_SEP)
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill(pid, 0) would not be a probe there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, under another user
        return True
    return True
