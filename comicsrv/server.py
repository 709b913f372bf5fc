"""Running the gevent WSGI server with clean start and stop.

gevent's ``pywsgi`` is used with three changes, all about its sockets:

- ``TCP_NODELAY`` on every accepted socket, and the status line and headers
  sent in one write with a small body. pywsgi writes headers and body
  separately; with Nagle's algorithm on, the second write waits for the
  client's delayed ACK, which adds ~40 ms to every small response on a
  kept-alive connection (every cover of a grid, every JSON list).
- Timeouts on reading requests. A connection that sends nothing is closed
  after ``HEADER_TIMEOUT_SECONDS`` (``KEEPALIVE_TIMEOUT_SECONDS`` between two
  requests), and once a request starts its whole head must arrive within
  ``HEADER_TIMEOUT_SECONDS`` or it is answered 408 and closed, so a slowloris
  dribbling a byte at a time cannot pin a socket. Responses have no timeout:
  a reader on a slow link downloading a big page, or an event stream that
  lasts for hours, is never cut off.
- At most ``MAX_CONNECTIONS`` connections at once: past that the server stops
  accepting until one ends, so a flood of idle connections runs into the
  timeouts above rather than into the file-descriptor limit.
- A body that is a range of a file (``comicsrv.filebody.FileBody``: stored
  pages, covers, anything ``send_file`` sends through ``wsgi.file_wrapper``)
  goes out with ``os.sendfile``: the kernel copies it from the page cache
  to the socket, and the headers travel in its first segment
  (``MSG_MORE``). Up to ``COALESCE_LIMIT`` it is read and sent in the
  headers' write instead.
"""
from __future__ import annotations

import errno
import logging
import os
import resource
import signal
import socket
import time

from flask import Flask
from gevent import Timeout
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer
from gevent.socket import wait_write

from .app import start_services, stop_services
from .database import checkpoint_wal
from .filebody import FileBody, file_wrapper
from .lifecycle import freeze_startup_objects, hold_serving_lock

log = logging.getLogger(__name__)


class ListenError(OSError):
    """The server cannot listen where it was told to (the port is taken, the
    address is not this machine's, a port below 1024 without the right)."""

#: Bodies up to this size go out in the same write as the headers: copying
#: 64 KiB costs microseconds, a second small segment costs a round trip.
COALESCE_LIMIT = 64 * 1024
#: File descriptors kept free beyond the connections: the database, open
#: archives, cache files, worker pipes.
FD_RESERVE = 256

_REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                    b"Content-Type: text/plain\r\nContent-Length: 39\r\n\r\n"
                    b"The request head did not arrive in time")


class _IdleTimeout(socket.timeout):
    """No request started on the connection in time."""


class _HeadTimeout(socket.timeout):
    """A request started but its line and headers did not all arrive in time."""


class RequestHeaders:
    """A request's header block, read in one pass.

    What pywsgi's handler reads of ``http.client.HTTPMessage`` (``get``,
    ``headers``, ``typeheader``, ``del``), without the ``email`` package's
    parser behind it, which took 6 % of a page request. The same limits as
    ``http.client``: 65,536 bytes a line, 100 headers; a line past them, a
    line that is no header, or a name with white space in it (RFC 9112 5.1:
    a smuggling vector) sets ``status`` and the request is answered 400.
    """

    __slots__ = ("_lines", "_fields", "status")

    MAX_LINE = 65536
    MAX_HEADERS = 100

    def __init__(self, rfile, *_: object) -> None:
        self.status = ""
        self._lines: list[str] = []
        self._fields: list[list[str]] = []  # [lower-case name, value]
        while True:
            line = rfile.readline(self.MAX_LINE + 1)
            if len(line) > self.MAX_LINE:
                self.status = "Line too long"
                return
            if line in (b"\r\n", b"\n", b""):
                return
            if len(self._lines) >= self.MAX_HEADERS:
                self.status = "Too many headers"
                return
            text = line.decode("iso-8859-1")
            if text[:1] in (" ", "\t"):  # an obsolete folded line continues the value
                if not self._fields:
                    self.status = "Folded line without a header"
                    return
                self._lines.append(text)
                self._fields[-1][1] += " " + text.strip()
                continue
            name, colon, value = text.partition(":")
            if not colon or not name or name != name.strip() or " " in name or "\t" in name:
                self.status = "Invalid header line"
                return
            self._lines.append(text)
            self._fields.append([name.lower(), value.strip()])

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for field_name, value in self._fields:
            if field_name == name:
                return value
        return default

    getheader = get

    def __delitem__(self, name: str) -> None:
        name = name.lower()
        self._fields = [f for f in self._fields if f[0] != name]
        self._lines = [line for line in self._lines
                       if line[:1] in (" ", "\t") or line.partition(":")[0].lower() != name]

    @property
    def headers(self) -> list[str]:
        """The header lines as received (pywsgi builds the environ from them)."""
        return self._lines

    @property
    def typeheader(self) -> str | None:
        return self.get("content-type")


