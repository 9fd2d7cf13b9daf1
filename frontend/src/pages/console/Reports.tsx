import { useState, type FormEvent } from "react";
import { Field, FormError, Money, PageHeader } from "../../components/ui";
import { api } from "../../lib/api";
import { fieldErrorsOf, saveBlob, useAction } from "../../lib/hooks";

interface CtrRow {
  customer?: { id?: string; first_name?: string; last_name?: string; email?: string };
  threshold?: string;
  customer_id?: string;
  user_id?: string;
  name?: string;
  date?: string;
  total?: string;
  amount?: string;
  currency?: string;
  transactions?: number | unknown[];
  transaction_count?: number;
}

function Ctr() {
  const today = new Date().toISOString().slice(0, 10);
  const [range, setRange] = useState({ from: today.slice(0, 8) + "01", to: today });
  const [rows, setRows] = useState<CtrRow[] | null>(null);
  const run = useAction(async () => {
    const data = await api.request<{ customers?: CtrRow[]; items?: CtrRow[] } | CtrRow[]>("GET", "/compliance/reports/ctr", {
      query: { ...range, format: "json" },
    });
    setRows(Array.isArray(data) ? data : (data.customers ?? data.items ?? []));
  });
  const csv = useAction(async () => {
    const { blob, filename } = await api.download("/compliance/reports/ctr", { ...range, format: "csv" });
    saveBlob(blob, filename ?? `ctr-${range.from}-${range.to}.csv`);
  });
  const fields = fieldErrorsOf(run.error ?? csv.error);
  return (
    <section className="card" aria-labelledby="ctr-title">
      <h2 id="ctr-title">Currency transaction report</h2>
      <p className="muted">Customers over the daily cash threshold.</p>
      <form
        className="filters"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void run.run();
        }}
      >
        <Field label="From" type="date" value={range.from} onChange={(e) => setRange({ ...range, from: e.target.value })} errors={fields.from} />
        <Field label="To" type="date" value={range.to} onChange={(e) => setRange({ ...range, to: e.target.value })} errors={fields.to} />
        <div className="actions filters-actions">
          <button type="button" className="button secondary" onClick={() => void csv.run()} disabled={csv.pending}>
            Download CSV
          </button>
          <button type="submit" className="button" disabled={run.pending}>
            Show report
          </button>
        </div>
      </form>
      <FormError error={run.error ?? csv.error} shownFields={["from", "to"]} />
      {rows && (rows.length === 0 ? (
        <p className="empty">Nobody crossed the threshold in this period.</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Customer</th>
                <th scope="col">Date</th>
                <th scope="col">Cash total</th>
                <th scope="col">Transactions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => (
                <tr key={i}>
                  <td>
                    {r.customer ? `${r.customer.first_name ?? ""} ${r.customer.last_name ?? ""}`.trim() || r.customer.email : (r.name ?? r.customer_id ?? r.user_id)}
                  </td>
                  <td>{r.date ?? "—"}</td>
                  <td>{r.currency && (r.total ?? r.amount) ? <Money amount={(r.total ?? r.amount)!} currency={r.currency} /> : (r.total ?? r.amount)}</td>
                  <td>{Array.isArray(r.transactions) ? r.transactions.length : (r.transactions ?? r.transaction_count ?? "—")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </section>
  );
}

function Sar() {
  const [alertId, setAlertId] = useState("");
  const [draft, setDraft] = useState<unknown>(null);
  const run = useAction(async () => setDraft(await api.request("GET", `/compliance/reports/sar/${encodeURIComponent(alertId.trim())}`)));
  const fields = fieldErrorsOf(run.error);
  return (
    <section className="card" aria-labelledby="sar-title">
      <h2 id="sar-title">Suspicious activity report</h2>
      <p className="muted">A draft SAR for an alert, to review before filing.</p>
      <form
        className="inline-form"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void run.run();
        }}
      >
        <Field label="Alert id" value={alertId} onChange={(e) => setAlertId(e.target.value)} errors={fields.alert_id} required />
        <button type="submit" className="button" disabled={run.pending || !alertId.trim()}>
          Draft SAR
        </button>
      </form>
      <FormError error={run.error} shownFields={["alert_id"]} />
      {draft !== null && (
        <>
          <pre className="code-block" tabIndex={0} aria-label="SAR draft">{JSON.stringify(draft, null, 2)}</pre>
          <button
            type="button"
            className="button secondary"
            onClick={() => saveBlob(new Blob([JSON.stringify(draft, null, 2)], { type: "application/json" }), `sar-${alertId.trim()}.json`)}
          >
            Download draft
          </button>
        </>
      )}
    </section>
  );
}

export function ReportsPage() {
  return (
    <section>
      <PageHeader title="Reports" />
      <Ctr />
      <Sar />
    </section>
  );
}
