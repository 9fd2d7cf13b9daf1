import { useEffect, useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Badge, DateTime, Dialog, Empty, Field, FormError, Loading, Money, Notice, PageHeader, SelectField } from "../components/ui";
import { api } from "../lib/api";
import { useAction, useApi, fieldErrorsOf } from "../lib/hooks";
import { useAuth } from "../lib/auth";
import type { Broker, Job, LinkedAccount, Page, WealthSummary } from "../lib/types";

function itemsOf<T>(data: Page<T> | T[] | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.items;
}

/** Follow a background job until it ends, then refresh the linked accounts. */
function useJob(jobId: string | null) {
  const queryClient = useQueryClient();
  const job = useApi<Job>(jobId ? `/jobs/${jobId}` : null, undefined, {
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status === "finished" || status === "failed" ? false : 1500;
    },
  });
  const status = job.data?.status;
  useEffect(() => {
    if (status === "finished" || status === "failed") {
      void queryClient.invalidateQueries({ queryKey: ["/linked-accounts"] });
    }
  }, [status, queryClient]);
  return job.data;
}

function LinkForm({ brokers, onLinked }: { brokers: Broker[]; onLinked: (jobId: string) => void }) {
  const [code, setCode] = useState(brokers[0]?.code ?? "");
  const [credentials, setCredentials] = useState<Record<string, string>>({});
  const broker = brokers.find((b) => b.code === code);
  const properties = broker?.credentials_schema?.properties ?? {};
  const required = new Set(broker?.credentials_schema?.required ?? []);
  const link = useAction(async () => {
    const result = await api.request<{ job_id: string }>("POST", "/linked-accounts", {
      body: { broker_code: code, credentials },
    });
    onLinked(result.job_id);
  });
  const fields = fieldErrorsOf(link.error);
  return (
    <form
      className="stack"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void link.run();
      }}
    >
      <SelectField label="Broker" value={code} onChange={(e) => { setCode(e.target.value); setCredentials({}); }} errors={fields.broker_code}>
        {brokers.map((b) => (
          <option key={b.code} value={b.code}>
            {b.name} ({b.country})
          </option>
        ))}
      </SelectField>
      {Object.entries(properties).map(([name, spec]) => (
        <Field
          key={name}
          label={spec.title ?? name.replace(/_/g, " ")}
          type={/pass|pin|secret|token/i.test(name) || spec.format === "password" ? "password" : "text"}
          autoComplete="off"
          value={credentials[name] ?? ""}
          onChange={(e) => setCredentials({ ...credentials, [name]: e.target.value })}
          errors={fields[`credentials.${name}`]}
          required={required.has(name)}
        />
      ))}
      <p className="muted">Your credentials are encrypted and used only to read your holdings.</p>
      <FormError error={link.error} shownFields={["broker_code", ...Object.keys(properties).map((n) => `credentials.${n}`)]} />
      <button type="submit" className="button" disabled={link.pending || !code}>
        Link account
      </button>
    </form>
  );
}

