// Live events: GET /api/{user_id}/events, a server-sent events stream, read with fetch, since a
// browser's EventSource cannot send an Authorization header. Each connection gets a fresh token,
// resumes with Last-Event-ID, and is made again when the server ends it (a token's expiry, an
// instance shutting down) or the network drops it.
import type { TokenSource } from "./index.js";
import type { Reminder } from "./schema.js";

/** What the stream tells: catch up with GET /changes?since=<your revision> on `ready` and `changed`. */
export type TaskEvent =
  | { type: "ready"; revision: number }
  | { type: "changed"; revision: number }
  | { type: "reminder"; reminder: Reminder };

export interface SubscribeOptions {
  baseUrl: string;
  userId: string;
  token: TokenSource;
  onEvent: (event: TaskEvent) => void;
  /** Ends the subscription: `subscribe` then resolves. */
  signal: AbortSignal;
  /** A connection failed or was refused (401, 429, ...); it is tried again after a backoff. */
  onError?: (error: unknown) => void;
}

/** A refusal of the stream: its status and problem detail. */
export class EventStreamError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterMs: number | undefined,
    detail: string,
  ) {
    super(`events: ${status} ${detail}`);
  }
}

/**
 * Holds the user's event stream open until `signal` aborts, reconnecting as needed: after the
 * server ended it, at once (the server's `retry`, 1 s); after a failure, with a growing backoff
 * up to 30 s, or the `Retry-After` of a 429 or 503.
 */
export async function subscribe({ baseUrl, userId, token, onEvent, signal, onError }: SubscribeOptions): Promise<void> {
  const url = `${baseUrl.replace(/\/$/, "")}/api/${encodeURIComponent(userId)}/events`;
  let lastEventId: string | undefined;
  let retryMs = 1000;
  let failures = 0;
  while (!signal.aborted) {
    let waitMs = retryMs;
    try {
      const bearer = typeof token === "function" ? await token() : token;
      const headers: Record<string, string> = { Accept: "text/event-stream", Authorization: `Bearer ${bearer}` };
      if (lastEventId !== undefined) headers["Last-Event-ID"] = lastEventId;
      const response = await fetch(url, { headers, signal });
      if (!response.ok || response.body === null) {
        const retryAfter = Number(response.headers.get("Retry-After"));
        const detail = ((await response.json().catch(() => ({}))) as { detail?: string }).detail ?? "";
        throw new EventStreamError(response.status, retryAfter > 0 ? retryAfter * 1000 : undefined, detail);
      }
      failures = 0;
      for await (const message of messages(response.body)) {
        if (message.id !== undefined) lastEventId = message.id;
        if (message.retry !== undefined) retryMs = message.retry;
        const event = taskEvent(message);
        if (event !== undefined) onEvent(event);
      }
    } catch (error) {
      if (signal.aborted) return;
      failures += 1;
      waitMs = error instanceof EventStreamError && error.retryAfterMs !== undefined
        ? error.retryAfterMs
        : Math.min(30_000, retryMs * 2 ** failures) * (0.5 + Math.random() / 2);
      onError?.(error);
    }
    await sleep(waitMs, signal);
  }
}

function taskEvent({ event, data }: Message): TaskEvent | undefined {
  if (event === "ready" || event === "changed") return { type: event, revision: (JSON.parse(data) as { revision: number }).revision };
  if (event === "reminder") return { type: "reminder", reminder: JSON.parse(data) as Reminder };
  return undefined; // a kind this version does not know: ignored, as the SSE standard does
}

interface Message {
  event: string;
  data: string;
  id?: string;
  retry?: number;
}

/** The messages of an SSE body, parsed as the HTML standard says (any of CRLF, LF, CR ends a line). */
async function* messages(body: ReadableStream<Uint8Array>): AsyncGenerator<Message> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  let retry: number | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.search(/[\r\n]/)) >= 0) {
        if (buffer[end] === "\r" && end === buffer.length - 1) break; // a CR whose LF may come next
        const line = buffer.slice(0, end);
        buffer = buffer.slice(buffer.startsWith("\r\n", end) ? end + 2 : end + 1);
        if (line === "") {
          if (data.length > 0 || event !== "") yield { event: event || "message", data: data.join("\n"), id, retry };
          [event, data, id, retry] = ["", [], undefined, undefined];
          continue;
        }
        if (line.startsWith(":")) continue; // a comment: the server's keep-alive
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + (line[colon + 1] === " " ? 2 : 1));
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
        else if (field === "id" && !text.includes("\0")) id = text;
        else if (field === "retry" && /^\d+$/.test(text)) retry = Number(text);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
