"""A request body must arrive within BODY_TIMEOUT_SECONDS: a client trickling it byte by byte
would otherwise hold its request, and a pooled database slot once one is taken, for as long as
it likes. Past the deadline the answer is 408 and the connection closes.

uvicorn has no such timeout of its own (only one for idle keep-alive connections), so this
wraps ``receive`` for the time the body is being read, and for no longer: after the last chunk,
waiting for the client to disconnect is the server's business.
"""

from __future__ import annotations

import asyncio

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

from service.http.problems import problem


class BodyDeadline:
    def __init__(self, app: ASGIApp, *, seconds: float):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        body_done = False

        async def receive_in_time() -> ReceiveMessage:
            nonlocal deadline, body_done
            if body_done:
                return await receive()
            if deadline is None:
                deadline = loop.time() + self.seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise problem(
                    408,
                    f"the request body did not arrive within {self.seconds:g} s",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        await self.app(scope, receive_in_time, send)
