# syntax=docker/dockerfile:1
# task-api: Litestar + asyncpg over PostgreSQL.
#   docker build -t task-api .
#   docker run --rm -e DATABASE_URL=postgresql://... task-api migrate
#   docker run --rm -p 8000:8000 -e DATABASE_URL=... -e BETTER_AUTH_SECRET=... task-api
# The code runs from /app (service/, sql/ and migrations/ side by side), not from site-packages:
# service/db/sql.py and service/db/migrations.py find sql/ and migrations/ next to service/.

# Any Debian-based image with python3, its venv module and CA certificates. CI builds on one made from
# Debian's own packages (.ci/container-base: Debian's python3, 3.11), since it reaches no image registry.
ARG PYTHON_IMAGE=python:3.12-slim

# ---------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

# python3: the official images have python too, Debian's python3 only.
RUN python3 -m venv /opt/venv

WORKDIR /build
# Only the lock: this layer is rebuilt when the dependencies change, not when the code does.
# The locked runtime dependencies and the redis client (for RATE_LIMIT_STORE_URL): the versions CI
# tested. The `dev` and `embedded` extras stay out (the container uses DATABASE_URL).
COPY requirements.lock ./
RUN pip install --prefer-binary -r requirements.lock

# ---------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="task-api" \
      org.opencontainers.image.description="Per-user task API for a Better Auth web app: Litestar, asyncpg, hand-written SQL." \
      org.opencontainers.image.version="1.0.0"

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Owned by root and read-only to the app user.
COPY service/ ./service/
COPY sql/ ./sql/
COPY migrations/ ./migrations/

USER app

EXPOSE 8000

# Liveness only (/health does not touch the database; /health/ready does). No curl in slim images.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${PORT}/health', timeout=4)" || exit 1

ENTRYPOINT ["python", "-m", "service"]
CMD ["serve"]
