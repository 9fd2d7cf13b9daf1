import { useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { useQueryClient } from "@tanstack/react-query";
import { MoneyInput } from "../components/MoneyInput";
import { TransactionList } from "../components/TransactionList";
import { Badge, Field, FormError, Loading, Money, Notice, PageHeader, Pager } from "../components/ui";
import { api } from "../lib/api";
import { fieldErrorsOf, saveBlob, useAction, useApi, useIdempotentSubmit, usePaged } from "../lib/hooks";
import { parseAmountInput } from "../lib/money";
import type { Account, Transaction } from "../lib/types";

function monthStart(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString().slice(0, 10);
}

function Statement({ account }: { account: Account }) {
  const [from, setFrom] = useState(monthStart());
  const [to, setTo] = useState(new Date().toISOString().slice(0, 10));
  const download = useAction(async (format: "pdf" | "csv") => {
    const { blob, filename } = await api.download(`/accounts/${account.id}/statement`, { from, to, format });
    saveBlob(blob, filename ?? `statement-${account.account_number}-${from}-${to}.${format}`);
  });
  const fields = fieldErrorsOf(download.error);
  return (
    <section className="card" aria-labelledby="statement-title">
      <h2 id="statement-title">Statement</h2>
      <div className="grid-2">
        <Field label="From" type="date" value={from} onChange={(e) => setFrom(e.target.value)} errors={fields.from} />
        <Field label="To" type="date" value={to} onChange={(e) => setTo(e.target.value)} errors={fields.to} />
      </div>
      <FormError error={download.error} shownFields={["from", "to"]} />
      <div className="actions start">
        <button type="button" className="button secondary" disabled={download.pending} onClick={() => void download.run("pdf")}>
          Download PDF
        </button>
        <button type="button" className="button secondary" disabled={download.pending} onClick={() => void download.run("csv")}>
          Download CSV
        </button>
      </div>
    </section>
  );
}

function AddMoney({ account }: { account: Account }) {
  const queryClient = useQueryClient();
  const [amount, setAmount] = useState("");
  const [inputError, setInputError] = useState<string | null>(null);
  const [done, setDone] = useState<Transaction | null>(null);
  const deposit = useIdempotentSubmit<object, Transaction>("POST", "/transactions/deposit");
  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    const parsed = parseAmountInput(amount, account.currency);
    if (!parsed.ok) return setInputError(parsed.error);
    setInputError(null);
    try {
      const txn = await deposit.submit({
        account_id: account.id,
        amount: parsed.amount,
        currency: account.currency,
        reference: "Top-up",
      });
      setDone(txn);
      setAmount("");
      await queryClient.invalidateQueries();
    } catch {
      /* shown below */
    }
  };
  const fields = fieldErrorsOf(deposit.error);
  return (
    <section className="card" aria-labelledby="topup-title">
      <h2 id="topup-title">Add money</h2>
      <form className="stack" onSubmit={onSubmit}>
        <MoneyInput label="Amount" currency={account.currency} value={amount} onChange={setAmount} errors={inputError ? [inputError] : fields.amount} />
        <FormError error={deposit.error} shownFields={["amount"]} />
        {done && (
          <Notice tone="success">
            Added <Money amount={done.amount} currency={done.currency} />.
          </Notice>
        )}
        <div className="actions start">
          <button type="submit" className="button secondary" disabled={deposit.pending}>
            Add money
          </button>
        </div>
      </form>
    </section>
  );
}

export function AccountPage() {
  const { accountId } = useParams();
  const account = useApi<Account>(`/accounts/${accountId}`);
  const accounts = useApi<{ items: Account[] }>("/accounts", { limit: 200 });
  const txns = usePaged<Transaction>("/transactions", { account_id: accountId }, 20);
  if (account.isLoading) return <Loading />;
  if (account.error || !account.data) return <FormError error={account.error} />;
  const a = account.data;
  return (
    <section>
      <PageHeader title={a.name}>
        <Link to={`/transfer?from=${a.id}`} className="button">
          Send from this account
        </Link>
      </PageHeader>
      <div className="card account-summary">
        <div>
          <p className="total-label">Balance</p>
          <p className="big-number" data-testid="account-balance">
            <Money amount={a.balance} currency={a.currency} />
          </p>
          <p className="muted">
            Available <Money amount={a.available_balance} currency={a.currency} />
            {a.credit_limit ? (
              <>
                {" "}· credit limit <Money amount={a.credit_limit} currency={a.currency} />
              </>
            ) : null}
          </p>
        </div>
        <dl className="facts">
          <dt>Account number</dt>
          <dd className="mono">{a.account_number}</dd>
          {a.iban && (
            <>
              <dt>IBAN</dt>
              <dd className="mono">{a.iban}</dd>
            </>
          )}
          <dt>Type</dt>
          <dd>{a.account_type}</dd>
          <dt>Status</dt>
          <dd>
            <Badge status={a.status} />
          </dd>
        </dl>
      </div>
      <div className="columns">
        <Statement account={a} />
        {a.status === "active" && <AddMoney account={a} />}
      </div>
      <section className="card" aria-labelledby="history-title">
        <h2 id="history-title">Transactions</h2>
        {txns.isLoading ? <Loading /> : <TransactionList items={txns.data?.items ?? []} accounts={accounts.data?.items ?? [a]} />}
        <Pager page={txns.page} hasNext={txns.hasNext} hasPrevious={txns.hasPrevious} onNext={txns.goNext} onPrevious={txns.goPrevious} />
      </section>
    </section>
  );
}
