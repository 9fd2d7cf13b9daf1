import { useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Badge, DateTime, Empty, Field, FormError, Loading, PageHeader, Pager, SelectField, TextAreaField } from "../../components/ui";
import { api } from "../../lib/api";
import { fieldErrorsOf, useAction, useApi, usePaged } from "../../lib/hooks";
import { DecisionForm } from "./common";

interface ParamSpec {
  name: string;
  kind: "money" | "int" | "ratio" | "countries";
  min: number;
  max: number;
  description: string;
}

interface Officer {
  id: string;
  email: string;
}

export interface Rule {
  rule: string;
  version: number;
  params: Record<string, unknown>;
  param_specs: ParamSpec[];
  approved_at: string | null;
  approved_by: Officer | null;
  reason: string | null;
}

interface Proposal {
  id: string;
  rule: string;
  status: string;
  version: number | null;
  base_version: number | null;
  params: Record<string, unknown>;
  reason: string;
  proposed_by: Officer | null;
  proposed_at: string;
  decided_by: Officer | null;
  decided_at: string | null;
  decision_reason: string | null;
}

interface BacktestAlert {
  customer_id: string;
  at: string;
  transaction_ids: string[];
}

interface BacktestReport {
  added: number;
  removed: number;
  counts: Record<string, number>;
  alerts_added: BacktestAlert[];
  alerts_removed: BacktestAlert[];
  truncated: boolean;
  postings_read: number;
}

const RULES = "/compliance/rules";

function show(value: unknown): string {
  return Array.isArray(value) ? value.join(", ") : String(value);
}

/** The text an officer types → the JSON value the API takes for that kind of parameter. */
export function parseParam(kind: ParamSpec["kind"], text: string): unknown {
  const value = text.trim();
  if (kind === "countries") return value ? value.split(/[\s,]+/).map((c) => c.toUpperCase()) : [];
  if (kind === "money") return value;
  const number = Number(value);
  return value === "" || Number.isNaN(number) ? value : number;
}

export function RulesPage() {
  const rules = useApi<{ items: Rule[] }>(RULES);
  const [status, setStatus] = useState("pending");
  return (
    <section>
      <PageHeader title="AML rules" />
      <p className="lead">
        A change is proposed by one officer and takes effect when another approves it. Backtest a change first: it replays the rule over a
        period next to the alerts it actually raised.
      </p>
      {rules.isLoading ? (
        <Loading />
      ) : rules.error ? (
        <FormError error={rules.error} />
      ) : (
        <ul className="held-list">
          {rules.data?.items.map((rule) => <RuleCard key={rule.rule} rule={rule} />)}
        </ul>
      )}
      <h2>Proposals</h2>
      <div className="card filters" role="group" aria-label="Filter proposals">
        <SelectField label="Proposal status" value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="pending">Pending</option>
          <option value="approved">Approved</option>
          <option value="rejected">Rejected</option>
          <option value="">All</option>
        </SelectField>
      </div>
      <Proposals status={status} />
    </section>
  );
}

function RuleCard({ rule }: { rule: Rule }) {
  const [open, setOpen] = useState<"" | "propose" | "backtest">("");
  return (
    <li className="card" aria-label={`Rule ${rule.rule}`}>
      <p className="account-name">
        {rule.rule} <span className="muted">version {rule.version}</span>
      </p>
      <dl className="muted">
        {rule.param_specs.map((spec) => (
          <div key={spec.name}>
            <dt>{spec.description || spec.name}</dt>
            <dd className="mono">
              {spec.name} = {show(rule.params[spec.name])}
            </dd>
          </div>
        ))}
      </dl>
      {rule.approved_by && (
        <p className="muted">
          Approved by {rule.approved_by.email} <DateTime value={rule.approved_at} />
        </p>
      )}
      <div className="actions start wrap">
        <button type="button" className="button secondary" onClick={() => setOpen(open === "propose" ? "" : "propose")}>
          Propose a change
        </button>
        <button type="button" className="button secondary" onClick={() => setOpen(open === "backtest" ? "" : "backtest")}>
          Backtest
        </button>
      </div>
      {open === "propose" && <ProposeForm rule={rule} onDone={() => setOpen("")} />}
      {open === "backtest" && <BacktestForm rule={rule} />}
    </li>
  );
}

function ParamFields({ rule, values, onChange, errors }: {
  rule: Rule;
  values: Record<string, string>;
  onChange: (name: string, value: string) => void;
  errors: Record<string, string[]>;
}) {
  return (
    <>
      {rule.param_specs.map((spec) => (
        <Field
          key={spec.name}
          label={`New ${spec.name}`}
          value={values[spec.name] ?? ""}
          placeholder={show(rule.params[spec.name])}
          onChange={(e) => onChange(spec.name, e.target.value)}
          errors={errors[`params.${spec.name}`]}
        />
      ))}
    </>
  );
}

function changed(rule: Rule, values: Record<string, string>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const spec of rule.param_specs) {
    const text = values[spec.name];
    if (text !== undefined && text.trim() !== "") params[spec.name] = parseParam(spec.kind, text);
  }
  return params;
}

