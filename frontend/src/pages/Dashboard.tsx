import { lazy, Suspense, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { useQueryClient } from "@tanstack/react-query";
import { TransactionList } from "../components/TransactionList";
import { Badge, Dialog, Field, FormError, Loading, Money, PageHeader, SelectField } from "../components/ui";
import { api } from "../lib/api";
import { useAuth } from "../lib/auth";
import { fieldErrorsOf, useAction, useApi } from "../lib/hooks";
import { sumAmounts } from "../lib/money";
import type { Account, Page, Transaction, WealthPoint } from "../lib/types";

const NetWorthChart = lazy(() => import("../components/NetWorthChart"));

export function useAccounts() {
  return useApi<Page<Account>>("/accounts", { limit: 200 });
}

function totalsByCurrency(accounts: Account[]): [string, string][] {
  const groups = new Map<string, string[]>();
  for (const account of accounts) {
    if (account.status === "closed") continue;
    groups.set(account.currency, [...(groups.get(account.currency) ?? []), account.balance]);
  }
  return [...groups].map(([currency, amounts]) => [currency, sumAmounts(amounts, currency)]);
}

function NetWorth() {
  const { user } = useAuth();
  const currency = user?.base_currency ?? "USD";
  const to = new Date();
  const from = new Date(to.getTime() - 90 * 86_400_000);
  const history = useApi<{ items?: WealthPoint[]; points?: WealthPoint[]; base_currency?: string } | WealthPoint[]>(
    "/wealth/history",
    { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10), base_currency: currency },
    { retry: false },
  );
  if (!history.isSuccess) return null; // no wealth service (yet): no chart
  const raw = Array.isArray(history.data) ? history.data : (history.data.items ?? history.data.points ?? []);
  const chartCurrency = (!Array.isArray(history.data) && history.data.base_currency) || raw[0]?.currency || currency;
  const all = raw
    .map((p) => ({ date: p.date, value: p.net_worth ?? p.total ?? p.value ?? "" }))
    .filter((p) => /^-?\d+(\.\d+)?$/.test(p.value));
  // The history starts at the first day with anything in it.
  const first = all.findIndex((p) => !/^-?0+(\.0+)?$/.test(p.value));
  const points = first < 0 ? [] : all.slice(first);
  if (points.length === 0) return null;
  return (
    <section className="card" aria-labelledby="networth-title">
      <div className="card-head">
        <h2 id="networth-title">Net worth</h2>
        <span className="big-number">
          <Money amount={points[points.length - 1].value} currency={chartCurrency} />
        </span>
      </div>
      {points.length > 1 ? (
        <Suspense fallback={<Loading />}>
          <NetWorthChart points={points} currency={chartCurrency} />
        </Suspense>
      ) : (
        <p className="muted">Your net-worth history starts today; the chart grows from here.</p>
      )}
    </section>
  );
}

function OpenAccount({ onClose }: { onClose: () => void }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ account_type: "checking", currency: "USD", name: "" });
  const action = useAction(async () => {
    await api.request("POST", "/accounts", { body: { ...form, name: form.name.trim() || undefined } });
    await queryClient.invalidateQueries({ queryKey: ["/accounts"] });
    onClose();
  });
  const fields = fieldErrorsOf(action.error);
  return (
    <form
      className="stack"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void action.run();
      }}
    >
      <SelectField label="Type" value={form.account_type} onChange={(e) => setForm({ ...form, account_type: e.target.value })} errors={fields.account_type}>
        <option value="checking">Checking</option>
        <option value="savings">Savings</option>
      </SelectField>
      <SelectField label="Currency" value={form.currency} onChange={(e) => setForm({ ...form, currency: e.target.value })} errors={fields.currency}>
        {["USD", "EUR", "GBP", "CHF", "JPY"].map((c) => (
          <option key={c}>{c}</option>
        ))}
      </SelectField>
      <Field label="Name (optional)" value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} errors={fields.name} maxLength={64} />
      <FormError error={action.error} shownFields={["account_type", "currency", "name"]} />
      <div className="actions">
        <button type="button" className="button secondary" onClick={onClose}>
          Cancel
        </button>
        <button type="submit" className="button" disabled={action.pending}>
          Open account
        </button>
      </div>
    </form>
  );
}

export function DashboardPage() {
  const { user } = useAuth();
  const accounts = useAccounts();
  const recent = useApi<Page<Transaction>>("/transactions", { limit: 6 });
  const [opening, setOpening] = useState(false);
  const items = accounts.data?.items ?? [];
  return (
    <section>
      <PageHeader title={`Hello, ${user?.first_name ?? ""}`}>
        <Link to="/transfer" className="button">
          Send money
        </Link>
        <button type="button" className="button secondary" onClick={() => setOpening(true)}>
          Open an account
        </button>
      </PageHeader>
      {user && user.kyc_status !== "approved" && (
        <div className="alert alert-info" role="status">
          Verify your identity to raise your limits. <Link to="/kyc">Start verification</Link>
        </div>
      )}
      {accounts.isLoading ? (
        <Loading />
      ) : accounts.error ? (
        <FormError error={accounts.error} />
      ) : (
        <>
          <div className="totals" aria-label="Total balance by currency">
            {totalsByCurrency(items).map(([currency, total]) => (
              <div key={currency} className="total">
                <span className="total-label">Total in {currency}</span>
                <span className="big-number">
                  <Money amount={total} currency={currency} />
                </span>
              </div>
            ))}
          </div>
          <h2 className="section-title">Accounts</h2>
          <ul className="account-grid">
            {items.map((account) => (
              <li key={account.id}>
                <Link to={`/accounts/${account.id}`} className="account-tile" data-testid="account-tile">
                  <span className="account-name">{account.name}</span>
                  <span className="account-number">
                    {account.account_type} · {account.iban ?? account.account_number}
                  </span>
                  <span className="account-balance">
                    <Money amount={account.balance} currency={account.currency} />
                  </span>
                  {account.available_balance !== account.balance && (
                    <span className="account-available">
                      Available <Money amount={account.available_balance} currency={account.currency} />
                    </span>
                  )}
                  {account.status !== "active" && <Badge status={account.status} />}
                </Link>
              </li>
            ))}
          </ul>
        </>
      )}
      <NetWorth />
      <section className="card" aria-labelledby="recent-title">
        <div className="card-head">
          <h2 id="recent-title">Recent activity</h2>
          <Link to="/transactions">See all</Link>
        </div>
        {recent.isLoading ? <Loading /> : <TransactionList items={recent.data?.items ?? []} accounts={items} />}
      </section>
      <Dialog open={opening} title="Open an account" onClose={() => setOpening(false)}>
        <OpenAccount onClose={() => setOpening(false)} />
      </Dialog>
    </section>
  );
}
