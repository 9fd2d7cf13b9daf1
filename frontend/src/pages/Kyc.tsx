import { useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Badge, Field, FormError, Loading, Notice, PageHeader, SelectField } from "../components/ui";
import { api } from "../lib/api";
import { useAuth } from "../lib/auth";
import { fieldErrorsOf, useAction, useApi } from "../lib/hooks";
import { reasonText, type Reason, type User } from "../lib/types";

interface KycStatus {
  status: string;
  level?: string | number;
  reasons?: Reason[];
}

const MESSAGES: Record<string, string> = {
  approved: "You're verified. Your full limits are available.",
  manual_review: "Thanks! A member of our team is checking your details. This usually takes a day.",
  rejected: "We could not verify you with these details.",
  pending: "We are checking your details.",
};

export function KycPage() {
  const { user, setUser } = useAuth();
  const queryClient = useQueryClient();
  const status = useApi<KycStatus>("/compliance/kyc", undefined, { retry: false });
  const [form, setForm] = useState({
    first_name: user?.first_name ?? "",
    last_name: user?.last_name ?? "",
    date_of_birth: "",
    nationality: "",
    line1: "",
    city: "",
    postal_code: "",
    country: "",
    document_type: "passport",
    document_number: "",
  });
  const submit = useAction(async () => {
    const body = {
      first_name: form.first_name.trim(),
      last_name: form.last_name.trim(),
      date_of_birth: form.date_of_birth,
      nationality: form.nationality.trim().toUpperCase(),
      address: {
        line1: form.line1.trim(),
        city: form.city.trim(),
        postal_code: form.postal_code.trim(),
        country: form.country.trim().toUpperCase(),
      },
      document_type: form.document_type,
      document_number: form.document_number.trim(),
    };
    await api.request("POST", "/compliance/kyc", { body });
    await queryClient.invalidateQueries({ queryKey: ["/compliance/kyc"] });
    setUser(await api.request<User>("GET", "/auth/me"));
  });
  const set = (name: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) =>
    setForm((f) => ({ ...f, [name]: e.target.value }));
  const fields = fieldErrorsOf(submit.error);
  const current = status.data?.status ?? user?.kyc_status ?? "none";
  const canSubmit = ["none", "rejected", "not_started", "unverified"].includes(current);

  return (
    <section>
      <PageHeader title="Identity verification" />
      {status.isLoading ? (
        <Loading />
      ) : (
        current !== "none" && (
          <div className="card stack">
            <p>
              Status: <Badge status={current} />
            </p>
            {MESSAGES[current] && <Notice tone={current === "approved" ? "success" : "info"}>{MESSAGES[current]}</Notice>}
            {status.data?.reasons?.length ? (
              <ul>
                {status.data.reasons.map((r) => (
                  <li key={reasonText(r)}>{reasonText(r)}</li>
                ))}
              </ul>
            ) : null}
          </div>
        )
      )}
      {canSubmit && (
        <form
          className="card stack narrow"
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            void submit.run();
          }}
          noValidate
        >
          <p className="muted">The law asks us to know who our customers are. Your details are encrypted and seen only by our compliance team.</p>
          <div className="grid-2">
            <Field label="First name" autoComplete="given-name" value={form.first_name} onChange={set("first_name")} errors={fields.first_name} required />
            <Field label="Last name" autoComplete="family-name" value={form.last_name} onChange={set("last_name")} errors={fields.last_name} required />
          </div>
          <div className="grid-2">
            <Field label="Date of birth" type="date" autoComplete="bday" value={form.date_of_birth} onChange={set("date_of_birth")} errors={fields.date_of_birth} required />
            <Field label="Nationality (country code)" maxLength={2} value={form.nationality} onChange={set("nationality")} errors={fields.nationality} hint="For example DE or US." required />
          </div>
          <fieldset className="stack">
            <legend>Home address</legend>
            <Field label="Street and number" autoComplete="address-line1" value={form.line1} onChange={set("line1")} errors={fields["address.line1"]} required />
            <div className="grid-2">
              <Field label="Postal code" autoComplete="postal-code" value={form.postal_code} onChange={set("postal_code")} errors={fields["address.postal_code"]} required />
              <Field label="City" autoComplete="address-level2" value={form.city} onChange={set("city")} errors={fields["address.city"]} required />
            </div>
            <Field label="Country (code)" autoComplete="country" maxLength={2} value={form.country} onChange={set("country")} errors={fields["address.country"]} required />
          </fieldset>
          <div className="grid-2">
            <SelectField label="Document" value={form.document_type} onChange={set("document_type")} errors={fields.document_type}>
              <option value="passport">Passport</option>
              <option value="national_id">National ID card</option>
              <option value="driving_licence">Driving licence</option>
            </SelectField>
            <Field label="Document number" autoComplete="off" value={form.document_number} onChange={set("document_number")} errors={fields.document_number} required />
          </div>
          <FormError
            error={submit.error}
            shownFields={["first_name", "last_name", "date_of_birth", "nationality", "address.line1", "address.city", "address.postal_code", "address.country", "document_type", "document_number"]}
          />
          <button type="submit" className="button block" disabled={submit.pending}>
            {submit.pending ? "Sending…" : "Verify my identity"}
          </button>
        </form>
      )}
    </section>
  );
}
