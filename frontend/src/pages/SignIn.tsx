import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { Field, FormError, Notice, PageHeader } from "../components/ui";
import { useAuth } from "../lib/auth";
import { fieldErrorsOf } from "../lib/hooks";
import { ssoAuthorizeUrl, ssoLabel, useSsoProviders } from "../lib/sso";
import type { MfaChallenge } from "../lib/types";
import { passkeysSupported } from "../lib/webauthn";
import { TwoStepCodeForm } from "../components/TwoStepCodeForm";

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
  const { signIn, signInWithPasskey } = useAuth();
  const [login, setLogin] = useState("");
  const [password, setPassword] = useState("");
  const [challenge, setChallenge] = useState<MfaChallenge | null>(null);
  const [magic, setMagic] = useState(false);
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

  const onPasskey = () => void run(() => signInWithPasskey());

  const fields = fieldErrorsOf(error);
  if (challenge) {
    return <MfaStep challenge={challenge} onCancel={() => setChallenge(null)} />;
  }
  if (magic) {
    return <MagicLinkRequest initialEmail={login.includes("@") ? login.trim() : ""} onCancel={() => setMagic(false)} />;
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
      <button type="button" className="button block secondary" onClick={() => setMagic(true)}>
        E-mail me a sign-in link
      </button>
      {passkeysSupported() && (
        <button type="button" className="button secondary block" onClick={onPasskey} disabled={pending}>
          Sign in with a passkey
        </button>
      )}
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

/** The second step of a sign-in with 2FA on (after a password or a magic link). */
export function MfaStep({ challenge, onCancel }: { challenge: MfaChallenge; onCancel: () => void }) {
  const { completeMfa, signInWithPasskey } = useAuth();
  const [code, setCode] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState(false);

  const onCode = () => {
    setPending(true);
    setError(null);
    completeMfa(challenge.mfa_token, code.trim())
      .catch(setError)
      .finally(() => setPending(false));
  };

  const onPasskey = () => {
    setPending(true);
    setError(null);
    signInWithPasskey(challenge.mfa_token)
      .catch(setError)
      .finally(() => setPending(false));
  };

  return (
    <TwoStepCodeForm code={code} onCode={setCode} onSubmit={onCode} error={error} pending={pending}>
      {(challenge.methods ?? []).includes("passkey") && passkeysSupported() && (
        <button type="button" className="button secondary block" onClick={onPasskey} disabled={pending}>
          Use a passkey instead
        </button>
      )}
      <button type="button" className="link-button" onClick={onCancel}>
        Use a different account
      </button>
    </TwoStepCodeForm>
  );
}

/** Ask for a magic sign-in link; it works only in this browser (an HttpOnly cookie binds it). */
function MagicLinkRequest({ initialEmail, onCancel }: { initialEmail: string; onCancel: () => void }) {
  const { requestMagicLink } = useAuth();
  const [email, setEmail] = useState(initialEmail);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState(false);
  const fields = fieldErrorsOf(error);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    requestMagicLink(email.trim())
      .then(() => setSent(true))
      .catch(setError)
      .finally(() => setPending(false));
  };

  return (
    <form onSubmit={onSubmit} className="stack" noValidate>
      <PageHeader title="Sign in with a link" />
      {sent ? (
        <Notice tone="success">
          If that address has an account, a sign-in link is on its way. Open it in this browser within 15
          minutes; it works once.
        </Notice>
      ) : (
        <>
          <p className="muted">We e-mail you a link that signs you in once, in this browser only.</p>
          <Field
            label="E-mail"
            name="email"
            type="email"
            autoComplete="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            errors={fields.email}
            required
            autoFocus
          />
          <FormError error={error} shownFields={["email"]} />
          <button type="submit" className="button block" disabled={pending}>
            {pending ? "Sending…" : "E-mail me a sign-in link"}
          </button>
        </>
      )}
      <button type="button" className="link-button" onClick={onCancel}>
        Sign in with a password instead
      </button>
    </form>
  );
}
