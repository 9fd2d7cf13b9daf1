import { useState, type FormEvent } from "react";
import { DateTime, Empty, Field, FormError, Loading, Notice, PageHeader, Pager } from "../../components/ui";
import { api } from "../../lib/api";
import { fieldErrorsOf, saveBlob, useAction, usePaged } from "../../lib/hooks";
import type { AuditRecord } from "../../lib/types";

interface Verification {
  valid: boolean;
  records_checked: number;
  head_hash?: string | null;
  first_invalid_id?: string | null;
  first_invalid_sequence?: number | null;
  reason?: string | null;
  unsealed?: number | null;
}

const EMPTY = { actor_id: "", action: "", resource_type: "", resource_id: "", from: "", to: "" };

export function AuditPage() {
  const [draft, setDraft] = useState(EMPTY);
  const [filters, setFilters] = useState(EMPTY);
  const list = usePaged<AuditRecord>("/compliance/audit-logs", filters, 50);
  const [verification, setVerification] = useState<Verification | null>(null);
  const verify = useAction(async () => setVerification(await api.request<Verification>("GET", "/compliance/audit-logs/verify")));
  const exporter = useAction(async (format: "csv" | "jsonl") => {
    const { blob, filename } = await api.download("/compliance/audit-logs/export", { ...filters, format });
    saveBlob(blob, filename ?? `audit-log.${format}`);
  });
  const fields = fieldErrorsOf(list.error);
  const set = (name: keyof typeof EMPTY) => (e: React.ChangeEvent<HTMLInputElement>) => setDraft({ ...draft, [name]: e.target.value });
  return (
    <section>
      <PageHeader title="Audit trail">
        <button type="button" className="button" disabled={verify.pending} onClick={() => void verify.run()}>
          {verify.pending ? "Verifying…" : "Verify chain"}
        </button>
      </PageHeader>
      {verification && (
        <Notice tone={verification.valid ? "success" : "warning"}>
          {verification.valid
            ? `The chain is intact: ${verification.records_checked} records checked.`
            : `The chain is broken at record ${verification.first_invalid_sequence ?? verification.first_invalid_id}` +
              (verification.reason ? `: ${verification.reason}` : "") +
              ` (${verification.records_checked} checked).`}
          {verification.unsealed ? ` ${verification.unsealed} records are not sealed yet.` : ""}
          {verification.head_hash && <span className="mono block">Head {verification.head_hash}</span>}
        </Notice>
      )}
      <FormError error={verify.error ?? exporter.error} />
      <form
        className="card filters"
        aria-label="Filter audit records"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          list.reset();
          setFilters(draft);
        }}
      >
        <Field label="Action" value={draft.action} onChange={set("action")} errors={fields.action} placeholder="e.g. auth.login" />
        <Field label="Actor id" value={draft.actor_id} onChange={set("actor_id")} errors={fields.actor_id} />
        <Field label="Resource type" value={draft.resource_type} onChange={set("resource_type")} errors={fields.resource_type} />
        <Field label="Resource id" value={draft.resource_id} onChange={set("resource_id")} errors={fields.resource_id} />
        <Field label="From" type="date" value={draft.from} onChange={set("from")} errors={fields.from} />
        <Field label="To" type="date" value={draft.to} onChange={set("to")} errors={fields.to} />
        <div className="actions filters-actions">
          <button type="button" className="button secondary" disabled={exporter.pending} onClick={() => void exporter.run("csv")}>
            Export CSV
          </button>
          <button type="button" className="button secondary" disabled={exporter.pending} onClick={() => void exporter.run("jsonl")}>
            Export JSON Lines
          </button>
          <button type="submit" className="button">
            Apply filters
          </button>
        </div>
      </form>
      <section className="card" aria-label="Audit records">
        {list.isLoading ? (
          <Loading />
        ) : list.error ? (
          <FormError error={list.error} shownFields={Object.keys(fields)} />
        ) : !list.data?.items.length ? (
          <Empty>No records match.</Empty>
        ) : (
          <div className="table-wrap">
            <table className="stacked">
              <thead>
                <tr>
                  <th scope="col">#</th>
                  <th scope="col">When</th>
                  <th scope="col">Action</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Resource</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {list.data.items.map((r) => (
                  <tr key={r.id}>
                    <td data-label="#" className="mono nowrap">{r.sequence ?? "unsealed"}</td>
                    <td data-label="When"><DateTime value={r.occurred_at} /></td>
                    <td data-label="Action" className="mono">{r.action}</td>
                    <td data-label="Actor">{r.actor_role ?? "—"}</td>
                    <td data-label="Resource" className="mono">{r.resource_type ? `${r.resource_type} ${r.resource_id?.slice(0, 8) ?? ""}` : "—"}</td>
                    <td data-label="Outcome">{r.outcome ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager page={list.page} hasNext={list.hasNext} hasPrevious={list.hasPrevious} onNext={list.goNext} onPrevious={list.goPrevious} />
      </section>
    </section>
  );
}
