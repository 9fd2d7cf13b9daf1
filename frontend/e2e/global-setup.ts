/**
 * Start the real backend for the end-to-end tests: a fresh PostgreSQL database migrated with
 * `flask init-db`, the demo users from `flask seed-demo`, gunicorn and the event stream server
 * (`flask events serve`) on free ports, and in front of them a small proxy that sends
 * `/api/v1/events/stream` to the stream server and the rest to gunicorn, as nginx does in
 * production. The teardown stops them and drops the database (KEEP_E2E_DATABASE=1 keeps it).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { createServer } from "node:net";
import { mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startMailbox } from "./mailbox";
import { E2E_CLIENT_ID, E2E_CLIENT_SECRET, startOidcProvider } from "./oidc-provider";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");
const backend = path.join(repo, "backend");
const bin = process.env.FLOWLET_BIN ?? path.join(repo, ".venv", "bin");
const pgHost = process.env.PGHOST ?? "127.0.0.1";
const pgUser = process.env.PGUSER ?? "postgres";
const pgPort = process.env.PGPORT ?? "5432";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function pg(command: string, ...args: string[]) {
  execFileSync(command, ["-h", pgHost, "-p", pgPort, "-U", pgUser, ...args], { stdio: "inherit" });
}

function flask(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(bin, "flask"), ["--app", "main", ...args], { cwd: backend, env, stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`flask ${args.join(" ")} exited with ${code}`))));
  });
}

/** Fixed euro reference rates (per 1 EUR), for every day asked. */
const RATES: Record<string, number> = { USD: 1.08, GBP: 0.85, CHF: 0.95, JPY: 162 };

/**
 * A Frankfurter-compatible rates service on 127.0.0.1 (`/{day}` and `/{start}..{end}`), so the
 * wealth pages have rates without the internet.
 */
function startRatesServer(port: number): Promise<Server> {
  const server = createHttpServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const path = url.pathname.replace(/^\/+/, "");
    const range = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})?$/.exec(path);
    const day = /^(\d{4}-\d{2}-\d{2}|latest)$/.exec(path);
    const base = url.searchParams.get("from") ?? "EUR";
    let body: unknown;
    if (range) {
      const rates: Record<string, typeof RATES> = {};
      const end = new Date(range[2] ?? new Date().toISOString().slice(0, 10));
      for (let d = new Date(range[1]); d <= end; d = new Date(d.getTime() + 86_400_000)) {
        rates[d.toISOString().slice(0, 10)] = RATES;
      }
      body = { amount: 1, base, start_date: range[1], end_date: end.toISOString().slice(0, 10), rates };
    } else if (day) {
      const date = day[1] === "latest" ? new Date().toISOString().slice(0, 10) : day[1];
      body = { amount: 1, base, date, rates: RATES };
    }
    response.writeHead(body ? 200 : 404, { "Content-Type": "application/json" });
    response.end(JSON.stringify(body ?? { message: "not found" }));
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

