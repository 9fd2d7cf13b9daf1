import { useState, type FormEvent } from "react";
import { useSearchParams } from "react-router-dom";
import { TransactionList } from "../components/TransactionList";
import { Field, FormError, Loading, PageHeader, Pager, SelectField } from "../components/ui";
import { fieldErrorsOf, usePaged } from "../lib/hooks";
import type { Transaction } from "../lib/types";
import { useAccounts } from "./Dashboard";

const FILTERS = ["account_id", "type", "status", "from", "to", "min_amount", "max_amount", "q"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

export function TransactionsPage() {
  const [params, setParams] = useSearchParams();
  const applied = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ""])) as Filters;
  const [draft, setDraft] = useState<Filters>(applied);
  const accounts = useAccounts();
  const list = usePaged<Transaction>("/transactions", applied, 20);
  const fields = fieldErrorsOf(list.error);
  const set = (name: keyof Filters) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) =>
    setDraft((d) => ({ ...d, [name]: e.target.value }));

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const key of FILTERS) if (draft[key].trim()) next.set(key, draft[key].trim());
    list.reset();
    setParams(next);
  };
  const onClear = () => {
    setDraft(Object.fromEntries(FILTERS.map((k) => [k, ""])) as Filters);
    list.reset();
    setParams(new URLSearchParams());
  };

  return (
    <section>
      <PageHeader title="Transactions" />
      <form className="card filters" onSubmit={onSubmit} aria-label="Filter transactions">
        <Field label="Search" type="search" value={draft.q} onChange={set("q")} errors={fields.q} placeholder="Description or reference" />
        <SelectField label="Account" value={draft.account_id} onChange={set("account_id")} errors={fields.account_id}>
          <option value="">All accounts</option>
          {(accounts.data?.items ?? []).map((a) => (
            <option key={a.id} value={a.id}>
              {a.name} ({a.currency})
            </option>
          ))}
        </SelectField>
        <SelectField label="Type" value={draft.type} onChange={set("type")} errors={fields.type}>
          <option value="">Any type</option>
          {["deposit", "withdrawal", "transfer", "card_authorization", "card_capture", "fee", "reversal"].map((t) => (
            <option key={t} value={t}>
              {t.replace(/_/g, " ")}
            </option>
          ))}
        </SelectField>
        <SelectField label="Status" value={draft.status} onChange={set("status")} errors={fields.status}>
          <option value="">Any status</option>
          {["completed", "pending", "pending_review", "rejected", "reversed"].map((s) => (
            <option key={s} value={s}>
              {s.replace(/_/g, " ")}
            </option>
          ))}
        </SelectField>
        <Field label="From date" type="date" value={draft.from} onChange={set("from")} errors={fields.from} />
        <Field label="To date" type="date" value={draft.to} onChange={set("to")} errors={fields.to} />
        <Field label="Minimum amount" inputMode="decimal" value={draft.min_amount} onChange={set("min_amount")} errors={fields.min_amount} />
        <Field label="Maximum amount" inputMode="decimal" value={draft.max_amount} onChange={set("max_amount")} errors={fields.max_amount} />
        <div className="actions filters-actions">
          <button type="button" className="button secondary" onClick={onClear}>
            Clear
          </button>
          <button type="submit" className="button">
            Apply filters
          </button>
        </div>
      </form>
      <FormError error={list.error} shownFields={Object.keys(fields)} />
      <section className="card" aria-label="Results">
        {list.isLoading ? <Loading /> : <TransactionList items={list.data?.items ?? []} accounts={accounts.data?.items ?? []} />}
        <Pager page={list.page} hasNext={list.hasNext} hasPrevious={list.hasPrevious} onNext={list.goNext} onPrevious={list.goPrevious} />
      </section>
    </section>
  );
}
