import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { Field, FormError, Loading, Notice, PageHeader } from "../components/ui";
import { api } from "../lib/api";
import { fieldErrorsOf, useAction } from "../lib/hooks";

export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const action = useAction(async () => {
    await api.request("POST", "/auth/password-reset/request", { body: { email: email.trim() }, anonymous: true });
    setSent(true);
  });
  const fields = fieldErrorsOf(action.error);
  return (
    <form
      className="stack"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void action.run();
      }}
      noValidate
    >
      <PageHeader title="Reset your password" />
      {sent ? (
        <Notice tone="success">If that address has an account, a reset link is on its way. It works for one hour.</Notice>
      ) : (
        <>
          <Field label="E-mail" type="email" autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} errors={fields.email} required autoFocus />
          <FormError error={action.error} shownFields={["email"]} />
          <button type="submit" className="button block" disabled={action.pending}>
            Send reset link
          </button>
        </>
      )}
      <p className="muted center">
        <Link to="/sign-in">Back to sign in</Link>
      </p>
    </form>
  );
}

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const [password, setPassword] = useState("");
  const [done, setDone] = useState(false);
  const action = useAction(async () => {
    await api.request("POST", "/auth/password-reset/confirm", {
      body: { token: params.get("token") ?? "", new_password: password },
      anonymous: true,
    });
    setDone(true);
  });
  const fields = fieldErrorsOf(action.error);
  return (
    <form
      className="stack"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void action.run();
      }}
      noValidate
    >
      <PageHeader title="Choose a new password" />
      {done ? (
        <Notice tone="success">
          Your password is changed and every session was signed out. <Link to="/sign-in">Sign in</Link>
        </Notice>
      ) : (
        <>
          <Field label="New password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} errors={fields.new_password} hint="At least 12 characters." required autoFocus />
          <FormError error={action.error} shownFields={["new_password"]} />
          <button type="submit" className="button block" disabled={action.pending}>
            Change password
          </button>
        </>
      )}
    </form>
  );
}

export function VerifyEmailPage() {
  const [params] = useSearchParams();
  const [done, setDone] = useState(false);
  const started = useRef(false);
  const action = useAction(async () => {
    await api.request("POST", "/auth/verify-email", { body: { token: params.get("token") ?? "" }, anonymous: true });
    setDone(true);
  });
  const { run } = action;
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    void run();
  }, [run]);
  return (
    <div className="stack">
      <PageHeader title="Confirm your e-mail" />
      {done ? (
        <Notice tone="success">Thank you, your e-mail address is confirmed.</Notice>
      ) : action.error ? (
        <FormError error={action.error} />
      ) : (
        <Loading label="Confirming…" />
      )}
      <p className="muted center">
        <Link to="/">Continue to Flowlet</Link>
      </p>
    </div>
  );
}
