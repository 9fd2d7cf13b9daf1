import { describe, expect, it } from "vitest";
import { ApiClient, REFRESH_STORAGE_KEY } from "../src/lib/api";
import { ApiError } from "../src/lib/errors";

const user = { id: "u1", email: "a@b.c", first_name: "A", last_name: "B", roles: ["customer"] };

function tokens(n: number) {
  return { access_token: `access-${n}`, refresh_token: `refresh-${n}`, token_type: "Bearer", expires_in: 900, user };
}

function json(status: number, body: unknown): Response {
  return new Response(body === null ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

function envelope(status: number, code: string) {
  return json(status, { error: { code, message: `${code} happened`, details: null, request_id: "r" } });
}

class MemoryStorage {
  data = new Map<string, string>();
  getItem(k: string) {
    return this.data.get(k) ?? null;
  }
  setItem(k: string, v: string) {
    this.data.set(k, v);
  }
  removeItem(k: string) {
    this.data.delete(k);
  }
}

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A scripted server: each handler answers one request, in order. */
function server(handlers: ((call: Call) => Response | Promise<Response>)[]) {
  const calls: Call[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit) => {
    const call = {
      url: String(input),
      method: init?.method ?? "GET",
      headers: (init?.headers ?? {}) as Record<string, string>,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    calls.push(call);
    const handler = handlers.shift();
    if (!handler) throw new Error(`unexpected request ${call.method} ${call.url}`);
    return handler(call);
  };
  return { calls, fetch: fetchImpl as typeof fetch };
}

function client(handlers: Parameters<typeof server>[0]) {
  const s = server(handlers);
  const storage = new MemoryStorage();
  const api = new ApiClient({ fetch: s.fetch, storage });
  const signedOut: number[] = [];
  api.subscribe((u) => {
    if (u === null) signedOut.push(1);
  });
  return { api, calls: s.calls, storage, signedOut };
}

describe("token storage", () => {
  it("keeps the access token in memory and only the refresh token in session storage", () => {
    const { api, storage } = client([]);
    api.acceptTokens(tokens(1) as never);
    expect(api.accessToken).toBe("access-1");
    expect([...storage.data.entries()]).toEqual([[REFRESH_STORAGE_KEY, "refresh-1"]]);
    api.endSession();
    expect(api.accessToken).toBeNull();
    expect(storage.data.size).toBe(0);
  });
});

describe("refresh", () => {
  it("refreshes an expired access token once and retries the request", async () => {
    const { api, calls } = client([
      () => envelope(401, "token_expired"),
      () => json(200, tokens(2)),
      () => json(200, { items: [], next_cursor: null }),
    ]);
    api.acceptTokens(tokens(1) as never);

    const page = await api.request("GET", "/accounts");

    expect(page).toEqual({ items: [], next_cursor: null });
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "GET /api/v1/accounts",
      "POST /api/v1/auth/refresh",
      "GET /api/v1/accounts",
    ]);
    expect(calls[0].headers.Authorization).toBe("Bearer access-1");
    expect(calls[1].body).toEqual({ refresh_token: "refresh-1" });
    expect(calls[1].headers.Authorization).toBeUndefined();
    expect(calls[2].headers.Authorization).toBe("Bearer access-2");
    expect(api.accessToken).toBe("access-2");
  });

  it("presents a refresh token once even when requests expire together", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { api, calls } = client([
      () => envelope(401, "token_expired"),
      () => envelope(401, "token_expired"),
      async () => {
        await gate;
        return json(200, tokens(2));
      },
      () => json(200, { n: 1 }),
      () => json(200, { n: 2 }),
    ]);
    api.acceptTokens(tokens(1) as never);

    const both = Promise.all([api.request("GET", "/a"), api.request("GET", "/b")]);
    await new Promise((r) => setTimeout(r, 10));
    release();
    await both;

    expect(calls.filter((c) => c.url.endsWith("/auth/refresh"))).toHaveLength(1);
  });

  it("ends the session when the refresh fails, and does not loop", async () => {
    const { api, calls, storage, signedOut } = client([
      () => envelope(401, "token_expired"),
      () => envelope(401, "token_revoked"),
    ]);
    api.acceptTokens(tokens(1) as never);

    await expect(api.request("GET", "/accounts")).rejects.toMatchObject({ code: "token_expired" });

    expect(calls).toHaveLength(2);
    expect(api.accessToken).toBeNull();
    expect(storage.data.size).toBe(0);
    expect(signedOut).toEqual([1]);
  });

  it("refreshes at most once per request", async () => {
    const { api, calls, signedOut } = client([
      () => envelope(401, "token_expired"),
      () => json(200, tokens(2)),
      () => envelope(401, "token_expired"),
    ]);
    api.acceptTokens(tokens(1) as never);

    await expect(api.request("GET", "/accounts")).rejects.toBeInstanceOf(ApiError);
    expect(calls).toHaveLength(3);
    expect(signedOut).toEqual([1]);
  });

  it("restores a session after a reload from the refresh token", async () => {
    const { api, calls, storage } = client([() => json(200, tokens(7)), () => json(200, { ok: true })]);
    storage.setItem(REFRESH_STORAGE_KEY, "refresh-6");

    await api.request("GET", "/auth/me");

    expect(calls[0].body).toEqual({ refresh_token: "refresh-6" });
    expect(calls[1].headers.Authorization).toBe("Bearer access-7");
  });

  it("keeps the session when a 401 is an answer, not an expiry", async () => {
    const { api, signedOut } = client([() => envelope(401, "invalid_mfa_code")]);
    api.acceptTokens(tokens(1) as never);

    await expect(api.request("POST", "/auth/step-up", { body: { code: "1" } })).rejects.toMatchObject({
      code: "invalid_mfa_code",
    });
    expect(api.accessToken).toBe("access-1");
    expect(signedOut).toEqual([]);
  });
});

