// subscribe() against the live service (tests/clients/test_typescript.py starts it): the events a
// web app acts on arrive, typed, and aborting ends the subscription.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createTaskApi, subscribe, type TaskEvent } from "../src/index.js";

function setting(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: tests/clients/test_typescript.py runs this against the service`);
  return value;
}

const baseUrl = setting("TASK_API_URL");
const userId = `${setting("TASK_API_USER")}-events`;
const token = setting("TASK_API_EVENTS_TOKEN");
const api = createTaskApi({ baseUrl, token });

/** The events of a subscription, and a way to wait for the next one that matches. */
function recorder(): { onEvent: (event: TaskEvent) => void; next: (match: (event: TaskEvent) => boolean) => Promise<TaskEvent> } {
  const seen: TaskEvent[] = [];
  const waiting: Array<{ match: (event: TaskEvent) => boolean; resolve: (event: TaskEvent) => void }> = [];
  return {
    onEvent(event) {
      const index = waiting.findIndex(({ match }) => match(event));
      if (index >= 0) waiting.splice(index, 1)[0]?.resolve(event);
      else seen.push(event);
    },
    next(match) {
      const index = seen.findIndex(match);
      if (index >= 0) return Promise.resolve(seen.splice(index, 1)[0] as TaskEvent);
      return new Promise((resolve, reject) => {
        waiting.push({ match, resolve });
        setTimeout(() => reject(new Error("no such event within 5 s")), 5000).unref();
      });
    },
  };
}

test("subscribe: ready, then changed for a write, then a reminder on time; abort ends it", async () => {
  const controller = new AbortController();
  const events = recorder();
  const errors: unknown[] = [];
  const subscription = subscribe({
    baseUrl,
    userId,
    token: async () => token,
    onEvent: events.onEvent,
    signal: controller.signal,
    onError: (error) => errors.push(error),
  });
  const ready = await events.next((event) => event.type === "ready");
  assert.deepEqual(ready, { type: "ready", revision: 0 });

  const due = new Date(Date.now() + 1500);
  const { data: task } = await api.POST("/api/{user_id}/tasks", {
    params: { path: { user_id: userId } },
    body: { title: "call back", due_at: due.toISOString(), reminders: [0] },
  });
  assert.ok(task);
  const changed = await events.next((event) => event.type === "changed");
  assert.deepEqual(changed, { type: "changed", revision: task.revision });

  const reminder = await events.next((event) => event.type === "reminder");
  assert.ok(reminder.type === "reminder");
  assert.equal(reminder.reminder.task_id, task.id);
  assert.equal(reminder.reminder.title, "call back");
  assert.equal(reminder.reminder.minutes_before, 0);
  assert.ok(Date.now() - due.getTime() < 1000, "the reminder came within a second of its moment");

  controller.abort();
  await subscription; // resolves once aborted
  assert.deepEqual(errors, []);
});

test("subscribe: a refused stream is reported to onError and tried again, until aborted", async () => {
  const controller = new AbortController();
  const errors: unknown[] = [];
  const subscription = subscribe({
    baseUrl,
    userId,
    token: "not a token",
    onEvent: () => assert.fail("a refused stream has no events"),
    signal: controller.signal,
    onError: (error) => {
      errors.push(error);
      if (errors.length === 2) controller.abort();
    },
  });
  await subscription;
  assert.equal(errors.length, 2);
  assert.match(String(errors[0]), /events: 401/);
});
