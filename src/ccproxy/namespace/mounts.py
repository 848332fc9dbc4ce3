"""mount(2) through libc: bind mounts and a tmpfs, for use inside the jail's own mount namespace only."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(value: str | None) -> bytes | None:
        return os.fsencode(value) if value is not None else None

    if _libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} on {target}: {os.strerror(errno)}")


def bind(source: str, target: str, readonly: bool = True) -> None:
    """Bind `source` over `target` (a file over a file, a directory over a directory)."""
    mount(source, target, None, MS_BIND | MS_REC)
    if readonly:
        # a read-only remount can be refused where the underlying mount carries locked flags
        with contextlib.suppress(OSError):
            mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def make_private(target: str = "/") -> None:
    """Stop mount events from propagating back to the host's namespace."""
    mount(None, target, None, MS_REC | MS_PRIVATE)


def tmpfs(target: str, mode: int = 0o700) -> None:
    mount("ccproxy", target, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode:o},size=1m")
