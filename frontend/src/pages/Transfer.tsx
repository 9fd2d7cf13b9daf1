import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useQueryClient } from "@tanstack/react-query";
import { MoneyInput } from "../components/MoneyInput";
import { Field, FormError, Loading, Money, Notice, PageHeader, SelectField } from "../components/ui";
import { fieldErrorsOf, useIdempotentSubmit } from "../lib/hooks";
import { parseAmountInput } from "../lib/money";
import { ApiError } from "../lib/errors";
import { api } from "../lib/api";
import type { PaymentConfirmation, Transaction } from "../lib/types";
import { signWithPasskey, type CredentialJSON } from "../lib/webauthn";
import { useAccounts } from "./Dashboard";

type Mode = "own" | "account_number" | "iban";

interface TransferBody {
  from_account_id: string;
  amount: string;
  currency: string;
  description?: string;
  to_account_id?: string;
  to_account_number?: string;
  to_iban?: string;
  beneficiary_name?: string;
  confirmation?: { id: string; credential: CredentialJSON };
}

/** The destination exactly as the transfer sends it: what a payment confirmation signs. */
function payeeOf(body: TransferBody): Record<string, string> {
  if (body.to_account_id) return { to_account_id: body.to_account_id };
  if (body.to_account_number) return { to_account_number: body.to_account_number };
  return { to_iban: body.to_iban ?? "", beneficiary_name: body.beneficiary_name ?? "" };
}

const OUTCOME: Record<string, string> = {
  completed: "Sent. The money has arrived.",
  pending: "Sent. The payment is on its way to the other bank.",
  pending_review: "Held for a routine review. We will move the money as soon as it is approved.",
  rejected: "The transfer was rejected.",
};

