"""A response body that is a byte range of an open file.

A stored page is a byte range of its archive and a cover is a file in the
cache: neither needs to pass through Python. ``comicsrv serve``'s handler
(``comicsrv.server``) recognises a :class:`FileBody` and sends it with
``os.sendfile``, so the kernel copies the bytes from the page cache to the
socket (one write with the headers when small); any other WSGI server
iterates it like any body, in blocks read with ``os.pread``.

The same server hands its ``wsgi.file_wrapper`` (:func:`file_wrapper`) to
applications, so Werkzeug's ``send_file`` (cached renders, downloads) takes
this path too.

No Flask and no database here: a leaf, like ``images``.
"""
from __future__ import annotations

import os
from typing import IO, Any

BLOCK_SIZE = 256 * 1024


class FileBody:
    """``length`` bytes of the file open as ``fd`` from ``offset``; owns the
    descriptor (or ``owner``, a file object whose ``close`` closes it) and
    closes it once the response is done with it."""

    def __init__(self, fd: int, offset: int, length: int, *, owner: IO[bytes] | None = None,
                 block_size: int = BLOCK_SIZE) -> None:
        self.fd = fd
        self.offset = offset
        self.length = length
        self.block_size = block_size
        self._owner = owner
        self._position = 0  # bytes handed out by iteration
        self._closed = False

    @classmethod
    def open(cls, path: str | os.PathLike, offset: int = 0, length: int | None = None) -> FileBody:
        """The range of the file at ``path`` (to its end when ``length`` is None)."""
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            if length is None:
                length = max(0, os.fstat(fd).st_size - offset)
            return cls(fd, offset, length)
        except BaseException:
            os.close(fd)
            raise

    def read_all(self) -> bytes:
        """The whole range as bytes; ``EOFError`` if the file is shorter."""
        data = os.pread(self.fd, self.length, self.offset)
        while len(data) < self.length:
            more = os.pread(self.fd, self.length - len(data), self.offset + len(data))
            if not more:
                raise EOFError(f"the file ended {self.length - len(data)} bytes early")
            data += more
        return data

    def head(self, count: int) -> bytes:
        """The first ``count`` bytes of the range (fewer if it is shorter)."""
        return os.pread(self.fd, min(count, self.length), self.offset)

    # -- the WSGI iterable ---------------------------------------------------------

    def __iter__(self) -> FileBody:
        return self

    def __next__(self) -> bytes:
        left = self.length - self._position
        if left <= 0 or self._closed:
            raise StopIteration
        data = os.pread(self.fd, min(self.block_size, left), self.offset + self._position)
        if not data:  # the file shrank: end the body short rather than loop
            raise StopIteration
        self._position += len(data)
        return data

    # Werkzeug's Range support seeks a seekable body instead of reading up to the start.
    def seekable(self) -> bool:
        return True

    def seek(self, position: int) -> None:
        self._position = max(0, min(position, self.length))

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._owner is not None:
            self._owner.close()
        else:
            os.close(self.fd)


def file_wrapper(filelike: Any, block_size: int = 8192) -> Any:
    """PEP 3333's ``wsgi.file_wrapper``: a real file becomes a
    :class:`FileBody` from its current position to its end; anything else
    is iterated in blocks."""
    try:
        fd = filelike.fileno()
        offset = filelike.tell()
        size = os.fstat(fd).st_size
    except (AttributeError, OSError, ValueError):
        from werkzeug.wsgi import FileWrapper

        return FileWrapper(filelike, block_size)
    return FileBody(fd, offset, max(0, size - offset), owner=filelike,
                    block_size=max(block_size, BLOCK_SIZE))
