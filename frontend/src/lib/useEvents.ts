import { useEffect, useRef, useState } from "react";
import { api } from "./api";
import { ApiError } from "./errors";
import { EventStream, type LiveEvent, type StreamStatus } from "./events";

/**
 * The signed-in person's live events while `enabled`: `onEvent` for each (the latest
 * callback is used), and the stream's status for an "offline — catching up" indicator.
 * One stream per mounted hook; it resumes after the last event on every reconnect.
 */
export function useEvents(onEvent: (event: LiveEvent) => void, enabled = true): StreamStatus {
  const [status, setStatus] = useState<StreamStatus>("idle");
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    if (!enabled) return;
    const stream = new EventStream({
      ticket: async () =>
        (await api.request<{ ticket: string; expires_in: number }>("POST", "/events/ticket")).ticket,
      // No stream for this role, or the session is over: stop rather than retry forever.
      isFatal: (error) => error instanceof ApiError && (error.status === 401 || error.status === 403),
      onEvent: (event) => handler.current(event),
      onStatus: setStatus,
    });
    stream.start();
    return () => stream.stop();
  }, [enabled]);
  return status;
}
