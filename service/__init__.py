"""Task API: a per-user task service on Litestar, asyncpg and hand-written SQL."""
