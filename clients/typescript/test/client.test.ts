// The typed client against the live service (tests/clients/test_typescript.py starts it and passes
// its address and tokens in the environment). tsc compiles this file first, so every call, body and
// answer below is checked against the generated types before it runs.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import { createTaskApi, nextCursor, type Problem, type Task, type TaskApi } from "../src/index.js";

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: tests/clients/test_typescript.py runs this against the service`);
  return value;
}

const baseUrl = setting("TASK_API_URL");
const user = setting("TASK_API_USER");
const other = setting("TASK_API_OTHER_USER");
const api = createTaskApi({ baseUrl, token: () => setting("TASK_API_TOKEN") });
const otherApi = createTaskApi({ baseUrl, token: setting("TASK_API_OTHER_TOKEN") });

/** The problem a failed call answered with; its type is the generated Problem, checked by tsc here. */
function problemOf(result: { error?: Problem; response: Response }, status: number): Problem {
  assert.equal(result.response.status, status);
  assert.equal(result.response.headers.get("Content-Type"), "application/problem+json");
  const problem = result.error;
  assert.ok(problem, `a ${status} has a problem body`);
  assert.equal(problem.status, status);
  assert.equal(typeof problem.title, "string");
  assert.ok(problem.detail.length > 0);
  assert.equal(problem.request_id, result.response.headers.get("X-Request-ID"));
  return problem;
}

async function create(client: TaskApi, userId: string, title: string, fields: Partial<Task> = {}): Promise<Task> {
  const { priority, tags, due_at, description } = fields;
  const { data, response } = await client.POST("/api/{user_id}/tasks", {
    params: { path: { user_id: userId } },
    body: { title, description, priority, tags, due_at },
  });
  assert.equal(response.status, 201);
  assert.ok(data);
  return data;
}

async function etagOf(id: string): Promise<string> {
  const { response } = await api.GET("/api/{user_id}/tasks/{task_id}", {
    params: { path: { user_id: user, task_id: id } },
  });
  assert.equal(response.status, 200);
  const etag = response.headers.get("ETag");
  assert.ok(etag);
  return etag;
}

describe("a task's life through the typed client", () => {
  let task: Task;

  test("create: 201 with the task, its Location and its ETag", async () => {
    const { data, response } = await api.POST("/api/{user_id}/tasks", {
      params: { path: { user_id: user } },
      body: { title: "  Buy milk  ", description: "Two litres", priority: "high", tags: ["Home"] },
    });
    assert.equal(response.status, 201);
    assert.ok(data);
    task = data;
    assert.equal(task.title, "Buy milk");
    assert.equal(task.description, "Two litres");
    assert.equal(task.completed, false);
    assert.equal(task.completed_at, null);
    assert.equal(task.priority, "high");
    assert.deepEqual(task.tags, ["home"]);
    assert.equal(task.user_id, user);
    assert.equal(response.headers.get("Location"), `/api/${user}/tasks/${task.id}`);
    assert.ok(response.headers.get("ETag"));
  });

  test("get: 200 with the task, then 304 for an If-None-Match holding its ETag", async () => {
    const path = { user_id: user, task_id: task.id };
    const { data, response } = await api.GET("/api/{user_id}/tasks/{task_id}", { params: { path } });
    assert.equal(response.status, 200);
    assert.deepEqual(data, task);
    const etag = response.headers.get("ETag");
    assert.ok(etag);
    const again = await api.GET("/api/{user_id}/tasks/{task_id}", {
      params: { path, header: { "If-None-Match": etag } },
    });
    assert.equal(again.response.status, 304);
  });

  test("conditional update: If-Match with the current ETag writes, a stale one is 412 and writes nothing", async () => {
    const path = { user_id: user, task_id: task.id };
    const read = await etagOf(task.id);
    const updated = await api.PATCH("/api/{user_id}/tasks/{task_id}", {
      params: { path, header: { "If-Match": read } },
      body: { title: "Buy oat milk" },
    });
    assert.equal(updated.response.status, 200);
    assert.equal(updated.data?.title, "Buy oat milk");
    const current = updated.response.headers.get("ETag");
    assert.ok(current);
    assert.notEqual(current, read);

    const stale = await api.PUT("/api/{user_id}/tasks/{task_id}", {
      params: { path, header: { "If-Match": read } },
      body: { title: "Lost update" },
    });
    const problem = problemOf(stale, 412);
    assert.match(problem.detail, /If-Match/);
    assert.equal(stale.response.headers.get("ETag"), current, "a 412 names the current ETag");
    assert.equal(stale.data, undefined);

    const unchanged = await api.GET("/api/{user_id}/tasks/{task_id}", { params: { path } });
    assert.equal(unchanged.data?.title, "Buy oat milk");

    const replaced = await api.PUT("/api/{user_id}/tasks/{task_id}", {
      params: { path, header: { "If-Match": current } },
      body: { title: "Buy oat milk", description: null },
    });
    assert.equal(replaced.response.status, 200);
    assert.equal(replaced.data?.description, null);
    assert.equal(replaced.data?.priority, "medium", "PUT replaces: an omitted priority is the default");
    task = replaced.data ?? task;
  });

  test("toggle: no body flips completed; a body sets it, so a retry changes nothing", async () => {
    const path = { user_id: user, task_id: task.id };
    const done = await api.PATCH("/api/{user_id}/tasks/{task_id}/complete", { params: { path } });
    assert.equal(done.response.status, 200);
    assert.equal(done.data?.completed, true);
    assert.ok(done.data?.completed_at);
    const undone = await api.PATCH("/api/{user_id}/tasks/{task_id}/complete", { params: { path } });
    assert.equal(undone.data?.completed, false);
    assert.equal(undone.data?.completed_at, null);
    for (let attempt = 0; attempt < 2; attempt++) {
      const set = await api.PATCH("/api/{user_id}/tasks/{task_id}/complete", {
        params: { path },
        body: { completed: true },
      });
      assert.equal(set.response.status, 200);
      assert.equal(set.data?.completed, true);
    }
  });

  test("delete: 204 without a body, then 404 for the task and for deleting it again", async () => {
    const path = { user_id: user, task_id: task.id };
    const deleted = await api.DELETE("/api/{user_id}/tasks/{task_id}", { params: { path } });
    assert.equal(deleted.response.status, 204);
    assert.equal(deleted.data, undefined);
    problemOf(await api.GET("/api/{user_id}/tasks/{task_id}", { params: { path } }), 404);
    problemOf(await api.DELETE("/api/{user_id}/tasks/{task_id}", { params: { path } }), 404);
  });
});

describe("listing: filters, and the next page through the Link header's cursor", () => {
  const made: Task[] = [];

  before(async () => {
    for (let n = 1; n <= 5; n++) {
      made.push(await create(api, user, `paging ${n}`, { tags: ["paging"], priority: n % 2 ? "high" : "low" }));
    }
    const second = made[1];
    assert.ok(second);
    await api.PATCH("/api/{user_id}/tasks/{task_id}/complete", {
      params: { path: { user_id: user, task_id: second.id } },
      body: { completed: true },
    });
  });

  test("pages of 2 follow the cursor to the end: every task once, newest first", async () => {
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    do {
      const { data, response } = await api.GET("/api/{user_id}/tasks", {
        params: { path: { user_id: user }, query: { tag: ["paging"], limit: 2, cursor } },
      });
      assert.equal(response.status, 200);
      assert.ok(data);
      sizes.push(data.length);
      seen.push(...data.map((task) => task.id));
      cursor = nextCursor(response);
    } while (cursor !== undefined && sizes.length < 10);
    assert.deepEqual(sizes, [2, 2, 1]);
    assert.deepEqual(
      seen,
      made.map((task) => task.id).reverse(),
    );
  });

  test("filters combine: completed, priority, tag, search", async () => {
    const list = async (query: { completed?: boolean; priority?: ("low" | "medium" | "high")[]; q?: string }) => {
      const { data, response } = await api.GET("/api/{user_id}/tasks", {
        params: { path: { user_id: user }, query: { tag: ["paging"], sort: "title", ...query } },
      });
      assert.equal(response.status, 200);
      return (data ?? []).map((task) => task.title);
    };
    assert.deepEqual(await list({ completed: true }), ["paging 2"]);
    assert.deepEqual(await list({ completed: false, priority: ["low"] }), ["paging 4"]);
    assert.deepEqual(await list({ priority: ["high"] }), ["paging 1", "paging 3", "paging 5"]);
    assert.deepEqual(await list({ q: "pag" }), ["paging 1", "paging 2", "paging 3", "paging 4", "paging 5"]);
    assert.deepEqual(await list({ q: "nothing" }), []);
  });
});

describe("problems are typed problem details", () => {
  test("400: a validation error names each bad field", async () => {
    const result = await api.POST("/api/{user_id}/tasks", {
      params: { path: { user_id: user } },
      body: { title: "   " },
    });
    const problem = problemOf(result, 400);
    assert.ok(problem.errors?.some((error) => error["key"] === "title"), JSON.stringify(problem.errors));
  });

  test("400: a malformed task id", async () => {
    const result = await api.GET("/api/{user_id}/tasks/{task_id}", {
      params: { path: { user_id: user, task_id: "not-a-uuid" } },
    });
    problemOf(result, 400);
  });

  test("401: no token, or an expired one, with a Bearer challenge", async () => {
    const anonymous = createTaskApi({ baseUrl });
    const expired = createTaskApi({ baseUrl, token: setting("TASK_API_EXPIRED_TOKEN") });
    for (const client of [anonymous, expired]) {
      const result = await client.GET("/api/{user_id}/tasks", { params: { path: { user_id: user } } });
      problemOf(result, 401);
      assert.match(result.response.headers.get("WWW-Authenticate") ?? "", /^Bearer\b/);
    }
  });

  test("403: a valid token on another user's path", async () => {
    const result = await api.GET("/api/{user_id}/tasks", { params: { path: { user_id: other } } });
    problemOf(result, 403);
  });

  test("404: another user's task is not found, exactly as a task that never was", async () => {
    const theirs = await create(otherApi, other, "Not yours");
    const mine = await api.GET("/api/{user_id}/tasks/{task_id}", {
      params: { path: { user_id: user, task_id: theirs.id } },
    });
    const missing = await api.GET("/api/{user_id}/tasks/{task_id}", {
      params: { path: { user_id: user, task_id: "00000000-0000-4000-8000-000000000000" } },
    });
    const { request_id: _one, ...foreign } = problemOf(mine, 404);
    const { request_id: _two, ...absent } = problemOf(missing, 404);
    assert.deepEqual(foreign, absent);
    const stillThere = await otherApi.GET("/api/{user_id}/tasks/{task_id}", {
      params: { path: { user_id: other, task_id: theirs.id } },
    });
    assert.equal(stillThere.data?.title, "Not yours");
  });
});
