import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Badge, DateTime, Empty, FormError, Loading, Money, PageHeader, Pager, SelectField } from "../../components/ui";
import { api } from "../../lib/api";
import { useApi, usePaged } from "../../lib/hooks";
import type { Alert, Transaction } from "../../lib/types";
import { DecisionForm } from "./common";
import { CustomerLink } from "./Customer";
import { SanctionsMatches, matchesOf } from "./Matches";

export function alertTransactions(alert: Alert): Transaction[] {
  if (alert.transactions?.length) return alert.transactions;
  return alert.transaction ? [alert.transaction] : [];
}

function AlertDetail({ id, onResolved }: { id: string; onResolved: () => void }) {
  const detail = useApi<Alert>(`/compliance/alerts/${id}`);
  if (detail.isLoading) return <Loading />;
  if (detail.error || !detail.data) return <FormError error={detail.error} />;
  const alert = detail.data;
  return (
    <div className="stack">
      <dl className="facts">
        <dt>Type</dt>
        <dd>{alert.alert_type ?? alert.type}</dd>
        <dt>Severity</dt>
        <dd><Badge status={alert.severity} /></dd>
        <dt>Rules</dt>
        <dd>{(alert.rules ?? []).join(", ") || "—"}</dd>
        <dt>Score</dt>
        <dd>{alert.score ?? "—"}</dd>
        {alert.customer ? (
          <>
            <dt>Customer</dt>
            <dd><CustomerLink customer={alert.customer} /></dd>
          </>
        ) : alert.customer_id ? (
          <>
            <dt>Customer</dt>
            <dd className="mono">{alert.customer_id}</dd>
          </>
        ) : null}
        {alert.hit_count ? (
          <>
            <dt>Hits</dt>
            <dd>{alert.hit_count}</dd>
          </>
        ) : null}
      </dl>
      {alert.explanation && <p>{alert.explanation}</p>}
      <SanctionsMatches matches={matchesOf(alert.details)} />
      <h3>Transactions</h3>
      <ul className="plain-list">
        {alertTransactions(alert).map((t) => (
          <li key={t.id}>
            <Money amount={t.amount} currency={t.currency} /> · {t.type} · <Badge status={t.status} /> · <DateTime value={t.created_at} />
          </li>
        ))}
      </ul>
      {alert.status !== "resolved" && (
        <DecisionForm
          decisions={[
            ["dismissed", "Dismiss", "primary"],
            ["escalated", "Escalate", "primary"],
            ["sar_filed", "File SAR", "danger"],
          ]}
          reasonLabel="Notes"
          reasonField="notes"
          onDecide={async (resolution, notes) => {
            await api.request("POST", `/compliance/alerts/${id}/resolve`, { body: { resolution, notes } });
            onResolved();
          }}
        />
      )}
      {alert.resolution && (
        <p>
          Resolved as <Badge status={alert.resolution} />: {alert.notes}
        </p>
      )}
    </div>
  );
}

export function AlertsPage() {
  const queryClient = useQueryClient();
  const [filters, setFilters] = useState({ status: "open", severity: "", type: "" });
  const [selected, setSelected] = useState<string | null>(null);
  const list = usePaged<Alert>("/compliance/alerts", filters, 25);
  const set = (name: keyof typeof filters) => (e: React.ChangeEvent<HTMLSelectElement>) => {
    list.reset();
    setFilters({ ...filters, [name]: e.target.value });
  };
  return (
    <section>
      <PageHeader title="Alerts" />
      <div className="card filters" role="group" aria-label="Filter alerts">
        <SelectField label="Status" value={filters.status} onChange={set("status")}>
          <option value="">Any</option>
          <option value="open">Open</option>
          <option value="resolved">Resolved</option>
        </SelectField>
        <SelectField label="Severity" value={filters.severity} onChange={set("severity")}>
          <option value="">Any</option>
          <option value="low">Low</option>
          <option value="medium">Medium</option>
          <option value="high">High</option>
          <option value="critical">Critical</option>
        </SelectField>
        <SelectField label="Type" value={filters.type} onChange={set("type")}>
          <option value="">Any</option>
          <option value="transaction_review">Held transfer</option>
          <option value="sanctions_hit">Sanctions hit</option>
          <option value="cash_threshold">Cash threshold</option>
          <option value="structuring">Structuring</option>
          <option value="rapid_movement">Rapid movement</option>
          <option value="velocity">Velocity</option>
          <option value="round_amounts">Round amounts</option>
          <option value="high_risk_country">High-risk country</option>
          <option value="dormant_account">Dormant account</option>
        </SelectField>
      </div>
      <div className="split">
        <section className="card" aria-label="Alert list">
          {list.isLoading ? (
            <Loading />
          ) : list.error ? (
            <FormError error={list.error} />
          ) : !list.data?.items.length ? (
            <Empty>No alerts match.</Empty>
          ) : (
            <ul className="select-list">
              {list.data.items.map((a) => (
                <li key={a.id}>
                  <button type="button" className={selected === a.id ? "selected" : ""} aria-pressed={selected === a.id} onClick={() => setSelected(a.id)}>
                    <span>{(a.alert_type ?? a.type ?? "alert").replace(/_/g, " ")}</span>
                    <Badge status={a.severity} />
                    {a.customer && (
                      <span className="muted">
                        {a.customer.name}
                        {a.customer.risk_level ? ` · ${a.customer.risk_level} risk` : ""}
                      </span>
                    )}
                    <span className="muted"><DateTime value={a.created_at} /></span>
                  </button>
                </li>
              ))}
            </ul>
          )}
          <Pager page={list.page} hasNext={list.hasNext} hasPrevious={list.hasPrevious} onNext={list.goNext} onPrevious={list.goPrevious} />
        </section>
        <section className="card" aria-label="Alert detail">
          {selected ? (
            <AlertDetail
              key={selected}
              id={selected}
              onResolved={() => void queryClient.invalidateQueries({ queryKey: ["/compliance/alerts"] })}
            />
          ) : (
            <Empty>Choose an alert to see its transactions and resolve it.</Empty>
          )}
        </section>
      </div>
    </section>
  );
}
