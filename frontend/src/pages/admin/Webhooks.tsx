import { useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import {
  Badge,
  Checkbox,
  DateTime,
  Dialog,
  Empty,
  Field,
  FormError,
  Loading,
  Notice,
  PageHeader,
  Pager,
  SelectField,
} from "../../components/ui";
import { api } from "../../lib/api";
import { EVENT_TYPES } from "../../lib/events";
import { fieldErrorsOf, useAction, usePaged } from "../../lib/hooks";

export interface WebhookEndpoint {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  status: "active" | "disabled";
  consecutive_failures: number;
  disabled_at: string | null;
  disabled_reason: string | null;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface WebhookAttempt {
  event_id: string;
  attempt: number;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  at: string;
  delivery_status: "pending" | "delivered" | "failed";
}

interface ShownSecret {
  url: string;
  secret: string;
  previousExpiresAt?: string | null;
}

const BASE = "/admin/webhooks";

/** The signing secret, shown once: after registration and after each rotation. */
function SecretNotice({ shown, onDismiss }: { shown: ShownSecret; onDismiss: () => void }) {
  return (
    <Notice tone="warning">
      <p>
        The signing secret of <strong>{shown.url}</strong> is shown this once. Copy it to the receiver now.
      </p>
      <p>
        <code data-testid="webhook-secret">{shown.secret}</code>{" "}
        <button type="button" className="button secondary small" onClick={() => void navigator.clipboard?.writeText(shown.secret)}>
          Copy
        </button>
      </p>
      {shown.previousExpiresAt && (
        <p>
          The previous secret also signs until <DateTime value={shown.previousExpiresAt} />.
        </p>
      )}
      <button type="button" className="button small" onClick={onDismiss}>
        I have stored it
      </button>
    </Notice>
  );
}

function RegisterForm({ onDone, onCancel }: { onDone: (endpoint: WebhookEndpoint & { secret: string }) => void; onCancel: () => void }) {
  const [url, setUrl] = useState("https://");
  const [types, setTypes] = useState<string[]>(["movement.completed"]);
  const [description, setDescription] = useState("");
  const action = useAction(async () => {
    const body: Record<string, unknown> = { url, event_types: types };
    if (description.trim()) body.description = description.trim();
    const created = await api.request<WebhookEndpoint & { secret: string }>("POST", BASE, { body });
    onDone(created);
  });
  const errors = fieldErrorsOf(action.error);
  return (
    <form
      className="stack"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void action.run();
      }}
    >
      <Field label="URL" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} errors={errors.url} hint="A public http(s) address; private and internal addresses are refused." />
      <fieldset className="stack">
        <legend>Event types</legend>
        {EVENT_TYPES.map((type) => (
          <Checkbox
            key={type}
            label={type}
            checked={types.includes(type)}
            onChange={(e) => setTypes(e.target.checked ? [...types, type] : types.filter((t) => t !== type))}
          />
        ))}
        {errors.event_types && <p className="field-error">{errors.event_types.join(" ")}</p>}
      </fieldset>
      <Field label="Description (optional)" value={description} maxLength={500} onChange={(e) => setDescription(e.target.value)} errors={errors.description} />
      <FormError error={action.error} shownFields={["url", "event_types", "description"]} />
      <div className="actions">
        <button type="button" className="button secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button" disabled={action.pending || types.length === 0}>
          Register
        </button>
      </div>
    </form>
  );
}

