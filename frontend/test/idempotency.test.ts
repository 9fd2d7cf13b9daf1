import { describe, expect, it } from "vitest";
import { ApiError } from "../src/lib/errors";
import { fingerprint, IdempotencyKeeper, isRetryable } from "../src/lib/idempotency";

function keeper() {
  let n = 0;
  return new IdempotencyKeeper(() => `key-${++n}`);
}

const body = { from_account_id: "a", amount: "10.00", currency: "USD", to_account_number: "123" };

describe("IdempotencyKeeper", () => {
  it("keeps one key while the same submission is retried", () => {
    const k = keeper();
    const first = k.keyFor(body);
    k.settle(new ApiError(0, "network", "offline"));
    expect(k.keyFor({ ...body })).toBe(first);
    k.settle(new ApiError(503, "unavailable", "down"));
    expect(k.keyFor(body)).toBe(first);
    k.settle(new ApiError(409, "request_in_progress", "busy"));
    expect(k.keyFor(body)).toBe(first);
    k.settle(new ApiError(401, "fresh_token_required", "step up"));
    expect(k.keyFor(body)).toBe(first);
  });

  it("ignores key order in the body", () => {
    const k = keeper();
    const first = k.keyFor({ a: 1, b: { c: 2, d: 3 } });
    expect(k.keyFor({ b: { d: 3, c: 2 }, a: 1 })).toBe(first);
  });

  it("gives a changed body a new key", () => {
    const k = keeper();
    const first = k.keyFor(body);
    expect(k.keyFor({ ...body, amount: "11.00" })).not.toBe(first);
  });

  it("starts a new submission after success or a decided failure", () => {
    const k = keeper();
    const first = k.keyFor(body);
    k.settle();
    const second = k.keyFor(body);
    expect(second).not.toBe(first);
    k.settle(new ApiError(422, "insufficient_funds", "no money"));
    expect(k.keyFor(body)).not.toBe(second);
  });

  it("classifies outcomes", () => {
    expect(isRetryable(new TypeError("fetch failed"))).toBe(true);
    expect(isRetryable(new ApiError(429, "rate_limited", ""))).toBe(true);
    expect(isRetryable(new ApiError(422, "validation_error", ""))).toBe(false);
    expect(isRetryable(new ApiError(403, "kyc_required", ""))).toBe(false);
  });

  it("fingerprints skip undefined fields like JSON.stringify does", () => {
    expect(fingerprint({ a: 1, b: undefined })).toBe(fingerprint({ a: 1 }));
    expect(fingerprint([1, "x", null])).toBe('[1,"x",null]');
  });
});
