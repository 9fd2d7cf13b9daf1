import { useCallback, useRef, useState } from "react";
import { useQuery, type UseQueryOptions } from "@tanstack/react-query";
import { api, type RequestOptions } from "./api";
import { ApiError } from "./errors";
import { IdempotencyKeeper } from "./idempotency";
import type { Page } from "./types";

/** GET a JSON resource with TanStack Query; the key is the path and its query. */
export function useApi<T>(
  path: string | null,
  query?: RequestOptions["query"],
  options: Partial<UseQueryOptions<T, ApiError>> = {},
) {
  return useQuery<T, ApiError>({
    queryKey: [path, query ?? {}],
    queryFn: ({ signal }) => api.request<T>("GET", path as string, { query, signal }),
    enabled: path !== null,
    ...options,
  });
}

/** A cursor-paged list: next and previous pages, the cursor stack kept in state. */
export function usePaged<T>(path: string | null, query: RequestOptions["query"], limit = 20) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const result = useApi<Page<T>>(path, { ...query, limit, cursor });
  const next = result.data?.next_cursor ?? null;
  return {
    ...result,
    page: cursors.length,
    hasNext: next !== null,
    hasPrevious: cursors.length > 1,
    goNext: () => next && setCursors((c) => [...c, next]),
    goPrevious: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
    reset: () => setCursors([null]),
  };
}

/**
 * Submit a money-moving request with one Idempotency-Key per submission: a second click while
 * the first is in flight is ignored, and a retry of the same body reuses the key.
 */
export function useIdempotentSubmit<TBody, TResult>(method: string, path: string) {
  const keeper = useRef(new IdempotencyKeeper());
  const inFlight = useRef<Promise<TResult> | null>(null);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = useCallback(
    async (body: TBody, overridePath?: string): Promise<TResult> => {
      if (inFlight.current) return inFlight.current;
      const key = keeper.current.keyFor({ path: overridePath ?? path, body });
      setPending(true);
      setError(null);
      const request = api
        .request<TResult>(method, overridePath ?? path, { body, idempotencyKey: key })
        .then(
          (result) => {
            keeper.current.settle();
            return result;
          },
          (failure) => {
            keeper.current.settle(failure);
            setError(failure);
            throw failure;
          },
        )
        .finally(() => {
          inFlight.current = null;
          setPending(false);
        });
      inFlight.current = request;
      return request;
    },
    [method, path],
  );
  return { submit, pending, error, setError, keeper: keeper.current };
}

/** Run an async action with pending and error state (for non-money forms). */
export function useAction<TArgs extends unknown[], TResult>(
  action: (...args: TArgs) => Promise<TResult>,
) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(
    async (...args: TArgs): Promise<TResult | undefined> => {
      setPending(true);
      setError(null);
      try {
        return await action(...args);
      } catch (failure) {
        setError(failure);
        return undefined;
      } finally {
        setPending(false);
      }
    },
    [action],
  );
  return { run, pending, error, setError };
}

/** Save a Blob as a file (statements, exports). */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function fieldErrorsOf(error: unknown): Record<string, string[]> {
  return error instanceof ApiError ? error.fieldErrors : {};
}
