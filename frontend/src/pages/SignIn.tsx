import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { Field, FormError, PageHeader } from "../components/ui";
import { useAuth } from "../lib/auth";
import { fieldErrorsOf } from "../lib/hooks";
import type { MfaChallenge } from "../lib/types";
import { passkeysSupported } from "../lib/webauthn";

export function SignInPage() {
  const { signIn, completeMfa, signInWithPasskey } = useAuth();
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [challenge, setChallenge] = useState<MfaChallenge | null>(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState(false);

  const run = async (action: () => Promise<void>) => {
    setPending(true);
    setError(null);
    try {
      await action();
    } catch (failure) {
      setError(failure);
    } finally {
      setPending(false);
    }
  };

  const onPassword = (event: FormEvent) => {
    event.preventDefault();
    void run(async () => {
      const next = await signIn(login.trim(), password);
      if (next) {
        setChallenge(next);
        setPassword("");
      }
    });
  };

  const onCode = (event: FormEvent) => {
    event.preventDefault();
    void run(() => completeMfa(challenge!.mfa_token, code.trim()));
  };

  const onPasskey = () => void run(() => signInWithPasskey(challenge?.mfa_token));

  const fields = fieldErrorsOf(error);
  if (challenge) {
    return (
      <form onSubmit={onCode} className="stack" noValidate>
        <PageHeader title="Two-step verification" />
        <p>Enter the 6-digit code from your authenticator app, or one of your backup codes.</p>
        <Field
          label="Authentication code"
          name="code"
          inputMode="numeric"
          autoComplete="one-time-code"
          value={code}
          onChange={(e) => setCode(e.target.value)}
          errors={fields.code}
          required
          autoFocus
        />
        <FormError error={error} shownFields={["code"]} />
        <button type="submit" className="button block" disabled={pending}>
          {pending ? "Checking…" : "Verify and sign in"}
        </button>
        {challenge.methods.includes("passkey") && passkeysSupported() && (
          <button type="button" className="button secondary block" onClick={onPasskey} disabled={pending}>
            Use a passkey instead
          </button>
        )}
        <button type="button" className="link-button" onClick={() => setChallenge(null)}>
          Use a different account
        </button>
      </form>
    );
  }
  return (
    <form onSubmit={onPassword} className="stack" noValidate>
      <PageHeader title="Sign in" />
      <p className="muted">Welcome back. Sign in with your e-mail address or username.</p>
      <Field
        label="E-mail or username"
        name="login"
        autoComplete="username"
        value={login}
        onChange={(e) => setLogin(e.target.value)}
        errors={fields.login ?? fields.email}
        required
        autoFocus
      />
      <Field
        label="Password"
        name="password"
        type="password"
        autoComplete="current-password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
        errors={fields.password}
        required
      />
      <FormError error={error} shownFields={["login", "email", "password"]} />
      <button type="submit" className="button block" disabled={pending}>
        {pending ? "Signing in…" : "Sign in"}
      </button>
      {passkeysSupported() && (
        <button type="button" className="button secondary block" onClick={onPasskey} disabled={pending}>
          Sign in with a passkey
        </button>
      )}
      <p className="muted center">
        <Link to="/forgot-password">Forgot your password?</Link>
      </p>
      <p className="muted center">
        New to Flowlet? <Link to="/register">Open an account</Link>
      </p>
    </form>
  );
}
