"""Overflow of the flow writer's queue: captures the writer is not ready for wait on disk, not in memory.

Why a file rather than a longer queue or dropping: under sustained load (hundreds of agent requests
a second with bodies of hundreds of KB) the writer process falls behind for minutes; an in-memory
queue would grow the daemon's RSS by gigabytes, and dropping loses flows. The disk has room for the
backlog and is as durable as the store: a daemon that dies leaves its spill for the next start.

Segments `<store>.spill.<n>` (mode 0600) sit next to the store. Frames (the writer's length-prefixed
pickles) are appended to the newest segment and read from the oldest; before a segment is read it
stops taking appends, so reading never races writing. A segment is deleted once every frame read
from it is acknowledged as stored. After a crash a segment may be replayed in full, and a flow
stored twice is harmless: the store replaces a flow by id.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from pathlib import Path
from typing import BinaryIO

from ccproxy.store.writerproc import HEADER


class Spill:
    """Not thread-safe: the writer calls it with its lock held."""

    def __init__(self, store_path: Path) -> None:
        self.dir = store_path.parent
        self.prefix = store_path.name + ".spill."
        found = sorted(int(p.name[len(self.prefix):]) for p in self.dir.glob(self.prefix + "*")
                       if p.name[len(self.prefix):].isdigit())
        self.segments: deque[int] = deque()  # not yet read to the end, oldest first
        self.next_no = (found[-1] + 1) if found else 1
        self.truncated = 0  # frames cut short by a crash mid-append (lost; counted by the writer)
        self.unread = 0  # whole frames not yet taken
        for no in found:
            if count := self._count(no):
                self.segments.append(no)
                self.unread += count
            else:
                with contextlib.suppress(OSError):
                    self.path(no).unlink()
        self.recovered = self.unread  # frames an earlier run left behind
        self.write_no: int | None = None
        self.write_fd: int | None = None
        self.read_no: int | None = None
        self.read_fh: BinaryIO | None = None
        self.outstanding: dict[int, int] = {}  # segment -> frames taken but not yet acknowledged
        self.finished: set[int] = set()  # segments read to the end

    def path(self, no: int) -> Path:
        return self.dir / f"{self.prefix}{no:06d}"

    def _count(self, no: int) -> int:
        """Whole frames in a segment left by an earlier run; a frame cut short by a crash is cut off."""
        count = pos = 0
        try:
            with open(self.path(no), "r+b") as fh:
                size = os.fstat(fh.fileno()).st_size
                while pos + HEADER.size <= size:
                    fh.seek(pos)
                    (length,) = HEADER.unpack(fh.read(HEADER.size))
                    if pos + HEADER.size + length > size:
                        break
                    pos += HEADER.size + length
                    count += 1
                if pos < size:
                    self.truncated += 1
                    fh.truncate(pos)
        except OSError:
            return count
        return count

    @property
    def pending(self) -> int:
        """Frames on disk that are not stored yet: unread, or read and in flight."""
        return self.unread + sum(self.outstanding.values())

    def append(self, frame: bytes) -> None:
        """Raises OSError (ENOSPC, EIO, ...) with the segment unchanged."""
        if self.write_fd is None:
            no = self.next_no
            self.next_no += 1
            self.write_fd = os.open(self.path(no), os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_APPEND, 0o600)
            self.write_no = no
            self.segments.append(no)
        start = os.lseek(self.write_fd, 0, os.SEEK_END)
        try:
            view = memoryview(frame)
            while view:
                view = view[os.write(self.write_fd, view):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self.write_fd, start)  # no half frame for the reader
            raise
        self.unread += 1

    def _seal(self) -> None:
        if self.write_fd is not None:
            os.close(self.write_fd)
            self.write_fd = self.write_no = None

    def take(self) -> tuple[int, bytes] | None:
        """The oldest unread frame and its segment (for `done`), or None."""
        while self.unread > 0 and self.segments:
            if self.read_fh is None:
                no = self.segments[0]
                if no == self.write_no:
                    self._seal()  # appends go to a new segment from now on
                try:
                    self.read_fh = open(self.path(no), "rb")  # noqa: SIM115 - kept open across calls
                except FileNotFoundError:
                    self.segments.popleft()
                    continue
                self.read_no = no
            assert self.read_no is not None
            head = self.read_fh.read(HEADER.size)
            data = self.read_fh.read(HEADER.unpack(head)[0]) if len(head) == HEADER.size else b""
            if len(head) < HEADER.size or len(data) < HEADER.unpack(head)[0]:
                if head:
                    self.truncated += 1
                self._finish_segment()
                continue
            no = self.read_no
            self.unread -= 1
            self.outstanding[no] = self.outstanding.get(no, 0) + 1
            if self.read_fh.tell() >= os.fstat(self.read_fh.fileno()).st_size:
                self._finish_segment()
            return no, HEADER.pack(len(data)) + data
        return None

    def _finish_segment(self) -> None:
        assert self.read_fh is not None and self.read_no is not None
        self.read_fh.close()
        no = self.read_no
        self.read_fh = self.read_no = None
        if self.segments and self.segments[0] == no:
            self.segments.popleft()
        self.finished.add(no)
        if not self.segments:
            self.unread = 0  # whatever was counted but not found (a crash cut it short) is gone
        self._drop_if_done(no)

    def done(self, no: int) -> None:
        """A frame taken from segment `no` is stored."""
        left = self.outstanding.get(no, 0) - 1
        if left > 0:
            self.outstanding[no] = left
        else:
            self.outstanding.pop(no, None)
            self._drop_if_done(no)

    def _drop_if_done(self, no: int) -> None:
        if no in self.finished and not self.outstanding.get(no):
            self.finished.discard(no)
            with contextlib.suppress(FileNotFoundError):
                self.path(no).unlink()

    def close(self) -> None:
        """Segments with frames not yet stored stay on disk for the next start."""
        self._seal()
        if self.read_fh is not None:
            self.read_fh.close()
            self.read_fh = self.read_no = None
