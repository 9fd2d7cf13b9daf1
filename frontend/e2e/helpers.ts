/** Helpers for the end-to-end specs: API calls for setup, TOTP codes, sign-in through the UI. */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { expect, type Page } from "@playwright/test";

export const DEMO_PASSWORD = "Flowlet-Demo-Pass-2026";

export function baseUrl(): string {
  const url = process.env.E2E_BASE_URL;
  if (!url) throw new Error("E2E_BASE_URL is not set (run through playwright.config.ts)");
  return url;
}

export async function call<T = any>(
  method: string,
  path: string,
  { token, body, key }: { token?: string; body?: unknown; key?: string } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (key) headers["Idempotency-Key"] = key;
  const response = await fetch(`${baseUrl()}/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

export async function login(email: string, password = DEMO_PASSWORD): Promise<string> {
  const result = await call("POST", "/auth/login", { body: { login: email, password } });
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return result.body.access_token;
}

export async function accounts(token: string): Promise<any[]> {
  const result = await call("GET", "/accounts?limit=200", { token });
  expect(result.status).toBe(200);
  return result.body.items;
}

/** A new customer with a USD account holding `deposit`. */
export async function newCustomer(first: string, deposit = "1000.00") {
  const email = `${first.toLowerCase()}-${randomUUID().slice(0, 8)}@flowlet-e2e.com`;
  const password = `Garden-Lantern-${randomUUID().slice(0, 8)}`;
  const registered = await call("POST", "/auth/register", {
    body: { email, password, first_name: first, last_name: "Tester", terms_accepted: true, privacy_accepted: true },
  });
  expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  const token = await login(email, password);
  const opened = await call("POST", "/accounts", { token, body: { account_type: "checking", currency: "USD", name: "Main" } });
  expect(opened.status, JSON.stringify(opened.body)).toBe(201);
  const deposited = await call("POST", "/transactions/deposit", {
    token,
    key: randomUUID(),
    body: { account_id: opened.body.id, amount: deposit, currency: "USD", reference: "Salary" },
  });
  expect(deposited.status, JSON.stringify(deposited.body)).toBe(201);
  return { email, password, token, account: opened.body };
}

function base32Decode(text: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of text.replace(/=+$/, "").toUpperCase()) {
    const value = alphabet.indexOf(char);
    if (value < 0) continue;
    bits += value.toString(2).padStart(5, "0");
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s), as authenticator apps compute it. */
export function totp(secret: string, at = Date.now()): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)));
  const mac = createHmac("sha1", base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

export async function signIn(page: Page, login: string, password = DEMO_PASSWORD) {
  await page.goto("/sign-in");
  await page.getByLabel("E-mail or username").fill(login);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/** Collect CSP violations and page errors; the specs assert there are none. */
export function watchConsole(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error" && /Content.Security.Policy|Refused to/i.test(message.text())) {
      problems.push(message.text());
    }
  });
  page.on("pageerror", (error) => problems.push(error.message));
  return problems;
}

/** Skip a spec whose backend has not landed, except in CI where nothing may skip. */
export async function requireEndpoint(test: { skip: (condition: boolean, reason: string) => void }, token: string, path: string) {
  const result = await call("GET", path, { token });
  const missing = result.status === 404; // a list endpoint answers 404 only when it has no route
  if (missing && process.env.CI) throw new Error(`${path} is missing from the backend`);
  test.skip(missing, `${path} is not in this backend yet`);
}

/** The text of the e-mails delivered to `address` so far (the SMTP sink of global-setup.ts). */
export function readMail(address: string): string[] {
  const file = process.env.E2E_MAIL_FILE;
  if (!file) throw new Error("E2E_MAIL_FILE is not set (run through playwright.config.ts)");
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { to: string[]; content: string })
    .filter((message) => message.to.includes(address))
    .map((message) => {
      const [head, ...rest] = message.content.split("\r\n\r\n");
      const body = rest.join("\r\n\r\n");
      if (/content-transfer-encoding:\s*base64/i.test(head)) return Buffer.from(body, "base64").toString("utf8");
      if (!/content-transfer-encoding:\s*quoted-printable/i.test(head)) return body;
      return body.replace(/=\r?\n/g, "").replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
    });
}

/** Wait for the latest e-mail to `address` whose text matches `pattern`, and return it. */
export async function waitForMail(address: string, pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const mails = readMail(address).filter((mail) => pattern.test(mail));
    if (mails.length) return mails[mails.length - 1];
    if (Date.now() > deadline) throw new Error(`no e-mail to ${address}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
