// A Better Auth server as a Next.js app would configure it: email and password, the JWT plugin with its
// defaults (EdDSA keys, iss and aud = the base URL, tokens valid 15 minutes), and users kept in memory.
// The interoperability tests (tests/http/test_betterauth.py) start it and stop it, and count the JWKS
// requests in its output: one line per request.
//
// Environment: PORT (required), BETTER_AUTH_SECRET (required: it encrypts the private keys and signs the
// session cookies), BETTER_AUTH_URL (default http://127.0.0.1:$PORT), JWKS_ROTATION_SECONDS (unset: keys
// never rotate; set: a key expires that many seconds after it was made, and the next token gets a new one).
import { createServer } from "node:http";

import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error("set PORT");
if (!process.env.BETTER_AUTH_SECRET) throw new Error("set BETTER_AUTH_SECRET");
const baseURL = process.env.BETTER_AUTH_URL || `http://127.0.0.1:${port}`;
const rotationInterval = process.env.JWKS_ROTATION_SECONDS ? Number(process.env.JWKS_ROTATION_SECONDS) : undefined;

const auth = betterAuth({
  baseURL,
  secret: process.env.BETTER_AUTH_SECRET,
  database: memoryAdapter({ user: [], session: [], account: [], verification: [], jwks: [] }),
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false }, // the tests sign up and ask for tokens faster than a person would
  telemetry: { enabled: false },
  plugins: [jwt({ jwks: { rotationInterval } })],
});

const handler = toNodeHandler(auth);
const server = createServer((request, response) => {
  response.on("finish", () => console.log(`${request.method} ${request.url} ${response.statusCode}`));
  handler(request, response);
});
server.listen(port, "127.0.0.1", () => console.log(`Better Auth listening on ${baseURL}`));
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections(); // idle keep-alive ones too, or close would wait for their clients to hang up
});
