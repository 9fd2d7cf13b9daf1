import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { Field, FormError, PageHeader } from "../components/ui";
import { useAuth } from "../lib/auth";
import { fieldErrorsOf } from "../lib/hooks";
import { ssoAuthorizeUrl, ssoLabel, useSsoProviders } from "../lib/sso";
import type { MfaChallenge } from "../lib/types";

/** A button per single sign-on provider this deployment offers (a full-page navigation). */
function SsoButtons() {
  const providers = useSsoProviders().data?.providers ?? [];
  if (providers.length === 0) return null;
  return (
    <div className="stack" aria-label="Single sign-on">
      <p className="muted center">or</p>
      {providers.map((provider) => (
        <a key={provider} className="button secondary block" href={ssoAuthorizeUrl(provider)}>
          {provider === "staff" ? ssoLabel(provider) : `Continue with ${ssoLabel(provider)}`}
        </a>
      ))}
    </div>
  );
}

export function SignInPage() {
  const { signIn, completeMfa } = useAuth();
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
      <SsoButtons />
      <p className="muted center">
        <Link to="/forgot-password">Forgot your password?</Link>
      </p>
      <p className="muted center">
        New to Flowlet? <Link to="/register">Open an account</Link>
      </p>
    </form>
  );
}