/** The production proxy's routing (deploy/nginx): the event stream to its own server. */
function startProxy(port: number, webPort: number, streamPort: number): Promise<Server> {
  const server = createHttpServer((request, response) => {
    const url = request.url ?? "/";
    const target = url.startsWith("/api/v1/events/stream") ? streamPort : webPort;
    const upstream = httpRequest(
      { host: "127.0.0.1", port: target, method: request.method, path: url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on("error", () => {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    });
    response.on("close", () => upstream.destroy());
    request.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

async function waitForHealth(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("the backend did not answer /health within 60 s");
}

export default async function globalSetup() {
  const checkout = createHash("sha1").update(repo).digest("hex").slice(0, 8);
  const database = process.env.E2E_DATABASE ?? `flowlet_e2e_${checkout}`;
  const port = await freePort();
  const streamPort = await freePort();
  const proxyPort = await freePort();
  const ratesServer = await startRatesServer(await freePort());
  const ratesAddress = ratesServer.address();
  const ratesPort = typeof ratesAddress === "object" && ratesAddress ? ratesAddress.port : 0;
  const baseUrl = `http://127.0.0.1:${port}`;
  // E-mails go through the outbox to a local SMTP sink; specs read them from this file.
  const mailFile = path.join(here, ".run", "mail.jsonl");
  mkdirSync(path.dirname(mailFile), { recursive: true });
  const mailbox = await startMailbox(mailFile);
  // Single sign-on providers: the bank's (staff) and a stand-in for Google (e2e/specs/sso.spec.ts).
  const staffIdpPort = await freePort();
  const googleIdpPort = await freePort();
  const identityProviders = [
    await startOidcProvider(staffIdpPort, {
      sub: "e2e-staff-1",
      email: "sso.officer@flowlet-e2e.com",
      given_name: "Sasha",
      family_name: "Officer",
      groups: ["flowlet-compliance"],
    }),
    await startOidcProvider(googleIdpPort, { sub: "e2e-google-1", email: "linked.customer@gmail-e2e.com" }),
  ];
  const streamUrl = `http://127.0.0.1:${streamPort}`;
  const publicUrl = `http://127.0.0.1:${proxyPort}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    FLOWLET_ENV: "development",
    DATABASE_URL: `postgresql://${pgUser}@${pgHost}:${pgPort}/${database}`,
    REDIS_URL: "", // jobs inline after commit; no shared Redis state
    RATELIMIT_ENABLED: "false", // many sign-ins from one address in a minute
    HOST: "127.0.0.1",
    PORT: String(port),
    WEB_CONCURRENCY: "2",
    GUNICORN_THREADS: "2",
    GUNICORN_ACCESS_LOG: "/dev/null",
    LOG_LEVEL: "WARNING",
    // A transfer of 500 or more to someone never paid before is held for review.
    FRAUD_REVIEW_THRESHOLD: "30",
    FRAUD_NEW_BENEFICIARY_AMOUNT: "500",
    FRAUD_SECURITY_CHANGE_WINDOW_SECONDS: "1",
    // No outside services: exchange rates come from the local stand-in above.
    EXCHANGE_RATES_URL: `http://127.0.0.1:${ratesPort}`,
    // Cards without the KYC step (identity checks have their own tests).
    CARD_REQUIRE_KYC: "false",
    // A login's token counts as fresh for 5 s only, so the step-up prompt can be reached.
    JWT_FRESH_SECONDS: "5",
    // Passkeys: WebAuthn refuses an IP address as relying party, so passkey specs open the app
    // as http://localhost:<port> (the same server).
    WEBAUTHN_RP_ID: "localhost",
    WEBAUTHN_ORIGINS: `http://localhost:${proxyPort}`,
    // The callback the providers send the browser back to is under FRONTEND_URL (below).
    OIDC_STAFF_ISSUER: `http://127.0.0.1:${staffIdpPort}`,
    OIDC_STAFF_CLIENT_ID: E2E_CLIENT_ID,
    OIDC_STAFF_CLIENT_SECRET: E2E_CLIENT_SECRET,
    OIDC_STAFF_GROUP_ROLES: "flowlet-compliance=compliance_officer,flowlet-admins=admin",
    OIDC_GOOGLE_ISSUER: `http://127.0.0.1:${googleIdpPort}`,
    OIDC_GOOGLE_CLIENT_ID: E2E_CLIENT_ID,
    OIDC_GOOGLE_CLIENT_SECRET: E2E_CLIENT_SECRET,
    WEB_DIST_DIR: process.env.WEB_DIST_DIR ?? path.join(repo, "frontend", "dist"),
    FRONTEND_URL: publicUrl,
    SMTP_HOST: "127.0.0.1",
    SMTP_PORT: String(mailbox.port),
    SMTP_STARTTLS: "false",
    // The stream server has no Redis to wake it here: it polls (tickets live in the database).
    EVENTS_POLL_SECONDS: "0.5",
    EVENTS_HEARTBEAT_SECONDS: "5",
  };
  delete env.PROMETHEUS_MULTIPROC_DIR;

  pg("dropdb", "--if-exists", "--force", database);
  pg("createdb", database);
  // Asynchronously: the rates stand-in in this process must answer while the seeders run.
  await flask(["init-db"], env);
  await flask(["seed-demo"], env);

  const logDir = path.join(here, ".run");
  mkdirSync(logDir, { recursive: true });
  const log = openSync(path.join(logDir, "backend.log"), "w");
  const server = spawn(path.join(bin, "gunicorn"), ["-c", "gunicorn.conf.py", "main:app"], {
    cwd: backend,
    env,
    stdio: ["ignore", log, log],
  });
  const streamLog = openSync(path.join(logDir, "stream.log"), "w");
  const streams = spawn(
    path.join(bin, "flask"),
    ["--app", "main", "events", "serve", "--host", "127.0.0.1", "--port", String(streamPort)],
    { cwd: backend, env, stdio: ["ignore", streamLog, streamLog] },
  );
  const proxy = await startProxy(proxyPort, port, streamPort);
  try {
    await waitForHealth(baseUrl, server);
    await waitForHealth(streamUrl, streams);
  } catch (error) {
    server.kill("SIGTERM");
    streams.kill("SIGTERM");
    ratesServer.close();
    mailbox.server.close();
    for (const idp of identityProviders) idp.close();
    proxy.close();
    throw new Error(`${(error as Error).message}; see frontend/e2e/.run/backend.log and stream.log`);
  }
  // The browser sees the proxy, which routes the event stream to its server (as nginx does).
  process.env.E2E_BASE_URL = publicUrl;
  process.env.E2E_MAIL_FILE = mailFile;

  const stop = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
      setTimeout(() => {
        child.kill("SIGKILL");
        resolve();
      }, 10_000).unref();
    });

  return async () => {
    proxy.closeAllConnections();
    proxy.close();
    await Promise.all([stop(server), stop(streams)]);
    ratesServer.close();
    mailbox.server.close();
    for (const idp of identityProviders) idp.close();
    if (!process.env.KEEP_E2E_DATABASE) pg("dropdb", "--if-exists", "--force", database);
  };
}
