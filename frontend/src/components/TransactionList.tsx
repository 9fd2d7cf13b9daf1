import { Link } from "react-router-dom";
import type { Account, Transaction } from "../lib/types";
import { Badge, DateTime, Empty, Money } from "./ui";

/** Which way a transaction moved money for the viewer, from the viewer's accounts. */
export function direction(txn: Transaction, own: Set<string>): "in" | "out" | "internal" {
  const from = txn.from_account_id ? own.has(txn.from_account_id) : false;
  const to = txn.to_account_id ? own.has(txn.to_account_id) : false;
  if (from && to) return "internal";
  return from ? "out" : "in";
}

export function describe(txn: Transaction): string {
  if (txn.description) return txn.description;
  if (txn.beneficiary_name) return `To ${txn.beneficiary_name}`;
  return txn.type.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

export function TransactionList({ items, accounts }: { items: Transaction[]; accounts: Account[] }) {
  const own = new Set(accounts.map((a) => a.id));
  const names = new Map(accounts.map((a) => [a.id, a.name]));
  if (!items.length) return <Empty>No transactions yet.</Empty>;
  return (
    <ul className="txn-list">
      {items.map((txn) => {
        const way = direction(txn, own);
        const account = way === "in" ? txn.to_account_id : txn.from_account_id;
        return (
          <li key={txn.id} className="txn" data-status={txn.status}>
            <span className={`txn-icon ${way}`} aria-hidden="true">
              {way === "in" ? "↓" : way === "out" ? "↑" : "⇄"}
            </span>
            <div className="txn-main">
              <p className="txn-title">{describe(txn)}</p>
              <p className="txn-meta">
                <DateTime value={txn.created_at} />
                {account && names.get(account) && (
                  <>
                    {" · "}
                    <Link to={`/accounts/${account}`}>{names.get(account)}</Link>
                  </>
                )}
              </p>
            </div>
            <div className="txn-side">
              <span className={`txn-amount ${way}`}>
                <span className="visually-hidden">{way === "in" ? "Received " : way === "out" ? "Sent " : "Moved "}</span>
                <Money amount={way === "out" ? `-${txn.amount}` : txn.amount} currency={txn.currency} sign={way !== "internal"} />
              </span>
              {txn.status !== "completed" && <Badge status={txn.status} />}
            </div>
          </li>
        );
      })}
    </ul>
  );
}
