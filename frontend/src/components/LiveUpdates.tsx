import { useCallback, useEffect, useRef } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { keyUnder, stalePaths, type LiveEvent } from "../lib/events";
import { useEvents } from "../lib/useEvents";

const EVERYTHING_LIVE = ["/accounts", "/transactions", "/wealth", "/cards", "/compliance/alerts"];

/**
 * Keeps the pages current: each event refetches the lists it makes stale (balances and
 * histories on `movement.*`, cards on `card.*`, the officers' alerts on `alert.*`), and a
 * small status says when the stream is down and catching up.
 */
export function LiveUpdates({ enabled }: { enabled: boolean }) {
  const queryClient = useQueryClient();
  const onEvent = useCallback(
    (event: LiveEvent) => {
      const paths = stalePaths(event.type);
      if (paths.length) void queryClient.invalidateQueries({ predicate: (q) => keyUnder(q.queryKey, paths) });
    },
    [queryClient],
  );
  const status = useEvents(onEvent, enabled);
  // Back from offline: the stream resumed after the last event, but refetch once anyway in
  // case the gap outlived the events' retention.
  const wasOffline = useRef(false);
  useEffect(() => {
    if (status === "offline") wasOffline.current = true;
    if (status === "live" && wasOffline.current) {
      wasOffline.current = false;
      void queryClient.invalidateQueries({ predicate: (q) => keyUnder(q.queryKey, EVERYTHING_LIVE) });
    }
  }, [status, queryClient]);
  if (!enabled) return null;
  return (
    <span className={`live-status live-${status}`} aria-live="polite" data-testid="live-status" data-status={status}>
      {status === "offline" ? "Offline — catching up…" : status === "live" ? "Live" : ""}
    </span>
  );
}
