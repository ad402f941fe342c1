"""Write the OpenAPI document exactly as ``/docs/openapi.json`` serves it, under default settings.

``make client`` generates the TypeScript client's types from it. No database is needed: the app is
built by ``create_app`` and asked for the document in-process, without starting its lifespan.

    python clients/openapi_document.py clients/typescript/openapi.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import msgspec
from litestar.testing import TestClient

from service.app import create_app
from service.config import load_settings

# create_app refuses to build without these; nothing is connected to or signed with them here.
PLACEHOLDERS = {"database_url": "postgresql://localhost/unused", "better_auth_secret": "unused-" + "0" * 32}


def served_document() -> bytes:
    settings = msgspec.structs.replace(load_settings(environ={}, env_file=os.devnull), **PLACEHOLDERS)
    client = TestClient(app=create_app(settings))  # not entered: the lifespan, and so the pool, never starts
    response = client.get("/docs/openapi.json")
    response.raise_for_status()
    return response.content


def main(out: Path) -> None:
    # Indented, and with sorted keys: the served order of some maps (response headers) changes from one
    # process to the next, and the generated types follow the order they are given.
    out.write_text(json.dumps(json.loads(served_document()), indent=2, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT.json")
    main(Path(sys.argv[1]))
