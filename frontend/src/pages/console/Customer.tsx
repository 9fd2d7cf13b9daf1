import { Link, useParams } from "react-router-dom";
import { useQueryClient } from "@tanstack/react-query";
import { Badge, DateTime, Empty, FormError, Loading, Money, PageHeader } from "../../components/ui";
import { api } from "../../lib/api";
import { useApi } from "../../lib/hooks";
import { factorValue, type CustomerOverview, type CustomerRisk } from "../../lib/types";
import { DecisionForm } from "./common";

/** A customer's name linking to their page, with the risk level beside it. */
export function CustomerLink({ customer }: { customer: { id: string; name: string; risk_level: string | null } }) {
  return (
    <span className="customer-link">
      <Link to={`/console/customers/${customer.id}`}>{customer.name || customer.id}</Link>{" "}
      {customer.risk_level && <Badge status={`risk_${customer.risk_level}`} />}
    </span>
  );
}

export function RiskFactors({ risk }: { risk: CustomerRisk }) {
  return (
    <table className="table" aria-label="Risk factors">
      <thead>
        <tr><th>Factor</th><th>Value</th><th>Weight</th></tr>
      </thead>
      <tbody>
        {risk.factors.map((f) => (
          <tr key={f.factor}>
            <td>{f.factor.replace(/_/g, " ")}</td>
            <td>{factorValue(f.value)}</td>
            <td>{f.weight}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function EddPanel({ customer, onChange }: { customer: CustomerOverview; onChange: () => Promise<void> }) {
  const status = customer.risk.edd_status ?? "not_required";
  const base = `/compliance/customers/${customer.id}/edd`;
  return (
    <section className="card stack" aria-label="Enhanced due diligence">
      <h3>Enhanced due diligence</h3>
      <p>Status: <Badge status={status} /></p>
      {status === "required" || status === "rejected" ? (
        <DecisionForm
          decisions={[["propose", "Propose sign-off", "primary"]]}
          onDecide={async (_decision, reason) => {
            await api.request("POST", base, { body: { reason } });
            await onChange();
          }}
        />
      ) : null}
      {status === "proposed" && customer.edd && (
        <>
          <p>Proposed: {customer.edd.reason}</p>
          <DecisionForm
            decisions={[["approve", "Approve", "primary"], ["reject", "Reject", "danger"]]}
            onDecide={async (decision, reason) => {
              await api.request("POST", `${base}/decision`, { body: { decision, reason } });
              await onChange();
            }}
          />
        </>
      )}
      {customer.edd?.decision_reason && <p className="muted">Decision: {customer.edd.decision_reason}</p>}
    </section>
  );
}

export function CustomerPage() {
  const { userId } = useParams();
  const queryClient = useQueryClient();
  const path = `/compliance/customers/${userId}`;
  const detail = useApi<CustomerOverview>(userId ? path : null);
  if (detail.isLoading) return <Loading />;
  if (detail.error || !detail.data) return <FormError error={detail.error} />;
  const c = detail.data;
  const refresh = () => queryClient.invalidateQueries({ queryKey: [path] });
  return (
    <section className="stack">
      <PageHeader title={c.name || "Customer"} />
      <div className="card">
        <dl className="facts">
          <dt>Email</dt><dd>{c.email}</dd>
          <dt>KYC</dt><dd><Badge status={c.kyc_status} /> level {c.kyc_level}</dd>
          <dt>Nationality</dt><dd>{c.kyc_case?.nationality ?? "—"}</dd>
          <dt>Residence</dt><dd>{c.kyc_case?.residence ?? "—"}</dd>
          <dt>Politically exposed</dt><dd>{c.kyc_case?.politically_exposed ? "yes" : "no"}</dd>
        </dl>
      </div>
      <section className="card stack" aria-label="Risk rating">
        <h3>Risk rating</h3>
        <p>
          <Badge status={`risk_${c.risk.level}`} /> score {c.risk.score} · rated <DateTime value={c.risk.rated_at} /> · next review due {c.risk.next_review_due}
        </p>
        <RiskFactors risk={c.risk} />
      </section>
      <EddPanel customer={c} onChange={refresh} />
      <section className="card" aria-label="Accounts">
        <h3>Accounts</h3>
        {c.accounts.length ? (
          <ul className="plain-list">
            {c.accounts.map((a) => (
              <li key={a.id}>{a.account_number} · {a.account_type} · <Money amount={a.balance} currency={a.currency} /> · <Badge status={a.status} /></li>
            ))}
          </ul>
        ) : <Empty>No accounts.</Empty>}
      </section>
      <section className="card" aria-label="Alerts and cases">
        <h3>Alerts</h3>
        {c.alerts.length ? (
          <ul className="plain-list">
            {c.alerts.map((a) => (
              <li key={a.id}>{a.type.replace(/_/g, " ")} · <Badge status={a.severity} /> · <Badge status={a.resolution ?? a.status} /> · <DateTime value={a.created_at} /></li>
            ))}
          </ul>
        ) : <Empty>No alerts.</Empty>}
        <h3>Cases</h3>
        {c.cases.length ? (
          <ul className="plain-list">
            {c.cases.map((a) => <li key={a.id}>{a.type.replace(/_/g, " ")} · <Badge status={a.resolution ?? a.status} /></li>)}
          </ul>
        ) : <Empty>No escalated cases.</Empty>}
      </section>
      <section className="card" aria-label="Periodic reviews">
        <h3>Periodic reviews</h3>
        {c.reviews.length ? (
          <ul className="plain-list">
            {c.reviews.map((r) => <li key={r.id}>due {r.due_on} · <Badge status={r.status} />{r.notes ? ` · ${r.notes}` : ""}</li>)}
          </ul>
        ) : <Empty>No reviews yet.</Empty>}
      </section>
    </section>
  );
}