function LinkedRow({ account, onJob }: { account: LinkedAccount; onJob: (id: string) => void }) {
  const queryClient = useQueryClient();
  const [code, setCode] = useState("");
  const sync = useAction(async () => onJob((await api.request<{ job_id: string }>("POST", `/linked-accounts/${account.id}/sync`)).job_id));
  const twoFa = useAction(async () =>
    onJob((await api.request<{ job_id: string }>("POST", `/linked-accounts/${account.id}/2fa`, { body: code ? { code } : {} })).job_id),
  );
  const remove = useAction(async () => {
    await api.request("DELETE", `/linked-accounts/${account.id}`);
    await queryClient.invalidateQueries({ queryKey: ["/linked-accounts"] });
  });
  const status = account.sync_status ?? account.status ?? "unknown";
  const error = account.last_sync_error ?? account.last_error;
  return (
    <li className="card linked">
      <div className="linked-head">
        <div>
          <p className="account-name">{account.display_name ?? account.broker_name ?? account.broker_code}</p>
          <p className="muted">
            Last synced <DateTime value={account.last_synced_at} />
          </p>
        </div>
        <Badge status={status} />
      </div>
      {account.balance && account.currency && (
        <p className="big-number">
          <Money amount={account.balance} currency={account.currency} />
        </p>
      )}
      {error && <Notice tone="warning">{error}</Notice>}
      {status === "pending_auth" && (
        <form className="inline-form" onSubmit={(e) => { e.preventDefault(); void twoFa.run(); }}>
          <Field
            label="Code from your broker"
            hint={account.challenge ?? "Your broker sent you a code to confirm this connection."}
            value={code}
            onChange={(e) => setCode(e.target.value)}
            inputMode="numeric"
          />
          <button type="submit" className="button">Confirm</button>
        </form>
      )}
      <FormError error={sync.error ?? remove.error ?? twoFa.error} />
      <div className="actions start">
        <button type="button" className="button secondary" disabled={sync.pending} onClick={() => void sync.run()}>
          Sync now
        </button>
        <button type="button" className="button secondary danger" disabled={remove.pending} onClick={() => void remove.run()}>
          Unlink
        </button>
      </div>
    </li>
  );
}

function Summary() {
  const { user } = useAuth();
  const summary = useApi<WealthSummary>("/wealth/summary", { base_currency: user?.base_currency }, { retry: false });
  if (!summary.isSuccess) return null;
  const s = summary.data;
  return (
    <section className="card" aria-labelledby="wealth-title">
      <div className="card-head">
        <h2 id="wealth-title">Net worth</h2>
        <span className="big-number">
          <Money amount={s.total} currency={s.base_currency} />
        </span>
      </div>
      <dl className="facts asset-classes">
        {s.asset_classes.map((c) => (
          <div key={c.asset_class} className="contents">
            <dt>{c.asset_class.replace(/_/g, " ")}</dt>
            <dd>
              <Money amount={c.value} currency={s.base_currency} />
            </dd>
          </div>
        ))}
      </dl>
      {s.missing_rates?.length ? (
        <p className="muted">No exchange rate yet for {s.missing_rates.join(", ")}; those holdings are left out.</p>
      ) : null}
    </section>
  );
}

export function InvestmentsPage() {
  const brokers = useApi<Page<Broker> | Broker[]>("/brokers", undefined, { retry: false });
  const linked = useApi<Page<LinkedAccount> | LinkedAccount[]>("/linked-accounts", undefined, { retry: false });
  const [linking, setLinking] = useState(false);
  const [jobId, setJobId] = useState<string | null>(null);
  const job = useJob(jobId);
  const unavailable = brokers.error && brokers.error.status === 404;
  return (
    <section>
      <PageHeader title="Investments">
        <button type="button" className="button" onClick={() => setLinking(true)} disabled={!brokers.isSuccess}>
          Link a broker
        </button>
      </PageHeader>
      <p className="lead">See your brokerage accounts next to your Flowlet money. We sync them daily.</p>
      <Summary />
      {job && (
        <Notice tone={job.status === "failed" ? "warning" : job.status === "finished" ? "success" : "info"}>
          {job.status === "failed"
            ? `Sync failed: ${job.error ?? "the broker did not answer."}`
            : job.status === "finished"
              ? "Sync finished."
              : "Syncing with your broker…"}
        </Notice>
      )}
      {unavailable ? (
        <Empty>Linking brokers is not available yet.</Empty>
      ) : linked.isLoading ? (
        <Loading />
      ) : linked.error ? (
        <FormError error={linked.error} />
      ) : itemsOf(linked.data).length === 0 ? (
        <Empty>No linked accounts yet.</Empty>
      ) : (
        <ul className="linked-list">
          {itemsOf(linked.data).map((a) => (
            <LinkedRow key={a.id} account={a} onJob={setJobId} />
          ))}
        </ul>
      )}
      <Dialog open={linking} title="Link a broker" onClose={() => setLinking(false)}>
        <LinkForm
          brokers={itemsOf(brokers.data)}
          onLinked={(id) => {
            setJobId(id);
            setLinking(false);
          }}
        />
      </Dialog>
    </section>
  );
}
