/**
 * One Idempotency-Key per submission of a money-moving form.
 *
 * The key is kept while the same body is retried (a double click, a network failure, a 5xx, a
 * request still in flight, a step-up prompt) so the server replays the first outcome instead of
 * paying twice. A changed body, or an outcome the server has decided (success or a 4xx it
 * stores), starts a new submission with a new key.
 */

import { ApiError } from "./errors";

/** Canonical JSON: keys sorted, so the same body always gives the same fingerprint. */
export function fingerprint(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "undefined";
  if (Array.isArray(value)) return `[${value.map(fingerprint).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${fingerprint(v)}`).join(",")}}`;
}

/** Codes after which the same submission may be sent again and must keep its key. */
const RETRYABLE_CODES = new Set(["request_in_progress", "fresh_token_required", "rate_limited"]);

/** Whether an error leaves the submission open (retry with the same key). */
export function isRetryable(error: unknown): boolean {
  if (!(error instanceof ApiError)) return true; // network failure: the request may have landed
  return error.status >= 500 || error.status === 0 || RETRYABLE_CODES.has(error.code);
}

function randomKey(): string {
  return crypto.randomUUID();
}

export class IdempotencyKeeper {
  private key: string | null = null;
  private print: string | null = null;

  constructor(private readonly newKey: () => string = randomKey) {}

  /** The key for this body: the kept one when the body is unchanged, else a fresh one. */
  keyFor(body: unknown): string {
    const print = fingerprint(body);
    if (this.key === null || print !== this.print) {
      this.key = this.newKey();
      this.print = print;
    }
    return this.key;
  }

  /** Record the outcome: a decided one ends the submission, a retryable one keeps the key. */
  settle(error?: unknown): void {
    if (error === undefined || !isRetryable(error)) this.reset();
  }

  reset(): void {
    this.key = null;
    this.print = null;
  }

  /** The current key, if a submission is open. */
  get current(): string | null {
    return this.key;
  }
}