describe("step-up", () => {
  it("asks for a fresh token and retries with the same Idempotency-Key", async () => {
    const { api, calls } = client([
      () => envelope(401, "fresh_token_required"),
      () => json(201, { id: "t1", status: "completed" }),
    ]);
    api.acceptTokens(tokens(1) as never);
    const reasons: string[] = [];
    api.stepUpHandler = async (reason) => {
      reasons.push(reason);
      api.acceptTokens(tokens(2) as never);
      return true;
    };

    const txn = await api.request("POST", "/transactions/transfer", { body: { amount: "5000.00" }, idempotencyKey: "k-1" });

    expect(txn).toEqual({ id: "t1", status: "completed" });
    expect(reasons).toEqual(["fresh_token_required happened"]);
    expect(calls.map((c) => c.headers["Idempotency-Key"])).toEqual(["k-1", "k-1"]);
    expect(calls[1].headers.Authorization).toBe("Bearer access-2");
  });

  it("gives up when the person cancels the prompt", async () => {
    const { api, calls } = client([() => envelope(401, "fresh_token_required")]);
    api.acceptTokens(tokens(1) as never);
    api.stepUpHandler = async () => false;

    await expect(api.request("POST", "/cards/c/reveal")).rejects.toMatchObject({ code: "fresh_token_required" });
    expect(calls).toHaveLength(1);
    expect(api.accessToken).toBe("access-1");
  });
});

describe("errors", () => {
  it("turns the envelope into an ApiError with field errors", async () => {
    const { api } = client([
      () =>
        json(422, {
          error: { code: "validation_error", message: "Invalid input.", details: { password: ["Too short."], address: { city: ["Required."] } }, request_id: "r1" },
        }),
    ]);
    const error = (await api.request("POST", "/auth/register", { anonymous: true }).catch((e) => e)) as ApiError;
    expect(error.status).toBe(422);
    expect(error.message).toBe("Invalid input.");
    expect(error.fieldErrors).toEqual({ password: ["Too short."], "address.city": ["Required."] });
    expect(error.requestId).toBe("r1");
  });

  it("reports a network failure in words", async () => {
    const { api } = client([
      () => {
        throw new TypeError("Failed to fetch");
      },
    ]);
    await expect(api.request("GET", "/health", { anonymous: true })).rejects.toMatchObject({ status: 0, code: "network" });
  });
});
