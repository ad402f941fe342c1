"""Logs: one structured line per event, an access line per request, nothing lost at exit."""

from __future__ import annotations

import io
import json
import logging
import sys

from litestar.testing import AsyncTestClient

from service.app import create_app
from service.observability import logs
from tests.conftest import ALICE, CapturedLog, make_settings


async def test_every_request_gets_one_access_line_with_the_route_template(migrated: str, json_log: CapturedLog) -> None:
    async with AsyncTestClient(app=create_app(make_settings(migrated))) as client:
        await client.get("/api/alice/tasks", headers=ALICE)
        await client.get("/api/alice/tasks")  # 401
        await client.get("/no/such/route")
    access = [line for line in json_log.lines() if line["logger"] == "service.access"]
    assert [(line["method"], line["route"], line["status"]) for line in access] == [
        ("GET", "/api/{user_id}/tasks", 200),
        ("GET", "/api/{user_id}/tasks", 401),
        ("GET", "(no route)", 404),
    ]
    first = access[0]
    assert first["level"] == "info"
    assert first["message"] == "GET /api/{user_id}/tasks 200"
    assert isinstance(first["duration_ms"], float)
    assert str(first["time"]).endswith("Z")
    assert "alice" not in json.dumps(access)  # the template, never the user's path


async def test_access_lines_name_the_user_by_a_keyed_reference(migrated: str, json_log: CapturedLog) -> None:
    apps = [create_app(make_settings(migrated, log_user_key=key)) for key in ("one key", "one key", "another")]
    for app in apps:
        async with AsyncTestClient(app=app) as client:
            await client.get("/api/alice/tasks", headers=ALICE)
            await client.get("/api/alice/tasks")  # 401: nobody authenticated
    users = [line.get("user") for line in json_log.lines() if line["logger"] == "service.access"]
    alice_one, nobody, alice_same_key, _, alice_other_key, _ = users
    assert nobody is None
    assert isinstance(alice_one, str)
    assert len(alice_one) == 16
    assert alice_one == alice_same_key != alice_other_key


async def test_access_log_can_be_turned_off(migrated: str, json_log: CapturedLog) -> None:
    async with AsyncTestClient(app=create_app(make_settings(migrated, access_log=False))) as client:
        await client.get("/api/alice/tasks", headers=ALICE)
    assert not [line for line in json_log.lines() if line["logger"] == "service.access"]


def test_warnings_are_written_at_once_and_info_in_batches() -> None:
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    logger = logging.getLogger("tests.batching")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.warning("now")
        assert json.loads(stream.getvalue())["message"] == "now"
        logger.info("later")
        assert "later" not in stream.getvalue()
        handler.close()  # what logging.shutdown() does at exit
        assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "later"
    finally:
        logger.removeHandler(handler)


def test_exceptions_keep_their_traceback_in_the_log() -> None:
    stream = io.StringIO()
    handler = logs.handler("json", stream)
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    handler.handle(record)
    line = json.loads(stream.getvalue())
    assert line["level"] == "error"
    assert "ValueError: boom" in line["exception"]
    handler.close()


def test_text_format_is_for_people() -> None:
    stream = io.StringIO()
    handler = logs.handler("text", stream)
    record = logging.LogRecord("service.access", logging.INFO, __file__, 1, "GET / 200", None, None)
    record.fields = {"status": 200}
    handler.handle(record)
    handler.close()
    assert stream.getvalue().rstrip().endswith("INFO service.access: GET / 200 status=200")


def test_configure_sets_up_logging_in_one_step_and_release_closes_its_handler() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging._srcfile, logging.logThreads, logging.logProcesses)
    logs.handler("json", io.StringIO()).close()
    assert logging.logThreads  # making a handler changes nothing outside it
    stream = io.StringIO()
    try:
        installed = logs.configure("info", "json", stream)
        assert root.handlers == [installed]
        assert (logging._srcfile, logging.logThreads, logging.logProcesses) == (None, False, False)
        logging.getLogger("uvicorn.error").debug("below the level")
        logging.getLogger("uvicorn.error").info("uvicorn's line reaches the root's handler")
        assert stream.getvalue() == ""  # held in the batch
        logs.release(installed)
        assert installed not in root.handlers
        messages = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
        assert messages == ["uvicorn's line reaches the root's handler"]
    finally:
        root.handlers, level, logging._srcfile, logging.logThreads, logging.logProcesses = saved
        root.setLevel(level)
