import { useQueryClient } from "@tanstack/react-query";
import { Badge, DateTime, Empty, FormError, Loading, Money, PageHeader, Pager } from "../../components/ui";
import { api } from "../../lib/api";
import { usePaged, useApi } from "../../lib/hooks";
import type { Alert } from "../../lib/types";
import { alertTransactions } from "./Alerts";
import { DecisionForm } from "./common";

/** One held transfer, from its review alert (the list may carry only the transaction's id). */
function HeldItem({ alert, onDecided }: { alert: Alert; onDecided: () => void }) {
  const needsDetail = alertTransactions(alert).length === 0;
  const detail = useApi<Alert>(needsDetail ? `/compliance/alerts/${alert.id}` : null);
  const full = needsDetail ? detail.data : alert;
  const txn = full ? alertTransactions(full)[0] : undefined;
  const transactionId = txn?.id ?? alert.transaction_id;
  return (
    <li className="card held" data-testid="held-transfer">
      {detail.isLoading ? (
        <Loading />
      ) : txn ? (
        <div className="held-head">
          <p className="big-number">
            <Money amount={txn.amount} currency={txn.currency} />
          </p>
          <p className="muted">
            {txn.description || "Transfer"}
            {txn.beneficiary_name ? ` to ${txn.beneficiary_name}` : ""} · <DateTime value={txn.created_at} />
          </p>
          <p>
            Risk score {txn.risk_score ?? alert.score} · {(txn.risk_rules ?? alert.rules ?? []).join(", ")} <Badge status={txn.status} />
          </p>
        </div>
      ) : (
        <p>Transaction {transactionId}</p>
      )}
      {transactionId && (
        <DecisionForm
          decisions={[
            ["approve", "Approve", "primary"],
            ["reject", "Reject", "danger"],
          ]}
          reasonLabel="Notes for the record"
          reasonField="notes"
          onDecide={async (decision, notes) => {
            // A decision is not a payment the officer retries: a second one answers 409.
            await api.request("POST", `/compliance/transactions/${transactionId}/${decision}`, { body: { notes } });
            onDecided();
          }}
        />
      )}
    </li>
  );
}

export function HeldTransfersPage() {
  const queryClient = useQueryClient();
  const list = usePaged<Alert>("/compliance/alerts", { type: "transaction_review", status: "open" }, 20);
  return (
    <section>
      <PageHeader title="Held transfers" />
      <p className="lead">Transfers the risk rules held. Approving moves the money; rejecting releases it to the sender.</p>
      {list.isLoading ? (
        <Loading />
      ) : list.error ? (
        <FormError error={list.error} />
      ) : !list.data?.items.length ? (
        <Empty>Nothing is waiting for review.</Empty>
      ) : (
        <ul className="held-list">
          {list.data.items.map((a) => (
            <HeldItem key={a.id} alert={a} onDecided={() => void queryClient.invalidateQueries({ queryKey: ["/compliance/alerts"] })} />
          ))}
        </ul>
      )}
      <Pager page={list.page} hasNext={list.hasNext} hasPrevious={list.hasPrevious} onNext={list.goNext} onPrevious={list.goPrevious} />
    </section>
  );
}
