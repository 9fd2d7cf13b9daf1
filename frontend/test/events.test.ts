import { describe, expect, it } from "vitest";
import { EventStream, backoffDelay, keyUnder, stalePaths, streamUrl, type LiveEvent, type SourceLike } from "../src/lib/events";

class FakeSource implements SourceLike {
  onopen: ((event: Event) => unknown) | null = null;
  onerror: ((event: Event) => unknown) | null = null;
  listeners = new Map<string, ((event: MessageEvent) => void)[]>();
  closed = false;
  constructor(readonly url: string) {}
  addEventListener(type: string, listener: (event: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  close() {
    this.closed = true;
  }
  open() {
    this.onopen?.(new Event("open"));
  }
  fail() {
    this.onerror?.(new Event("error"));
  }
  emit(position: number, type: string, data: Record<string, unknown> = {}) {
    const body = { id: `e${position}`, type, version: 1, occurred_at: "2026-01-01T00:00:00Z", data };
    const message = new MessageEvent(type, { data: JSON.stringify(body), lastEventId: String(position) });
    for (const listener of this.listeners.get(type) ?? []) listener(message);
  }
}

function harness(tickets: (() => Promise<string>)[] = []) {
  const sources: FakeSource[] = [];
  const timers: { fn: () => void; ms: number }[] = [];
  const received: LiveEvent[] = [];
  const statuses: string[] = [];
  let n = 0;
  const stream = new EventStream({
    ticket: () => (tickets[n] ? tickets[n++]() : Promise.resolve(`t${++n}`)),
    onEvent: (event) => received.push(event),
    onStatus: (status) => statuses.push(status),
    isFatal: (error) => error === "fatal",
    createSource: (url) => {
      const source = new FakeSource(url);
      sources.push(source);
      return source;
    },
    schedule: (fn, ms) => timers.push({ fn, ms }),
    cancel: () => undefined,
    initialDelayMs: 100,
    maxDelayMs: 1000,
  });
  return { stream, sources, timers, received, statuses };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("the event stream", () => {
  it("opens with a ticket and starts at the end (no last_event_id)", async () => {
    const { stream, sources } = harness();
    stream.start();
    await tick();
    expect(sources[0].url).toBe("/api/v1/events/stream?ticket=t1");
  });

  it("reconnects with a new ticket after the last event, never reusing the spent one", async () => {
    const { stream, sources, timers, received, statuses } = harness();
    stream.start();
    await tick();
    sources[0].open();
    sources[0].emit(41, "movement.completed", { amount: "1.00" });
    sources[0].emit(42, "alert.raised");
    sources[0].fail();
    expect(sources[0].closed).toBe(true); // EventSource would retry with the spent ticket
    expect(statuses).toEqual(["connecting", "live", "offline"]);
    expect(timers.map((t) => t.ms)).toEqual([100]);
    timers[0].fn();
    await tick();
    expect(sources[1].url).toBe("/api/v1/events/stream?ticket=t2&last_event_id=42");
    sources[1].open();
    expect(statuses.at(-1)).toBe("live");
    expect(received.map((e) => [e.position, e.type])).toEqual([
      ["41", "movement.completed"],
      ["42", "alert.raised"],
    ]);
    // Events of a closed source are ignored.
    sources[0].emit(43, "movement.completed");
    expect(received).toHaveLength(2);
  });

  it("backs off exponentially while failing, and starts over once live", async () => {
    const failing = () => Promise.reject(new Error("offline"));
    const { stream, sources, timers } = harness([failing, failing, failing]);
    stream.start();
    for (let i = 0; i < 3; i++) {
      await tick();
      timers[i].fn();
    }
    await tick();
    expect(timers.map((t) => t.ms)).toEqual([100, 200, 400]);
    sources[0].open();
    sources[0].fail();
    expect(timers.at(-1)!.ms).toBe(100);
    expect(backoffDelay(10, 100, 1000)).toBe(1000);
  });

  it("stops for good when the ticket is refused for the role or the session", async () => {
    const { stream, sources, timers, statuses } = harness([() => Promise.reject("fatal")]);
    stream.start();
    await tick();
    expect(sources).toHaveLength(0);
    expect(timers).toHaveLength(0);
    expect(statuses.at(-1)).toBe("stopped");
  });

  it("names what each event makes stale", () => {
    expect(stalePaths("movement.completed")).toContain("/accounts");
    expect(stalePaths("card.authorized")).toContain("/cards");
    expect(stalePaths("alert.raised")).toEqual(["/compliance/alerts"]);
    expect(keyUnder(["/accounts/abc", {}], ["/accounts"])).toBe(true);
    expect(keyUnder(["/accountsx", {}], ["/accounts"])).toBe(false);
    expect(streamUrl("/api/v1", "a b", null)).toBe("/api/v1/events/stream?ticket=a+b");
  });
});
