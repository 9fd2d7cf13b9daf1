import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Badge, DateTime, Empty, FormError, Loading, PageHeader, Pager, SelectField } from "../../components/ui";
import { api } from "../../lib/api";
import { usePaged } from "../../lib/hooks";
import { reasonText, type KycReview } from "../../lib/types";
import { DecisionForm } from "./common";

export function KycReviewsPage() {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState("manual_review");
  const list = usePaged<KycReview>("/compliance/kyc/reviews", { status }, 20);
  return (
    <section>
      <PageHeader title="KYC reviews" />
      <div className="card filters" role="group" aria-label="Filter reviews">
        <SelectField label="Status" value={status} onChange={(e) => { list.reset(); setStatus(e.target.value); }}>
          <option value="manual_review">Waiting for a decision</option>
          <option value="approved">Approved</option>
          <option value="rejected">Rejected</option>
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
                {[r.first_name, r.last_name].filter(Boolean).join(" ") || `Case ${r.id.slice(0, 8)}`} <Badge status={r.status} />
              </p>
              <p className="muted">
                {r.nationality && `${r.nationality} · `}
                {r.date_of_birth && `born ${r.date_of_birth} · `}
                submitted <DateTime value={r.submitted_at ?? r.created_at} />
              </p>
              {r.document_type && (
                <p className="muted">
                  {r.document_type.replace(/_/g, " ")} {r.document_number} · level asked {r.requested_level ?? r.level ?? "—"}
                </p>
              )}
              {r.reasons?.length ? <p>Flagged: {r.reasons.map(reasonText).join("; ")}</p> : null}
              {r.status === "manual_review" && (
                <DecisionForm
                  decisions={[
                    ["approve", "Approve", "primary"],
                    ["reject", "Reject", "danger"],
                  ]}
                  onDecide={async (decision, reason) => {
                    await api.request("POST", `/compliance/kyc/${r.id}/decision`, { body: { decision, reason } });
                    await queryClient.invalidateQueries({ queryKey: ["/compliance/kyc/reviews"] });
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
