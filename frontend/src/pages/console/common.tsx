import { useState, type FormEvent, type ReactNode } from "react";
import { FormError, TextAreaField } from "../../components/ui";
import { fieldErrorsOf, useAction } from "../../lib/hooks";

/** Approve/reject (or any set of decisions) with a required written reason. */
export function DecisionForm({
  decisions,
  reasonLabel = "Reason",
  reasonField = "reason",
  onDecide,
  children,
}: {
  decisions: [string, string, "primary" | "danger"][];
  reasonLabel?: string;
  reasonField?: string;
  onDecide: (decision: string, reason: string) => Promise<unknown>;
  children?: ReactNode;
}) {
  const [reason, setReason] = useState("");
  const [chosen, setChosen] = useState(decisions[0][0]);
  const action = useAction(async (decision: string) => {
    await onDecide(decision, reason.trim());
    setReason("");
  });
  const fields = fieldErrorsOf(action.error);
  return (
    <form
      className="stack decision"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void action.run(chosen);
      }}
    >
      {children}
      <TextAreaField label={reasonLabel} value={reason} onChange={(e) => setReason(e.target.value)} errors={fields[reasonField]} rows={2} required />
      <FormError error={action.error} shownFields={[reasonField]} />
      <div className="actions start wrap">
        {decisions.map(([value, label, tone]) => (
          <button
            key={value}
            type="submit"
            className={`button ${tone === "danger" ? "secondary danger" : ""}`}
            disabled={action.pending || !reason.trim()}
            onClick={() => setChosen(value)}
          >
            {label}
          </button>
        ))}
      </div>
    </form>
  );
}

export function itemsOf<T>(data: { items: T[] } | T[] | undefined): T[] {
  if (!data) return [];
  return Array.isArray(data) ? data : data.items;
}
