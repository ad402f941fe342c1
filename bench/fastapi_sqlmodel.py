"""A reference point: the original design of this API, FastAPI + SQLModel + PyJWT, as its
tutorials write it.

The endpoints of the first contract (list, create, get, replace, toggle, delete) over the same
``tasks`` table: an SQLModel table model mapped onto its columns, an async session per request
(SQLAlchemy's asyncpg dialect), a dependency that verifies the HS256 bearer token with PyJWT on
every request, and the path's user checked against the token's subject. Reads filter by user_id
in SQL; writes load the task, change it, commit and refresh it, as the ORM does. Served by the
same uvicorn settings as the service, for ``bench.run`` only (the ``bench`` extra).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated

import jwt
from fastapi import Depends, FastAPI, HTTPException, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Column, Enum, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from service.db.urls import asyncpg_dsn


class TaskBase(SQLModel):
    title: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)


class Task(TaskBase, table=True):  # type: ignore[call-arg]  # only without the bench extra: SQLModel is Any
    __tablename__ = "tasks"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: str = Field(primary_key=True, max_length=255)
    completed: bool = False
    priority: str = Field(
        default="medium",
        sa_column=Column(Enum("low", "medium", "high", name="task_priority", create_type=False), nullable=False),
    )
    tags: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(Text), nullable=False))
    due_at: datetime | None = None
    completed_at: datetime | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    updated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class TaskCreate(TaskBase):
    pass


class TaskReplace(TaskBase):
    completed: bool | None = None


class TaskPublic(TaskBase):
    id: uuid.UUID
    user_id: str
    completed: bool
    priority: str
    tags: list[str]
    due_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


def database_url() -> str:
    return asyncpg_dsn(os.environ["DATABASE_URL"]).replace("postgresql://", "postgresql+asyncpg://", 1)


engine: AsyncEngine | None = None
SECRET = os.environ.get("BETTER_AUTH_SECRET", "")
bearer = HTTPBearer()


async def get_session() -> AsyncIterator[AsyncSession]:
    assert engine is not None
    async with AsyncSession(engine) as session:
        yield session


async def get_current_user(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
    try:
        payload = jwt.decode(credentials.credentials, SECRET, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.InvalidTokenError:
        raise HTTPException(status_code=401, detail="Invalid token", headers={"WWW-Authenticate": "Bearer"}) from None
    subject: str = payload["sub"]
    return subject


Session = Annotated[AsyncSession, Depends(get_session)]
CurrentUser = Annotated[str, Depends(get_current_user)]


def check_user(user_id: str, current_user: str) -> None:
    if user_id != current_user:
        raise HTTPException(status_code=403, detail="Not your tasks")


async def owned_task(session: AsyncSession, user_id: str, task_id: uuid.UUID) -> Task:
    task = (await session.exec(select(Task).where(Task.user_id == user_id, Task.id == task_id))).first()
    if task is None:
        raise HTTPException(status_code=404, detail="Task not found")
    return task


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    global engine
    # The service's pool size (DB_POOL_MAX_SIZE, 10), so both hold as many connections.
    engine = create_async_engine(database_url(), pool_size=10, max_overflow=0)
    try:
        yield
    finally:
        await engine.dispose()


app = FastAPI(title="Todo API", lifespan=lifespan)


@app.get("/api/{user_id}/tasks", response_model=list[TaskPublic])
async def list_tasks(user_id: str, session: Session, current_user: CurrentUser) -> list[Task]:
    check_user(user_id, current_user)
    statement = (
        select(Task)
        .where(Task.user_id == user_id)
        .order_by(col(Task.created_at).desc(), col(Task.id).desc())
        .limit(100)
    )
    return list((await session.exec(statement)).all())


@app.post("/api/{user_id}/tasks", response_model=TaskPublic, status_code=201)
async def create_task(user_id: str, data: TaskCreate, session: Session, current_user: CurrentUser) -> Task:
    check_user(user_id, current_user)
    task = Task.model_validate(data, update={"user_id": user_id})
    session.add(task)
    await session.commit()
    await session.refresh(task)
    return task


@app.get("/api/{user_id}/tasks/{task_id}", response_model=TaskPublic)
async def get_task(user_id: str, task_id: uuid.UUID, session: Session, current_user: CurrentUser) -> Task:
    check_user(user_id, current_user)
    return await owned_task(session, user_id, task_id)


@app.put("/api/{user_id}/tasks/{task_id}", response_model=TaskPublic)
async def replace_task(
    user_id: str, task_id: uuid.UUID, data: TaskReplace, session: Session, current_user: CurrentUser
) -> Task:
    check_user(user_id, current_user)
    task = await owned_task(session, user_id, task_id)
    task.title = data.title
    task.description = data.description
    if data.completed is not None:
        task.completed = data.completed
    session.add(task)
    await session.commit()
    await session.refresh(task)
    return task


@app.patch("/api/{user_id}/tasks/{task_id}/complete", response_model=TaskPublic)
async def toggle_task(user_id: str, task_id: uuid.UUID, session: Session, current_user: CurrentUser) -> Task:
    check_user(user_id, current_user)
    task = await owned_task(session, user_id, task_id)
    task.completed = not task.completed
    session.add(task)
    await session.commit()
    await session.refresh(task)
    return task


@app.delete("/api/{user_id}/tasks/{task_id}", status_code=204)
async def delete_task(user_id: str, task_id: uuid.UUID, session: Session, current_user: CurrentUser) -> Response:
    check_user(user_id, current_user)
    task = await owned_task(session, user_id, task_id)
    await session.delete(task)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def create_app() -> FastAPI:
    return app