function Deliveries({ endpoint }: { endpoint: WebhookEndpoint }) {
  const queryClient = useQueryClient();
  const path = `${BASE}/${endpoint.id}/deliveries`;
  const list = usePaged<WebhookAttempt>(path, {}, 20);
  const [queued, setQueued] = useState<string | null>(null);
  const redeliver = useAction(async (eventId: string) => {
    await api.request("POST", `${path}/${eventId}/redeliver`);
    setQueued(eventId);
    await queryClient.invalidateQueries({ queryKey: [path] });
  });
  return (
    <section className="stack" aria-label="Deliveries">
      {queued && <Notice tone="success">Event {queued} will be delivered again in a moment.</Notice>}
      <FormError error={redeliver.error} />
      {list.isLoading ? (
        <Loading />
      ) : list.error ? (
        <FormError error={list.error} />
      ) : !list.data?.items.length ? (
        <Empty>No delivery attempts yet.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="stacked">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Attempt</th>
                <th scope="col">Answer</th>
                <th scope="col">Duration</th>
                <th scope="col">Delivery</th>
                <th scope="col"><span className="visually-hidden">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((a) => (
                <tr key={`${a.event_id}-${a.attempt}`}>
                  <td data-label="When"><DateTime value={a.at} /></td>
                  <td data-label="Event"><code>{a.event_id}</code></td>
                  <td data-label="Attempt">{a.attempt}</td>
                  <td data-label="Answer">{a.status_code ?? "—"}{a.error ? ` (${a.error})` : ""}</td>
                  <td data-label="Duration">{a.duration_ms} ms</td>
                  <td data-label="Delivery"><Badge status={a.delivery_status} /></td>
                  <td data-label="Actions" className="row-actions">
                    <button
                      type="button"
                      className="button secondary small"
                      disabled={redeliver.pending || endpoint.status !== "active"}
                      onClick={() => void redeliver.run(a.event_id)}
                    >
                      Redeliver
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={list.page} hasNext={list.hasNext} hasPrevious={list.hasPrevious} onNext={list.goNext} onPrevious={list.goPrevious} />
    </section>
  );
}

export function WebhooksPage() {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState("");
  const [registering, setRegistering] = useState(false);
  const [shown, setShown] = useState<ShownSecret | null>(null);
  const [viewing, setViewing] = useState<WebhookEndpoint | null>(null);
  const list = usePaged<WebhookEndpoint>(BASE, status ? { status } : {}, 25);
  const refresh = () => queryClient.invalidateQueries({ queryKey: [BASE] });

  const rotate = useAction(async (endpoint: WebhookEndpoint) => {
    if (!window.confirm(`Rotate the signing secret of ${endpoint.url}?`)) return;
    const result = await api.request<{ secret: string; previous_secret_expires_at: string }>("POST", `${BASE}/${endpoint.id}/rotate-secret`);
    setShown({ url: endpoint.url, secret: result.secret, previousExpiresAt: result.previous_secret_expires_at });
    await refresh();
  });
  const toggle = useAction(async (endpoint: WebhookEndpoint) => {
    const next = endpoint.status === "active" ? "disabled" : "active";
    await api.request("PATCH", `${BASE}/${endpoint.id}`, { body: { status: next } });
    await refresh();
  });
  const remove = useAction(async (endpoint: WebhookEndpoint) => {
    if (!window.confirm(`Delete ${endpoint.url} and its deliveries?`)) return;
    await api.request("DELETE", `${BASE}/${endpoint.id}`);
    await refresh();
  });

  return (
    <section>
      <PageHeader title="Webhooks">
        <button type="button" className="button" onClick={() => setRegistering(true)}>
          Register endpoint
        </button>
      </PageHeader>
      {shown && <SecretNotice shown={shown} onDismiss={() => setShown(null)} />}
      <form className="card filters" aria-label="Filter endpoints" onSubmit={(e) => e.preventDefault()}>
        <SelectField
          label="Status"
          value={status}
          onChange={(e) => {
            list.reset();
            setStatus(e.target.value);
          }}
        >
          <option value="">Any status</option>
          <option value="active">Active</option>
          <option value="disabled">Disabled</option>
        </SelectField>
      </form>
      <FormError error={rotate.error ?? toggle.error ?? remove.error} />
      <section className="card" aria-label="Webhook endpoints">
        {list.isLoading ? (
          <Loading />
        ) : list.error ? (
          <FormError error={list.error} />
        ) : !list.data?.items.length ? (
          <Empty>No webhook endpoints.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="stacked">
              <thead>
                <tr>
                  <th scope="col">URL</th>
                  <th scope="col">Event types</th>
                  <th scope="col">Status</th>
                  <th scope="col">Failures in a row</th>
                  <th scope="col">Registered</th>
                  <th scope="col"><span className="visually-hidden">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((w) => (
                  <tr key={w.id}>
                    <td data-label="URL">
                      <code>{w.url}</code>
                      {w.description && <div className="hint">{w.description}</div>}
                    </td>
                    <td data-label="Event types">{w.event_types.join(", ")}</td>
                    <td data-label="Status">
                      <Badge status={w.status} />
                      {w.disabled_reason && <div className="hint">{w.disabled_reason}</div>}
                    </td>
                    <td data-label="Failures in a row">{w.consecutive_failures}</td>
                    <td data-label="Registered"><DateTime value={w.created_at} /></td>
                    <td data-label="Actions" className="row-actions">
                      <button type="button" className="button secondary small" onClick={() => setViewing(w)}>
                        Deliveries
                      </button>
                      <button type="button" className="button secondary small" disabled={rotate.pending} onClick={() => void rotate.run(w)}>
                        Rotate secret
                      </button>
                      <button type="button" className="button secondary small" disabled={toggle.pending} onClick={() => void toggle.run(w)}>
                        {w.status === "active" ? "Disable" : "Enable"}
                      </button>
                      <button type="button" className="button secondary small" disabled={remove.pending} onClick={() => void remove.run(w)}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager page={list.page} hasNext={list.hasNext} hasPrevious={list.hasPrevious} onNext={list.goNext} onPrevious={list.goPrevious} />
      </section>
      <Dialog open={registering} title="Register a webhook endpoint" onClose={() => setRegistering(false)}>
        {registering && (
          <RegisterForm
            onCancel={() => setRegistering(false)}
            onDone={(created) => {
              setRegistering(false);
              setShown({ url: created.url, secret: created.secret });
              void refresh();
            }}
          />
        )}
      </Dialog>
      <Dialog open={viewing !== null} title={viewing ? `Deliveries to ${viewing.url}` : "Deliveries"} onClose={() => setViewing(null)}>
        {viewing && <Deliveries endpoint={viewing} />}
      </Dialog>
    </section>
  );
}
