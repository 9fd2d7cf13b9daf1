/**
 * The only way the app talks to the server: JSON over `/api/v1`, bearer tokens, the error
 * envelope turned into ApiError.
 *
 * Tokens: the access token lives in memory only. The refresh token lives in sessionStorage
 * (this tab only, gone when the tab closes; never localStorage) so a reload keeps the session;
 * docs/security.md explains the choice. An expired access token is refreshed once, with one
 * refresh in flight at a time (a refresh token is single-use: presenting it twice would revoke
 * the whole session), and the request is retried once; when that fails the session ends and
 * `onSignedOut` sends the person to sign in. A 401 `fresh_token_required` asks the registered
 * step-up handler for a fresh token and retries the same request with the same headers,
 * including its Idempotency-Key.
 */

import { ApiError, type Envelope } from "./errors";
import type { Tokens, User } from "./types";

export const REFRESH_STORAGE_KEY = "flowlet.refresh_token";

const REFRESHABLE = new Set(["token_expired"]);
/** 401 codes that mean the session is over (other 401s, e.g. a wrong code, are answers). */
const SESSION_ENDED = new Set(["token_revoked", "invalid_token", "unauthorized"]);

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  idempotencyKey?: string;
  /** Skip the bearer token (sign-in, register, refresh). */
  anonymous?: boolean;
  /** Send and keep same-origin cookies: only the magic link's browser binding needs them. */
  withCookies?: boolean;
  signal?: AbortSignal;
}

export interface ClientOptions {
  fetch?: typeof fetch;
  storage?: Pick<Storage, "getItem" | "setItem" | "removeItem"> | null;
  baseUrl?: string;
}

type Listener = (user: User | null) => void;

export class ApiClient {
  private access: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private listeners = new Set<Listener>();
  private readonly fetchImpl: typeof fetch;
  private readonly storage: ClientOptions["storage"];
  private readonly baseUrl: string;
  /** Shows the step-up prompt; resolves true once `/auth/step-up` gave a fresh token. */
  stepUpHandler: ((reason: string) => Promise<boolean>) | null = null;

  constructor(options: ClientOptions = {}) {
    this.fetchImpl = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.storage =
      options.storage !== undefined
        ? options.storage
        : typeof sessionStorage !== "undefined"
          ? sessionStorage
          : null;
    this.baseUrl = options.baseUrl ?? "/api/v1";
  }

  /** Called with the user on sign-in and with null when the session ends. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get accessToken(): string | null {
    return this.access;
  }

  get hasSession(): boolean {
    return this.access !== null || this.storedRefresh() !== null;
  }

  /** Keep a new token pair (login, MFA, refresh, step-up). */
  acceptTokens(tokens: Tokens): void {
    this.access = tokens.access_token;
    this.storage?.setItem(REFRESH_STORAGE_KEY, tokens.refresh_token);
    this.emit(tokens.user);
  }

  /** Forget both tokens and tell the app the person is signed out. */
  endSession(): void {
    this.access = null;
    this.storage?.removeItem(REFRESH_STORAGE_KEY);
    this.emit(null);
  }

  private emit(user: User | null): void {
    for (const listener of this.listeners) listener(user);
  }

  private storedRefresh(): string | null {
    return this.storage?.getItem(REFRESH_STORAGE_KEY) ?? null;
  }

  /** Exchange the refresh token for a new pair; one exchange at a time. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const token = this.storedRefresh();
    if (!token) return false;
    try {
      const tokens = await this.send<Tokens>("POST", "/auth/refresh", {
        body: { refresh_token: token },
        anonymous: true,
      });
      this.acceptTokens(tokens);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 0) throw error; // offline: keep session
      return false;
    }
  }

  /** A JSON request with the session's rules (refresh once, step-up, envelope errors). */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.fetchWithSession(method, path, options, "application/json");
    return (await readBody(response)) as T;
  }

  /** A file download (statements, exports): the Blob and the server's file name. */
  async download(
    path: string,
    query?: RequestOptions["query"],
  ): Promise<{ blob: Blob; filename: string | null }> {
    const response = await this.fetchWithSession("GET", path, { query }, "*/*");
    const disposition = response.headers.get("Content-Disposition") ?? "";
    const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
    return { blob: await response.blob(), filename: match ? decodeURIComponent(match[1]) : null };
  }

  private async fetchWithSession(
    method: string,
    path: string,
    options: RequestOptions,
    accept: string,
  ): Promise<Response> {
    if (!options.anonymous && this.access === null && this.storedRefresh() !== null) {
      await this.refresh(); // a reload: the access token was only in memory
    }
    let refreshed = false;
    let steppedUp = false;
    for (;;) {
      const response = await this.raw(method, path, options, accept);
      if (response.ok) return response;
      const error = await toApiError(response);
      if (error.status === 401 && !options.anonymous) {
        if (REFRESHABLE.has(error.code)) {
          if (!refreshed) {
            refreshed = true;
            if (await this.refresh()) continue;
          }
          this.endSession(); // the refresh failed, or even a new token was refused
          throw error;
        }
        if (error.code === "fresh_token_required" && !steppedUp && this.stepUpHandler) {
          steppedUp = true;
          if (await this.stepUpHandler(error.message)) continue;
          throw error;
        }
        if (SESSION_ENDED.has(error.code)) this.endSession();
      }
      throw error;
    }
  }

  /** One request without session rules (used by the refresh itself). */
  private async send<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const response = await this.raw(method, path, options, "application/json");
    if (!response.ok) throw await toApiError(response);
    return (await readBody(response)) as T;
  }

  private async raw(
    method: string,
    path: string,
    options: RequestOptions,
    accept: string,
  ): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (!options.anonymous && this.access) headers.Authorization = `Bearer ${this.access}`;
    if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
    try {
      return await this.fetchImpl(this.baseUrl + path + queryString(options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
        credentials: options.withCookies ? "same-origin" : "omit",
        cache: "no-store",
      });
    } catch (cause) {
      if (cause instanceof DOMException && cause.name === "AbortError") throw cause;
      throw new ApiError(0, "network", "We could not reach Flowlet. Check your connection.");
    }
  }
}

export function queryString(query?: RequestOptions["query"]): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

async function readBody(response: Response): Promise<unknown> {
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export async function toApiError(response: Response): Promise<ApiError> {
  let body: Partial<Envelope> | null = null;
  try {
    body = (await response.json()) as Envelope;
  } catch {
    body = null;
  }
  const error = body?.error;
  return new ApiError(
    response.status,
    error?.code ?? `http_${response.status}`,
    error?.message ?? `The server answered ${response.status}.`,
    error?.details ?? null,
    error?.request_id ?? response.headers.get("X-Request-ID"),
  );
}

/** The app's one client. */
export const api = new ApiClient();
