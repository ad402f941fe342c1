"""A write's answer: held back while its transaction is open, recorded, and replayed.

A handler's answer is buffered rather than sent, so nothing reaches the client before the write
and its record have committed. Recorded are its status, body, and the headers a client acts on
(Content-Type, Location, ETag); a replay adds what every answer of a user's route carries, and
the layers outside this one (rate limit, request id, CORS) add theirs as for any answer.
"""

from __future__ import annotations

import msgspec
from litestar.types import Message, Send

RECORDED_HEADERS = (b"content-type", b"location", b"etag")
# What Litestar adds to every answer of a user's route: the controllers' cache rule (PRIVATE) and
# the app's response header; a replay would otherwise lack them.
ALWAYS = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"))
REPLAYED = (b"idempotent-replayed", b"true")


class Answer(msgspec.Struct, frozen=True):
    """An answer as recorded under a key, with the fingerprint of the request that got it."""

    fingerprint: bytes
    status: int
    body: bytes
    content_type: str | None
    location: str | None
    etag: str | None


class Buffered:
    """An ASGI ``send`` that keeps the answer instead of sending it, until ``send_to``."""

    __slots__ = ("messages",)

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def succeeded(self) -> bool:
        """The answer is a 2xx, which is recorded; anything else leaves the key unused."""
        start = self.messages[0] if self.messages else None
        return start is not None and start["type"] == "http.response.start" and 200 <= start["status"] < 300

    def recorded(self, fingerprint: bytes) -> Answer:
        """The answer held, as recorded for the request of ``fingerprint``."""
        start, *rest = self.messages
        assert start["type"] == "http.response.start"  # ASGI's order, which succeeded checked
        headers = {name.lower(): value.decode("latin-1") for name, value in start.get("headers", ())}
        content_type, location, etag = (headers.get(name) for name in RECORDED_HEADERS)
        body = b"".join(message.get("body", b"") for message in rest if message["type"] == "http.response.body")
        return Answer(fingerprint, start["status"], body, content_type, location, etag)

    async def send_to(self, send: Send) -> None:
        for message in self.messages:
            await send(message)


class Replay:
    """A recorded answer, sent again with ``Idempotent-Replayed: true``."""

    __slots__ = ("answer",)

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    async def send_to(self, send: Send) -> None:
        answer = self.answer
        recorded = zip(RECORDED_HEADERS, (answer.content_type, answer.location, answer.etag), strict=True)
        headers = [(name, value.encode("latin-1")) for name, value in recorded if value is not None]
        if answer.status != 204:  # a 204 has no body, nor a length
            headers.append((b"content-length", str(len(answer.body)).encode()))
        await send({"type": "http.response.start", "status": answer.status, "headers": [*headers, *ALWAYS, REPLAYED]})
        await send({"type": "http.response.body", "body": answer.body, "more_body": False})
