import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Badge, DateTime, Empty, FormError, Loading, PageHeader, Pager, SelectField } from "../../components/ui";
import { api } from "../../lib/api";
import { usePaged } from "../../lib/hooks";
import type { ErasureRequest } from "../../lib/types";
import { DecisionForm } from "./common";

export function ErasurePage() {
  const queryClient = useQueryClient();
  const [status, setStatus] = useState("pending");
  const list = usePaged<ErasureRequest>("/compliance/erasure-requests", { status }, 20);
  return (
    <section>
      <PageHeader title="Erasure requests" />
      <p className="lead">Approving pseudonymizes the person; the ledger and the audit trail stay intact. A legal hold blocks it.</p>
      <div className="card filters" role="group" aria-label="Filter requests">
        <SelectField label="Status" value={status} onChange={(e) => { list.reset(); setStatus(e.target.value); }}>
          <option value="pending">Pending</option>
          <option value="legal_hold">Legal hold</option>
          <option value="approved">Approved</option>
          <option value="rejected">Rejected</option>
          <option value="">All</option>
        </SelectField>
      </div>
      {list.isLoading ? (
        <Loading />
      ) : list.error ? (
        <FormError error={list.error} />
      ) : !list.data?.items.length ? (
        <Empty>No requests here.</Empty>
      ) : (
        <ul className="held-list">
          {list.data.items.map((r) => (
            <li key={r.id} className="card">
              <p className="account-name">
                Request {r.id.slice(0, 8)} <Badge status={r.status} />
              </p>
              <p className="muted">
                Person <span className="mono">{r.user_id ?? "—"}</span> · received <DateTime value={r.requested_at ?? r.created_at} />
                {r.decided_at && (
                  <>
                    {" "}· decided <DateTime value={r.decided_at} />
                  </>
                )}
              </p>
              {r.hold_reasons?.length ? <p>Legal hold: {r.hold_reasons.join("; ")}</p> : null}
              {r.decision_reason && <p>Reason: {r.decision_reason}</p>}
              {(r.status === "pending" || r.status === "legal_hold") && (
                <DecisionForm
                  decisions={[
                    ["approve", "Approve and pseudonymize", "danger"],
                    ["reject", "Reject", "primary"],
                  ]}
                  onDecide={async (decision, reason) => {
                    await api.request("POST", `/compliance/erasure-requests/${r.id}/decision`, { body: { decision, reason } });
                    await queryClient.invalidateQueries({ queryKey: ["/compliance/erasure-requests"] });
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
