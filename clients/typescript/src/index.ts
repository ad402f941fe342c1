// A typed client for the Task API. Every path, parameter, body and answer is typed by schema.d.ts,
// which openapi-typescript generates from the service's OpenAPI document (`make client`); nothing
// here restates a type by hand.
import createClient, { type Client, type ClientOptions } from "openapi-fetch";
import type { paths } from "./schema.js";

export type * from "./schema.js";
export type TaskApi = Client<paths>;

/** A bearer token (a Better Auth JWT), or a function giving the current one: tokens expire, so a web app refreshes them. */
export type TokenSource = string | (() => string | Promise<string>);

export interface TaskApiOptions extends ClientOptions {
  token?: TokenSource;
}

/** A client whose every request carries `Authorization: Bearer <token>` when a token is given. */
export function createTaskApi({ token, ...options }: TaskApiOptions = {}): TaskApi {
  const client = createClient<paths>(options);
  if (token !== undefined) {
    client.use({
      async onRequest({ request }) {
        request.headers.set("Authorization", `Bearer ${typeof token === "function" ? await token() : token}`);
        return request;
      },
    });
  }
  return client;
}

/**
 * The `cursor` of the next page, from a list answer's `Link: <...>; rel="next"` header (RFC 8288),
 * or undefined on the last page. Pass it back as the `cursor` query parameter, with the same `sort`.
 */
export function nextCursor(response: Response): string | undefined {
  for (const link of (response.headers.get("Link") ?? "").split(",")) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(link);
    if (match?.[1] !== undefined && /(^|;)\s*rel="?next"?\s*(;|$)/.test(match[2] ?? "")) {
      return new URL(match[1], "http://relative.invalid").searchParams.get("cursor") ?? undefined;
    }
  }
  return undefined;
}

export { EventStreamError, subscribe, type SubscribeOptions, type TaskEvent } from "./events.js";
