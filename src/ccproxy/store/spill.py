"""The durable hand-off from the proxy to the writer process: an append-only journal of captures.

Why every capture goes to disk, not only the overflow: a daemon that dies (kill -9, OOM, its whole
process group) while the writer is behind would lose whatever waited in its memory, and those are
flows whose clients were answered. An append to the page cache costs microseconds and survives the
death of every process; only the host going down loses it. Captures the writer is ready for are also
kept in memory (no re-read); beyond the in-memory bound they wait only here and are read back as the
writer catches up.

Segments `<store>.spill.<n>` (mode 0600) sit next to the store. A segment holds either captures also
handed over in memory ("taken" at append) or captures left for the reader, never both, so reading
never returns a frame twice. A segment is emptied or deleted once every frame in it is stored; after
a crash every segment is replayed in full, and a flow stored twice is harmless (the store replaces a
flow by id).

Frames carry a format version (`MAGIC`, version, length, payload): a reader refuses a frame of a
format it does not know rather than unpickle it blindly. Segments written before versions existed
(a bare length and a pickle) are read as format 0. A frame cut short by a crash, or a damaged header,
ends what is readable in its segment: what came before is recovered, the rest is counted as lost.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections import deque
from pathlib import Path
from typing import BinaryIO

MAGIC = b"CCJ"
FORMAT = 1  # payload: a pickled `Captured` or `FlowRecord`
HEADER = struct.Struct(">3sBI")  # magic, format, payload length
LEGACY = struct.Struct(">I")  # format 0: payload length only
MAX_FRAME = 1 << 31  # a length beyond this is a damaged header, not a capture
ROTATE_BYTES = 8 << 20  # a segment of taken frames is sealed at this size, then deleted once stored


def pack(payload: bytes, version: int = FORMAT) -> bytes:
    return HEADER.pack(MAGIC, version, len(payload)) + payload


def read_frame(fh: BinaryIO, legacy: bool) -> tuple[bytes, int] | None:
    """The next whole frame (re-packed in the current header) and its size on disk; None at the end of
    what is readable (end of file, a frame cut short, a damaged header)."""
    head_struct = LEGACY if legacy else HEADER
    head = fh.read(head_struct.size)
    if len(head) < head_struct.size:
        return None
    if legacy:
        version, (length,) = 0, LEGACY.unpack(head)
    else:
        magic, version, length = HEADER.unpack(head)
        if magic != MAGIC:
            return None
    if length >= MAX_FRAME:
        return None
    data = fh.read(length)
    if len(data) < length:
        return None
    return pack(data, version), head_struct.size + length


def is_legacy(fh: BinaryIO) -> bool:
    """A segment an earlier ccproxy wrote (frames without a magic); the file position is kept."""
    pos = fh.tell()
    fh.seek(0)
    start = fh.read(len(MAGIC))
    fh.seek(pos)
    return bool(start) and start != MAGIC


class Spill:
    """The journal. Not thread-safe: the writer calls it with its lock held."""

    def __init__(self, store_path: Path) -> None:
        self.dir = store_path.parent
        self.prefix = store_path.name + ".spill."
        found = sorted(int(p.name[len(self.prefix):]) for p in self.dir.glob(self.prefix + "*")
                       if p.name[len(self.prefix):].isdigit())
        self.segments: deque[int] = deque()  # segments with frames left for the reader, oldest first
        self.next_no = (found[-1] + 1) if found else 1
        self.truncated = 0  # frames cut short or damaged (lost; counted by the writer)
        self.unread = 0  # whole frames left for the reader
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
        self.write_size = 0
        self.write_taken = False  # the open segment holds taken frames (not for the reader)
        self.read_no: int | None = None
        self.read_fh: BinaryIO | None = None
        self.read_legacy = False
        self.outstanding: dict[int, int] = {}  # segment -> frames taken but not yet stored
        self.finished: set[int] = set()  # segments with nothing left to read

    def path(self, no: int) -> Path:
        return self.dir / f"{self.prefix}{no:06d}"

    def _count(self, no: int) -> int:
        """Whole frames in a segment left by an earlier run; what follows the last readable one is cut
        off (and counted in `truncated`), so the segment can be read and appended to safely."""
        count = pos = 0
        try:
            with open(self.path(no), "r+b") as fh:
                size = os.fstat(fh.fileno()).st_size
                legacy = is_legacy(fh)
                while (got := read_frame(fh, legacy)) is not None:
                    pos += got[1]
                    count += 1
                if pos < size:
                    self.truncated += 1
                    fh.truncate(pos)
        except OSError:
            return count
        return count

    @property
    def pending(self) -> int:
        """Frames on disk that are not stored yet: unread, or taken and in flight."""
        return self.unread + sum(self.outstanding.values())

    def append(self, frame: bytes, taken: bool = False) -> int:
        """Append a frame, either `taken` (the caller hands it over itself and calls `done`) or left for
        `take`; returns its segment. Raises OSError (ENOSPC, EIO, ...) with the segment unchanged."""
        if self.write_fd is not None and (taken != self.write_taken or self.write_size >= ROTATE_BYTES):
            self._seal()
        if self.write_fd is None:
            no = self.next_no
            self.next_no += 1
            self.write_fd = os.open(self.path(no), os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_APPEND, 0o600)
            self.write_no, self.write_taken, self.write_size = no, taken, 0
            if not taken:
                self.segments.append(no)
        assert self.write_no is not None
        start = self.write_size
        try:
            view = memoryview(frame)
            while view:
                view = view[os.write(self.write_fd, view):]
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self.write_fd, start)  # no half frame for the reader
            raise
        self.write_size += len(frame)
        if taken:
            self.outstanding[self.write_no] = self.outstanding.get(self.write_no, 0) + 1
        else:
            self.unread += 1
        return self.write_no

    def _seal(self) -> None:
        if self.write_fd is None or self.write_no is None:
            return
        os.close(self.write_fd)
        no, taken = self.write_no, self.write_taken
        self.write_fd = self.write_no = None
        self.write_size = 0
        if taken:
            self.finished.add(no)
            self._drop_if_done(no)

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
                self.read_no, self.read_legacy = no, is_legacy(self.read_fh)
            assert self.read_no is not None
            got = read_frame(self.read_fh, self.read_legacy)
            if got is None:
                if self.read_fh.tell() < os.fstat(self.read_fh.fileno()).st_size:
                    self.truncated += 1
                self._finish_segment()
                continue
            no = self.read_no
            self.unread -= 1
            self.outstanding[no] = self.outstanding.get(no, 0) + 1
            if self.read_fh.tell() >= os.fstat(self.read_fh.fileno()).st_size:
                self._finish_segment()
            return no, got[0]
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
        """A frame of segment `no` is stored."""
        left = self.outstanding.get(no, 0) - 1
        if left > 0:
            self.outstanding[no] = left
            return
        self.outstanding.pop(no, None)
        if no == self.write_no and self.write_taken and self.write_fd is not None:
            # Everything handed over is stored: empty the open segment instead of a new file per burst.
            with contextlib.suppress(OSError):
                os.ftruncate(self.write_fd, 0)
                self.write_size = 0
            return
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
