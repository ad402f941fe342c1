"""Limits on the request head (URL and headers), which uvicorn's httptools protocol lacks.

Measured before this existed: httptools buffered a URL or a header of any size until the head
was complete (a 200 MB header streamed at the server was taken whole, RSS growing with it and
the worker's core busy, /health slowed to 2.5 s for everyone), and 10,000 headers were served.
uvicorn's h11 protocol has a limit, but was 40% slower on GET /health and only applies while a
head is incomplete. This subclass adds the limits at no measured cost (wrk, same run).

service.asgi.server_options hands it to uvicorn; tests/http/test_http_limits.py pins the uvicorn
callbacks it overrides, so an upgrade that changes them fails a test by name.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from service.http.problems import ERROR_HEADERS, Problem

log = logging.getLogger(__name__)

MAX_URL_BYTES = 8192  # the request target, path and query: longer is a 414
MAX_HEADER_BYTES = 32768  # all header lines, "Name: value\r\n" each: more is a 431
# A head still incomplete after this many bytes breaks one of the two limits, whichever it is
# (1024: the method, spaces, version and line ends of the request line, with room to spare).
MAX_HEAD_BYTES = MAX_URL_BYTES + MAX_HEADER_BYTES + 1024


class _Refused(Exception):
    """Raised in a parser callback to stop httptools; uvicorn then calls ``send_400_response``."""


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with limits on the request head, which httptools lacks.

    httptools buffers a URL or a header of any size until the head is complete (a 200 MB header
    streamed at the server was taken whole, the worker's core busy all the while). Here a URL over
    MAX_URL_BYTES is refused with 414 as soon as it is that long, headers over MAX_HEADER_BYTES
    with 431 once complete, and a head still incomplete beyond MAX_HEAD_BYTES with 431 as it
    arrives; the connection is then closed. Bytes are counted by whole reads and never a body's,
    so a head is refused within one read (at most 256 KiB) of its limit.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # between requests, or reading a request line and headers
        self._head_bytes = 0  # of the head being read
        self._refusal: tuple[int, str] | None = None

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self.transport.is_closing():
            self._refuse(431, f"the request headers are larger than {MAX_HEADER_BYTES} bytes")

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            self._refusal = (414, f"the URL is longer than {MAX_URL_BYTES} bytes")
            raise _Refused

    def on_headers_complete(self) -> None:
        if sum(len(name) + len(value) + 4 for name, value in self.headers) > MAX_HEADER_BYTES:
            self._refusal = (431, f"the request headers are larger than {MAX_HEADER_BYTES} bytes")
            raise _Refused
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head, self._head_bytes = True, 0

    def send_400_response(self, msg: str) -> None:
        if self._refusal is None:
            super().send_400_response(msg)
        else:
            self._refuse(*self._refusal)

    def _refuse(self, status: int, detail: str) -> None:
        log.warning("refused a request from %s with %d: %s", self.client, status, detail)
        body = msgspec.json.encode(Problem(status=status, title=HTTPStatus(status).phrase, detail=detail))
        headers = [*self.server_state.default_headers, *((k.encode(), v.encode()) for k, v in ERROR_HEADERS.items())]
        headers += [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(STATUS_LINE[status] + head + b"\r\n" + body)
        self.transport.close()
