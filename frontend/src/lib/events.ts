/**
 * The live event stream (`/api/v1/events/stream`, Server-Sent Events), kept open across
 * network drops, server restarts and the server's hourly end of a stream.
 *
 * A stream is opened with a single-use ticket (`POST /events/ticket`): the browser's
 * EventSource cannot send the bearer token. Because the ticket is spent when the stream
 * opens, EventSource's own reconnection (which would present it again and get 401) is never
 * relied on: on any error the source is closed and a new one is opened with a new ticket,
 * after an exponential backoff, resuming after the last event seen (`last_event_id`, as a
 * fresh EventSource cannot set the `Last-Event-ID` header). The server sends every event
 * after that one exactly once, in order.
 */

export interface LiveEvent {
  id: string;
  type: string;
  version: number;
  occurred_at: string;
  data: Record<string, unknown>;
  /** The stream position (`id:` of the frame): what a reconnect resumes after. */
  position: string;
}

/** `idle` before the first connection; `offline` while disconnected (catching up next). */
export type StreamStatus = "idle" | "connecting" | "live" | "offline" | "stopped";

/** The part of EventSource this module uses (a fake in the tests). */
export interface SourceLike {
  onopen: ((event: Event) => unknown) | null;
  onerror: ((event: Event) => unknown) | null;
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  close(): void;
}

/** The event types of API.md (EventSource delivers a named event only to its listener). */
export const EVENT_TYPES = [
  "movement.completed",
  "movement.held",
  "movement.released",
  "movement.reversed",
  "card.authorized",
  "card.declined",
  "alert.raised",
  "alert.decided",
  "kyc.decided",
  "sync.finished",
  "erasure.decided",
] as const;

export interface StreamOptions {
  /** A new ticket; rejects when none can be had (offline, signed out). */
  ticket: () => Promise<string>;
  onEvent: (event: LiveEvent) => void;
  onStatus?: (status: StreamStatus) => void;
  /** Whether an error from `ticket()` means stop for good (no role, signed out). */
  isFatal?: (error: unknown) => boolean;
  createSource?: (url: string) => SourceLike;
  baseUrl?: string;
  /** First wait before reconnecting, doubled each failure up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  schedule?: (fn: () => void, ms: number) => unknown;
  cancel?: (handle: unknown) => void;
}

/** The wait before reconnection attempt `attempt` (0 = first): exponential, capped. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt));
}

/** The stream URL for a ticket, resuming after `lastEventId` when there is one. */
export function streamUrl(baseUrl: string, ticket: string, lastEventId: string | null): string {
  const query = new URLSearchParams({ ticket });
  if (lastEventId) query.set("last_event_id", lastEventId);
  return `${baseUrl}/events/stream?${query.toString()}`;
}

export class EventStream {
  private source: SourceLike | null = null;
  private timer: unknown = null;
  private attempt = 0;
  private stopped = false;
  private generation = 0;
  /** The position of the last event received: the resume point. */
  lastEventId: string | null = null;
  status: StreamStatus = "idle";
  private readonly options: Required<
    Pick<StreamOptions, "baseUrl" | "initialDelayMs" | "maxDelayMs" | "schedule" | "cancel" | "createSource">
  > &
    StreamOptions;

  constructor(options: StreamOptions) {
    this.options = {
      baseUrl: "/api/v1",
      initialDelayMs: 1000,
      maxDelayMs: 30_000,
      schedule: (fn, ms) => setTimeout(fn, ms),
      cancel: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
      createSource: (url) => new EventSource(url) as unknown as SourceLike,
      ...options,
    };
  }

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.generation += 1;
    if (this.timer !== null) this.options.cancel(this.timer);
    this.timer = null;
    this.source?.close();
    this.source = null;
    this.setStatus("stopped");
  }

  private setStatus(status: StreamStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.options.onStatus?.(status);
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation;
    if (this.status !== "offline") this.setStatus("connecting");
    let ticket: string;
    try {
      ticket = await this.options.ticket();
    } catch (error) {
      if (generation !== this.generation || this.stopped) return;
      if (this.options.isFatal?.(error)) {
        this.stop();
        return;
      }
      this.retry();
      return;
    }
    if (generation !== this.generation || this.stopped) return;
    const source = this.options.createSource(streamUrl(this.options.baseUrl, ticket, this.lastEventId));
    this.source = source;
    source.onopen = () => {
      if (this.source !== source) return;
      this.attempt = 0;
      this.setStatus("live");
    };
    source.onerror = () => {
      if (this.source !== source) return;
      source.close(); // never let EventSource retry with the spent ticket
      this.source = null;
      this.retry();
    };
    const deliver = (message: MessageEvent) => {
      if (this.source !== source) return;
      if (message.lastEventId) this.lastEventId = message.lastEventId;
      let parsed: Omit<LiveEvent, "position">;
      try {
        parsed = JSON.parse(String(message.data));
      } catch {
        return;
      }
      this.options.onEvent({ ...parsed, position: message.lastEventId });
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, deliver);
    source.addEventListener("message", deliver);
  }

  private retry(): void {
    if (this.stopped) return;
    this.setStatus("offline");
    const delay = backoffDelay(this.attempt, this.options.initialDelayMs, this.options.maxDelayMs);
    this.attempt += 1;
    this.timer = this.options.schedule(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }
}

/**
 * The API paths whose cached answers an event makes stale: a movement changes balances and
 * histories, a card event the cards (and the funds an authorization holds), an alert the
 * officers' alert lists.
 */
export function stalePaths(type: string): string[] {
  if (type.startsWith("movement.")) return ["/accounts", "/transactions", "/wealth"];
  if (type.startsWith("card.")) return ["/cards", "/accounts", "/transactions"];
  if (type.startsWith("alert.")) return ["/compliance/alerts"];
  if (type === "kyc.decided") return ["/kyc", "/compliance/kyc"];
  if (type === "sync.finished") return ["/linked-accounts", "/wealth"];
  return [];
}

/** Whether a query key (`[path, query]`, see `useApi`) reads under one of `paths`. */
export function keyUnder(key: readonly unknown[], paths: string[]): boolean {
  const path = key[0];
  if (typeof path !== "string") return false;
  return paths.some((p) => path === p || path.startsWith(`${p}/`) || path.startsWith(`${p}?`));
}