class Handler(WSGIHandler):
    """pywsgi's connection handler with timed request reads and one write for
    the headers and a small body."""

    MessageClass = RequestHeaders
    requests_read = 0
    _head_timer: Timeout | None = None
    _hold_next_write = False
    _held: bytearray | None = None

    # -- reading requests ----------------------------------------------------

    def read_requestline(self) -> str:
        server: Server = self.server
        wait = server.keepalive_timeout if self.requests_read else server.header_timeout
        try:
            with Timeout(wait, _IdleTimeout()):
                if not self.rfile.peek(1):  # the client closed the connection
                    return ""
        except _IdleTimeout:
            log.debug("closing idle connection from %s after %.0f s", self._peer(), wait)
            return ""
        self.requests_read += 1
        self._head_timer = Timeout.start_new(server.header_timeout, _HeadTimeout())
        try:
            return super().read_requestline()
        except _HeadTimeout:
            self._log_slow_head()
            try:
                self.socket.sendall(_REQUEST_TIMEOUT)
            except OSError:
                pass
            return ""

    def read_request(self, raw_requestline: str) -> bool:
        try:
            return super().read_request(raw_requestline)
        finally:
            self._cancel_head_timer()

    def handle_one_request(self):
        try:
            return super().handle_one_request()
        finally:
            self._cancel_head_timer()

    def _handle_client_error(self, ex: BaseException):
        if isinstance(ex, _HeadTimeout):  # raised while the headers were read
            self._log_slow_head()
            return "408", _REQUEST_TIMEOUT
        return super()._handle_client_error(ex)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.close()
            self._head_timer = None

    def _log_slow_head(self) -> None:
        log.info("closing connection from %s: request head not complete after %.0f s",
                 self._peer(), self.server.header_timeout)

    def _peer(self) -> str:
        address = self.client_address
        return address[0] if isinstance(address, tuple) else str(address)

    def log_request(self) -> None:
        if self.server.access_log:  # else pywsgi formats a line for nobody
            super().log_request()

    def get_environ(self) -> dict:
        environ = super().get_environ()
        environ["wsgi.file_wrapper"] = file_wrapper
        return environ

    # -- writing responses ---------------------------------------------------

    def process_result(self) -> None:
        body = self.result
        if type(body) is FileBody and self.provided_content_length is not None:
            self._send_file_body(body)
        else:
            super().process_result()

    def _send_file_body(self, body: FileBody) -> None:
        if body.length <= COALESCE_LIMIT:
            try:
                data = body.read_all()
            except (OSError, EOFError) as exc:
                return self._abort_file_body(body, exc)
            self.write(data)  # with the headers, in one write
            return
        # The header block, held back by ``_sendall``, then sent with
        # MSG_MORE: the kernel puts it in the first segment of the file.
        self._hold_next_write = True
        try:
            WSGIHandler._write_with_headers(self, b"")
        finally:
            self._hold_next_write = False
        head, self._held = self._held, None
        out = self.socket.fileno()
        try:
            _send_all(self.socket, head, socket.MSG_MORE)
            self.response_length += len(head)
            offset, left = body.offset, body.length
            while left:
                try:
                    sent = os.sendfile(out, body.fd, offset, left)
                except BlockingIOError:
                    wait_write(out)
                    continue
                if not sent:
                    return self._abort_file_body(body, EOFError(f"{left} bytes short"))
                offset += sent
                left -= sent
                self.response_length += sent
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                return self._abort_file_body(body, exc)
            self.status = f"socket error: {exc}"
            if self.code > 0:
                self.code = -self.code
            raise

    def _abort_file_body(self, body: FileBody, exc: BaseException) -> None:
        """The file could not be read to the end (it shrank after it was
        checked): close the connection, so the client sees a body shorter
        than its Content-Length rather than a page with a wrong end."""
        log.warning("%s: the response body file could not be read (%s); connection closed",
                    self.path, exc)
        self.close_connection = True
        if self.code > 0:
            self.code = -self.code


    def _write_with_headers(self, data) -> None:
        """pywsgi sends the header block, then the first body chunk: hold the
        former back so a small chunk travels with it."""
        self._hold_next_write = True
        try:
            super()._write_with_headers(data)
        finally:
            self._hold_next_write = False
            held, self._held = self._held, None
            if held is not None:  # an empty body: the headers alone
                self._send(held)

    def _sendall(self, data) -> None:
        if self._hold_next_write:
            self._hold_next_write = False
            self._held = bytearray(data)
            return
        held, self._held = self._held, None
        if held is not None:
            if len(data) <= COALESCE_LIMIT:
                held += data
                data = held
            else:
                self._send(held)
        self._send(data)

    def _send(self, data) -> None:
        """pywsgi's ``_sendall``, by way of ``_send_all``."""
        try:
            _send_all(self.socket, data)
        except OSError as ex:
            self.status = f"socket error: {ex}"
            if self.code > 0:
                self.code = -self.code
            raise
        self.response_length += len(data)


