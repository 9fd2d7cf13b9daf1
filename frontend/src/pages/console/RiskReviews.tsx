import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Badge, DateTime, Empty, FormError, Loading, PageHeader, Pager, SelectField } from "../../components/ui";
import { api } from "../../lib/api";
import { usePaged } from "../../lib/hooks";
import type { RiskReview } from "../../lib/types";
import { DecisionForm } from "./common";
import { CustomerLink } from "./Customer";

export function RiskReviewsPage() {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState("");
  const list = usePaged<RiskReview>("/compliance/reviews", status ? { status } : {}, 20);
  return (
    <section>
      <PageHeader title="Periodic reviews" />
      <div className="card filters" role="group" aria-label="Filter periodic reviews">
        <SelectField label="Status" value={status} onChange={(e) => { list.reset(); setStatus(e.target.value); }}>
          <option value="">Open</option>
          <option value="due">Due</option>
          <option value="overdue">Overdue</option>
          <option value="completed">Completed</option>
        </SelectField>
      </div>
      {list.isLoading ? (
        <Loading />
      ) : list.error ? (
        <FormError error={list.error} />
      ) : !list.data?.items.length ? (
        <Empty>No reviews here.</Empty>
      ) : (
        <ul className="held-list">
          {list.data.items.map((r) => (
            <li key={r.id} className="card">
              <p className="account-name">
                {r.customer ? <CustomerLink customer={r.customer} /> : "—"} <Badge status={r.status} />
              </p>
              <p className="muted">due {r.due_on} · rated {r.level} when it fell due · opened <DateTime value={r.created_at} /></p>
              {r.notes && <p>{r.notes}</p>}
              {r.status !== "completed" && (
                <DecisionForm
                  decisions={[["complete", "Complete review", "primary"]]}
                  reasonLabel="Notes"
                  reasonField="notes"
                  onDecide={async (_decision, notes) => {
                    await api.request("POST", `/compliance/reviews/${r.id}/complete`, { body: { notes } });
                    await queryClient.invalidateQueries({ queryKey: ["/compliance/reviews"] });
                  }}
                />
              )}
            </li>
          ))}
        </ul>
      )}
      <Pager page={list.page} hasNext={list.hasNext} hasPrevious={list.hasPrevious} onNext={list.goNext} onPrevious={list.goPrevious} />
    </section>
  );
}