export function TransferPage() {
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const accounts = useAccounts();
  const own = (accounts.data?.items ?? []).filter((a) => a.status === "active");
  const [mode, setMode] = useState<Mode>("account_number");
  const [form, setForm] = useState({
    from: params.get("from") ?? "",
    to_own: "",
    to_account_number: "",
    to_iban: "",
    beneficiary_name: "",
    amount: "",
    description: "",
  });
  const [review, setReview] = useState<TransferBody | null>(null);
  const [inputErrors, setInputErrors] = useState<Record<string, string[]>>({});
  const [result, setResult] = useState<Transaction | null>(null);
  const transfer = useIdempotentSubmit<TransferBody, Transaction>("POST", "/transactions/transfer");
  const [signing, setSigning] = useState(false);
  const [signError, setSignError] = useState<unknown>(null);

  const fallback = own.find((a) => a.account_type === "checking") ?? own[0];
  const from = own.find((a) => a.id === (form.from || fallback?.id));
  const set = (name: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) =>
    setForm((f) => ({ ...f, [name]: e.target.value }));

  const onReview = (event: FormEvent) => {
    event.preventDefault();
    if (!from) return;
    const errors: Record<string, string[]> = {};
    const parsed = parseAmountInput(form.amount, from.currency);
    if (!parsed.ok) errors.amount = [parsed.error];
    const body: TransferBody = {
      from_account_id: from.id,
      amount: parsed.ok ? parsed.amount : "",
      currency: from.currency,
      description: form.description.trim() || undefined,
    };
    if (mode === "own") {
      if (!form.to_own) errors.to_account_id = ["Choose the account to send to."];
      body.to_account_id = form.to_own;
    } else if (mode === "account_number") {
      if (!form.to_account_number.trim()) errors.to_account_number = ["Enter the account number."];
      body.to_account_number = form.to_account_number.trim();
    } else {
      if (!form.to_iban.trim()) errors.to_iban = ["Enter the IBAN."];
      if (!form.beneficiary_name.trim()) errors.beneficiary_name = ["Enter the name of the account holder."];
      body.to_iban = form.to_iban.replace(/\s+/g, "").toUpperCase();
      body.beneficiary_name = form.beneficiary_name.trim();
    }
    setInputErrors(errors);
    if (Object.keys(errors).length === 0) {
      transfer.setError(null);
      setReview(body);
    }
  };

  const onConfirm = async () => {
    if (!review) return;
    try {
      const txn = await transfer.submit(review);
      setResult(txn);
      setReview(null);
      await queryClient.invalidateQueries();
    } catch {
      /* the error is shown on the review step; "Confirm" retries with the same key */
    }
  };

  /** A large payment: the passkey signs this amount and payee, then the transfer carries it. */
  const onPasskeyConfirm = async () => {
    if (!review) return;
    setSigning(true);
    setSignError(null);
    try {
      const confirmation = await api.request<PaymentConfirmation>("POST", "/transactions/confirmations", {
        body: {
          kind: "transfer",
          account_id: review.from_account_id,
          amount: review.amount,
          currency: review.currency,
          payee: payeeOf(review),
        },
      });
      const credential = await signWithPasskey(confirmation.webauthn_options);
      setSigning(false);
      const txn = await transfer.submit({ ...review, confirmation: { id: confirmation.id, credential } });
      setResult(txn);
      setReview(null);
      await queryClient.invalidateQueries();
    } catch (failure) {
      if (!(failure instanceof ApiError)) setSignError(failure);
    } finally {
      setSigning(false);
    }
  };
  const needsPasskey = transfer.error instanceof ApiError && transfer.error.code === "confirmation_required";

  const fields = { ...fieldErrorsOf(transfer.error), ...inputErrors };

  if (accounts.isLoading) return <Loading />;
  if (result) {
    return (
      <section>
        <PageHeader title="Transfer" />
        <div className="card result" data-testid="transfer-result" data-status={result.status}>
          <p className="big-number">
            <Money amount={result.amount} currency={result.currency} />
          </p>
          <Notice tone={result.status === "completed" || result.status === "pending" ? "success" : "warning"}>
            {OUTCOME[result.status] ?? `Status: ${result.status}`}
          </Notice>
          <div className="actions start">
            <button
              type="button"
              className="button secondary"
              onClick={() => {
                setResult(null);
                setForm((f) => ({ ...f, amount: "", description: "" }));
              }}
            >
              Send another
            </button>
            <Link to="/transactions" className="button secondary">
              See transactions
            </Link>
          </div>
        </div>
      </section>
    );
  }

  if (review && from) {
    const to =
      mode === "own"
        ? own.find((a) => a.id === review.to_account_id)?.name
        : mode === "iban"
          ? `${review.beneficiary_name} · ${review.to_iban}`
          : `Account ${review.to_account_number}`;
    return (
      <section>
        <PageHeader title="Check and confirm" />
        <div className="card stack" aria-live="polite">
          <dl className="facts review">
            <dt>From</dt>
            <dd>{from.name}</dd>
            <dt>To</dt>
            <dd>{to}</dd>
            <dt>Amount</dt>
            <dd className="big-number">
              <Money amount={review.amount} currency={review.currency} />
            </dd>
            {review.description && (
              <>
                <dt>Description</dt>
                <dd>{review.description}</dd>
              </>
            )}
          </dl>
          {needsPasskey ? (
            <div className="stack" data-testid="passkey-confirmation">
              <Notice tone="info">
                Confirm with your passkey that you are sending{" "}
                <strong>
                  <Money amount={review.amount} currency={review.currency} />
                </strong>{" "}
                to <strong>{to}</strong>. Your device signs exactly this payment.
              </Notice>
              <FormError error={signError} />
            </div>
          ) : (
            <FormError error={transfer.error} />
          )}
          <div className="actions">
            <button type="button" className="button secondary" onClick={() => setReview(null)} disabled={transfer.pending || signing}>
              Edit
            </button>
            {needsPasskey ? (
              <button type="button" className="button" onClick={() => void onPasskeyConfirm()} disabled={transfer.pending || signing}>
                {signing ? "Waiting for your passkey…" : transfer.pending ? "Sending…" : "Confirm with passkey"}
              </button>
            ) : (
              <button type="button" className="button" onClick={() => void onConfirm()} disabled={transfer.pending}>
                {transfer.pending ? "Sending…" : transfer.error ? "Try again" : "Confirm and send"}
              </button>
            )}
          </div>
        </div>
      </section>
    );
  }

  return (
    <section>
      <PageHeader title="Send money" />
      <form className="card stack narrow" onSubmit={onReview} noValidate>
        <SelectField label="From" value={from?.id ?? ""} onChange={set("from")}>
          {own.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name} ({a.currency}) — available {a.available_balance}
            </option>
          ))}
        </SelectField>
        <fieldset className="segmented">
          <legend>Send to</legend>
          {(
            [
              ["account_number", "Flowlet account"],
              ["iban", "Bank account (IBAN)"],
              ["own", "My accounts"],
            ] as const
          ).map(([value, label]) => (
            <label key={value} className={mode === value ? "checked" : ""}>
              <input type="radio" name="mode" value={value} checked={mode === value} onChange={() => setMode(value)} />
              {label}
            </label>
          ))}
        </fieldset>
        {mode === "own" && (
          <SelectField label="To account" value={form.to_own} onChange={set("to_own")} errors={fields.to_account_id}>
            <option value="">Choose…</option>
            {own
              .filter((a) => a.id !== from?.id && a.currency === from?.currency)
              .map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name} ({a.currency})
                </option>
              ))}
          </SelectField>
        )}
        {mode === "account_number" && (
          <Field label="Account number" value={form.to_account_number} onChange={set("to_account_number")} errors={fields.to_account_number} autoComplete="off" />
        )}
        {mode === "iban" && (
          <>
            <Field label="IBAN" value={form.to_iban} onChange={set("to_iban")} errors={fields.to_iban} autoComplete="off" />
            <Field label="Account holder" value={form.beneficiary_name} onChange={set("beneficiary_name")} errors={fields.beneficiary_name} autoComplete="name" />
          </>
        )}
        {from && (
          <MoneyInput
            label="Amount"
            currency={from.currency}
            value={form.amount}
            onChange={(amount) => setForm((f) => ({ ...f, amount }))}
            errors={fields.amount}
            hint="Large amounts ask you to confirm it's you."
          />
        )}
        <Field label="Description (optional)" value={form.description} onChange={set("description")} errors={fields.description} maxLength={255} />
        <FormError error={transfer.error} shownFields={Object.keys(fields)} />
        <button type="submit" className="button block" disabled={!from}>
          Review transfer
        </button>
      </form>
    </section>
  );
}