def _send_all(sock: socket.socket, data: bytes | bytearray, flags: int = 0) -> None:
    """All of ``data``, as ``sock.sendall`` sends it. gevent's ``sendall``
    first asks the kernel for the socket's buffer size (``getsockopt``) to
    cut the data into chunks, on every call: a response head or a small body
    fits one ``send`` all but always, and that question was a twentieth of
    the server's CPU serving pages."""
    if not data:
        return
    sent = sock.send(data, flags)  # on a full buffer it waits, as sendall does
    if sent < len(data):
        sock.sendall(memoryview(data)[sent:], flags)


class Server(WSGIServer):
    """pywsgi's server with ``TCP_NODELAY``, request timeouts and a cap on
    connections."""

    handler_class = Handler

    def __init__(self, listener, application, *, header_timeout: float,
                 keepalive_timeout: float, max_connections: int, **kwargs) -> None:
        super().__init__(listener, application, spawn=Pool(max_connections), **kwargs)
        self.access_log = kwargs.get("log", "default") is not None
        self.header_timeout = header_timeout
        self.keepalive_timeout = keepalive_timeout

    def handle(self, sock, address) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not a TCP socket
            pass
        super().handle(sock, address)


def _raise_fd_limit(needed: int) -> None:
    """Raise the soft open-files limit towards ``needed`` (as far as the hard
    limit allows): 1024, the usual soft default, is less than
    ``MAX_CONNECTIONS`` plus what the rest of the server keeps open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        log.warning("open files are limited to %d: MAX_CONNECTIONS %d may not be reached "
                    "(raise the limit, e.g. ulimit -n %d)", target, needed - FD_RESERVE, needed)


def _bind(host: str, port: int) -> socket.socket:
    """The server's socket, bound (the port is this process's from here on)
    but not yet listening. ``host`` is an IPv4 or IPv6 address (bracketed or
    not: ``::``, ``[::1]``) or a name; empty is every interface, IPv6 and
    IPv4 alike, as gevent takes it."""
    from gevent import socket as gsocket

    host = _bare_host(host)
    family = socket.AF_INET6 if not host or ":" in host else socket.AF_INET
    sock = gsocket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def serve(app: Flask) -> None:
    """Serve until SIGINT/SIGTERM, then stop accepting, finish in-flight
    requests (up to 10 s) and stop the scheduler. A ``worker`` process
    serves only its health check (``comicsrv.middleware.HealthOnly``)."""
    import gevent

    config = app.config
    host, port = config["HOST"], int(config["PORT"])
    started = time.monotonic()
    max_connections = int(config["MAX_CONNECTIONS"])
    _raise_fd_limit(max_connections + FD_RESERVE)
    # Before accepting: importing the readers starts a process (and so
    # yields to the hub), and no request may run before start_services
    # (job recovery, the process's place in the deployment). The port is
    # bound first, so a taken port is one line before anything starts, but
    # listened on only once they run: until then a client sees a refused
    # connection, never a request left waiting, until the process can answer.
    from .archives import preload

    _install_stack_dumps()  # first: a start that hangs can be asked where
    preload()
    hold_serving_lock(config["DATA_DIR"])
    try:
        sock = _bind(host, port)
    except OSError as exc:
        raise ListenError(_listen_problem(host, port, exc)) from None
    start_services(app)
    sock.listen(Server.backlog)
    server = Server(sock, app, log=None, error_log=logging.getLogger("comicsrv.wsgi"),
                    header_timeout=float(config["HEADER_TIMEOUT_SECONDS"]),
                    keepalive_timeout=float(config["KEEPALIVE_TIMEOUT_SECONDS"]),
                    max_connections=max_connections)
    server.start()
    freeze_startup_objects()
    _log_first_steps(app, host, port)
    # The last line of a start: what follows is the server at work.
    log.info("comicsrv listening on http://%s:%s%s (role %s, data dir %s, log %s) in %.2fs",
             _url_host(host), port, config["URL_BASE"] or "/", config["ROLE"], config["DATA_DIR"],
             _log_file() or "off", time.monotonic() - started)
    app.extensions["comicsrv.server"] = server

    def stop(*_: object) -> None:
        log.info("shutting down")
        stop_services(app)
        server.stop(timeout=10)
        checkpoint_wal(app)
        log.info("stopped")

    gevent.signal_handler(signal.SIGTERM, stop)
    gevent.signal_handler(signal.SIGINT, stop)
    server.serve_forever()


def _install_stack_dumps() -> None:
    """``kill -USR1``: every native thread's stack on stderr, written by
    faulthandler from C, so it works even when the hub itself is stuck.
    ``kill -USR2``: every greenlet's stack in the log (it needs a running
    hub). For a server that stopped answering on someone's NAS, these say
    where it waits without a debugger."""
    import faulthandler
    import sys

    import gevent
    from gevent.util import format_run_info

    def dump_greenlets() -> None:
        log.warning("what every greenlet and thread is doing (SIGUSR2):\n%s",
                    "\n".join(format_run_info()))

    try:
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    except (AttributeError, ValueError, OSError) as exc:  # no stderr (pythonw), odd platforms
        log.debug("no stack dump on SIGUSR1: %s", exc)
    gevent.signal_handler(signal.SIGUSR2, dump_greenlets)


def _listen_problem(host: str, port: int, exc: OSError) -> str:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (f"cannot listen on {where}: the port is already in use (is comicsrv already "
                "running?); choose another with --port or the PORT setting")
    if exc.errno == errno.EACCES:
        return (f"cannot listen on {where}: permission denied (ports below 1024 need "
                "privileges); choose a port above 1023")
    if exc.errno == errno.EADDRNOTAVAIL:
        return (f"cannot listen on {where}: {host} is not an address of this machine; "
                "use 0.0.0.0 for every address")
    return f"cannot listen on {where}: {exc.strerror or exc}"


def _log_file() -> str | None:
    from .logfiles import file_handler

    handler = file_handler()
    return handler.baseFilename if handler is not None else None


def _bare_host(host: str) -> str:
    """``host`` without the brackets a URL puts around an IPv6 address."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _url_host(host: str) -> str:
    """``host`` as a URL writes it: an IPv6 address in brackets."""
    host = _bare_host(host)
    return f"[{host}]" if ":" in host else host


def _log_first_steps(app: Flask, host: str, port: int) -> None:
    """On a server with no admin or no library yet, say how to make them:
    the log is where a NAS user looks first."""
    from .extensions import db
    from .models import Library, User

    with app.app_context():
        has_admin = db.session.execute(
            db.select(User.id).where(User.is_admin.is_(True)).limit(1)).first() is not None
        has_library = db.session.execute(db.select(Library.id).limit(1)).first() is not None
        db.session.remove()
    shown = "localhost" if _bare_host(host) in ("0.0.0.0", "::", "") else _url_host(host)
    url = f"http://{shown}:{port}{app.config['URL_BASE']}/"
    if os.path.exists("/.dockerenv"):
        command = (f"docker exec -it -u {os.getuid()}:{os.getgid()} <container> comicsrv")
    else:
        command = "comicsrv"
    if not has_admin:
        log.info("no admin yet: open %s to create one, or run: %s user create NAME --admin "
                 "(it asks for the password)", url, command)
    if not has_library:
        log.info("no library yet: add one on %s after signing in, or run: "
                 "%s library add NAME /path/to/comics", url, command)