function ProposeForm({ rule, onDone }: { rule: Rule; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [values, setValues] = useState<Record<string, string>>({});
  const [reason, setReason] = useState("");
  const action = useAction(async () => {
    await api.request("POST", `${RULES}/${rule.rule}/proposals`, { body: { params: changed(rule, values), reason: reason.trim() } });
    await queryClient.invalidateQueries({ queryKey: [`${RULES}/proposals`] });
    onDone();
  });
  const errors = fieldErrorsOf(action.error);
  return (
    <form className="stack" aria-label={`Propose a change to ${rule.rule}`} onSubmit={(e: FormEvent) => { e.preventDefault(); void action.run(); }}>
      <ParamFields rule={rule} values={values} errors={errors} onChange={(name, value) => setValues({ ...values, [name]: value })} />
      <TextAreaField label="Why" value={reason} onChange={(e) => setReason(e.target.value)} errors={errors.reason} rows={2} required />
      <FormError error={action.error} shownFields={["reason", ...rule.param_specs.map((s) => `params.${s.name}`)]} />
      <button type="submit" className="button" disabled={action.pending || !reason.trim()}>
        Submit proposal
      </button>
    </form>
  );
}

function daysAgo(days: number): string {
  return new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10);
}

function BacktestForm({ rule }: { rule: Rule }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [from, setFrom] = useState(daysAgo(30));
  const [to, setTo] = useState(daysAgo(-1));
  const [report, setReport] = useState<BacktestReport | null>(null);
  const action = useAction(async () => {
    setReport(null);
    const body = { params: changed(rule, values), from: `${from}T00:00:00Z`, to: `${to}T00:00:00Z` };
    const { job_id } = await api.request<{ job_id: string }>("POST", `${RULES}/${rule.rule}/backtest`, { body });
    for (let i = 0; i < 120; i++) {
      const kept = await api.request<{ result: BacktestReport | null }>("GET", `${RULES}/backtests/${job_id}`);
      if (kept.result) return setReport(kept.result);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    throw new Error("The backtest is still running; look again later.");
  });
  const errors = fieldErrorsOf(action.error);
  return (
    <form className="stack" aria-label={`Backtest ${rule.rule}`} onSubmit={(e: FormEvent) => { e.preventDefault(); void action.run(); }}>
      <ParamFields rule={rule} values={values} errors={errors} onChange={(name, value) => setValues({ ...values, [name]: value })} />
      <Field label="From" type="date" value={from} onChange={(e) => setFrom(e.target.value)} errors={errors.from} />
      <Field label="To" type="date" value={to} onChange={(e) => setTo(e.target.value)} errors={errors.to} />
      <FormError error={action.error} shownFields={["from", "to", ...rule.param_specs.map((s) => `params.${s.name}`)]} />
      <button type="submit" className="button" disabled={action.pending}>
        {action.pending ? "Running…" : "Run backtest"}
      </button>
      {report && <BacktestResult report={report} />}
    </form>
  );
}

function BacktestResult({ report }: { report: BacktestReport }) {
  return (
    <div className="card" role="status" aria-label="Backtest result">
      <p>
        <strong>{report.added} added</strong>, <strong>{report.removed} removed</strong> against {report.counts.actual} alerts actually raised (
        {report.counts.proposed} with these settings, {report.postings_read} postings read).
      </p>
      {(["alerts_added", "alerts_removed"] as const).map((key) =>
        report[key].length ? (
          <div key={key}>
            <p className="muted">{key === "alerts_added" ? "Would be added" : "Would no longer be raised"}</p>
            <ul>
              {report[key].map((a) => (
                <li key={`${a.customer_id}-${a.at}`} className="mono">
                  {a.customer_id.slice(0, 8)} · <DateTime value={a.at} /> · {a.transaction_ids.length} transactions
                </li>
              ))}
            </ul>
          </div>
        ) : null,
      )}
      {report.truncated && <p className="muted">Only the first alerts of each list are shown.</p>}
    </div>
  );
}

function Proposals({ status }: { status: string }) {
  const queryClient = useQueryClient();
  const list = usePaged<Proposal>(`${RULES}/proposals`, { status }, 20);
  if (list.isLoading) return <Loading />;
  if (list.error) return <FormError error={list.error} />;
  if (!list.data?.items.length) return <Empty>No proposals here.</Empty>;
  return (
    <>
      <ul className="held-list">
        {list.data.items.map((p) => (
          <li key={p.id} className="card" aria-label={`Proposal for ${p.rule}`}>
            <p className="account-name">
              {p.rule} <Badge status={p.status} /> {p.version && <span className="muted">version {p.version}</span>}
            </p>
            <p className="mono">{Object.entries(p.params).map(([k, v]) => `${k} = ${show(v)}`).join(" · ")}</p>
            <p className="muted">
              Proposed by {p.proposed_by?.email} <DateTime value={p.proposed_at} />: {p.reason}
            </p>
            {p.decided_by && (
              <p className="muted">
                {p.status === "approved" ? "Approved" : "Rejected"} by {p.decided_by.email} <DateTime value={p.decided_at} />: {p.decision_reason}
              </p>
            )}
            {p.status === "pending" && (
              <DecisionForm
                decisions={[
                  ["approve", "Approve", "primary"],
                  ["reject", "Reject", "danger"],
                ]}
                onDecide={async (decision, reason) => {
                  await api.request("POST", `${RULES}/proposals/${p.id}/decision`, { body: { decision, reason } });
                  await queryClient.invalidateQueries({ queryKey: [`${RULES}/proposals`] });
                  await queryClient.invalidateQueries({ queryKey: [RULES] });
                }}
              />
            )}
          </li>
        ))}
      </ul>
      <Pager page={list.page} hasNext={list.hasNext} hasPrevious={list.hasPrevious} onNext={list.goNext} onPrevious={list.goPrevious} />
    </>
  );
}
