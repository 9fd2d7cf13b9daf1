/** The API's error envelope as an exception the UI can show in words. */

export type FieldErrors = Record<string, string[]>;

export interface Envelope {
  error: { code: string; message: string; details?: unknown; request_id?: string };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = null,
    readonly requestId: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** Field errors from `details` (`{"field": ["reason"]}`), flattened one level for nesting. */
  get fieldErrors(): FieldErrors {
    return flattenDetails(this.details);
  }
}

export function flattenDetails(details: unknown, prefix = ""): FieldErrors {
  const out: FieldErrors = {};
  if (!details || typeof details !== "object" || Array.isArray(details)) return out;
  for (const [key, value] of Object.entries(details as Record<string, unknown>)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (Array.isArray(value)) {
      out[name] = value.map((v) => (typeof v === "string" ? v : JSON.stringify(v)));
    } else if (typeof value === "string") {
      out[name] = [value];
    } else if (value && typeof value === "object") {
      Object.assign(out, flattenDetails(value, name));
    }
  }
  return out;
}

const FRIENDLY: Record<string, string> = {
  invalid_credentials: "That e-mail/username and password do not match.",
  account_locked: "This sign-in is locked for now after too many attempts.",
  rate_limited: "Too many attempts. Please wait a moment and try again.",
  insufficient_funds: "There is not enough money in this account.",
  network: "We could not reach Flowlet. Check your connection and try again.",
};

/** A sentence for any error: the server's message, or a friendly one for well-known codes. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === "invalid_credentials" || error.code === "network") {
      return FRIENDLY[error.code];
    }
    return error.message || FRIENDLY[error.code] || "Something went wrong.";
  }
  if (error instanceof Error) return error.message;
  return "Something went wrong.";
}
