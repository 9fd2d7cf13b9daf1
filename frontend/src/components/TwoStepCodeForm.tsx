import type { FormEvent, ReactNode } from "react";
import { fieldErrorsOf } from "../lib/hooks";
import { Field, FormError, PageHeader } from "./ui";

/** The second sign-in step's form: a TOTP or backup code (after a password, a magic link or a
 * single sign-on). `field` is the body field the server names in its errors. */
export function TwoStepCodeForm({
  code,
  onCode,
  onSubmit,
  error,
  pending,
  field = "code",
  children,
}: {
  code: string;
  onCode: (value: string) => void;
  onSubmit: () => void;
  error: unknown;
  pending: boolean;
  field?: string;
  children?: ReactNode;
}) {
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onSubmit();
  };
  return (
    <form onSubmit={submit} className="stack" noValidate>
      <PageHeader title="Two-step verification" />
      <p>Enter the 6-digit code from your authenticator app, or one of your backup codes.</p>
      <Field
        label="Authentication code"
        name={field}
        inputMode="numeric"
        autoComplete="one-time-code"
        value={code}
        onChange={(e) => onCode(e.target.value)}
        errors={fieldErrorsOf(error)[field]}
        required
        autoFocus
      />
      <FormError error={error} shownFields={[field]} />
      <button type="submit" className="button block" disabled={pending}>
        {pending ? "Checking…" : "Verify and sign in"}
      </button>
      {children}
    </form>
  );
}
