import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { api } from "../lib/api";
import { useAuth } from "../lib/auth";
import type { Page, Passkey, Tokens } from "../lib/types";
import { passkeysSupported, signWithPasskey, type RequestOptionsJSON } from "../lib/webauthn";
import { Dialog, Field, FormError } from "./ui";

interface Prompt {
  reason: string;
  resolve: (ok: boolean) => void;
}

/**
 * Answers the API client's step-up requests: asks for a 2FA code (or the password when 2FA is
 * off), gets a fresh token from `/auth/step-up`, and lets the client retry the request.
 */
export function StepUpProvider({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  const [prompt, setPrompt] = useState<Prompt | null>(null);
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [pending, setPending] = useState(false);
  const [hasPasskey, setHasPasskey] = useState(false);
  const promptRef = useRef<Prompt | null>(null);
  promptRef.current = prompt;

  useEffect(() => {
    api.stepUpHandler = (reason) =>
      new Promise<boolean>((resolve) => {
        setSecret("");
        setError(null);
        setPrompt({ reason, resolve });
        setHasPasskey(false);
        if (passkeysSupported()) {
          api
            .request<Page<Passkey>>("GET", "/auth/passkeys")
            .then((page) => setHasPasskey(page.items.length > 0))
            .catch(() => setHasPasskey(false));
        }
      });
    return () => {
      api.stepUpHandler = null;
    };
  }, []);

  const close = (ok: boolean) => {
    promptRef.current?.resolve(ok);
    setPrompt(null);
  };

  const usesCode = !!user?.mfa_enabled;
  const onSubmit = async (event: FormEvent) => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      const tokens = await api.request<Tokens>("POST", "/auth/step-up", {
        body: usesCode ? { code: secret.trim() } : { password: secret },
      });
      api.acceptTokens(tokens);
      close(true);
    } catch (failure) {
      setError(failure);
    } finally {
      setPending(false);
    }
  };

  const onPasskey = async () => {
    setPending(true);
    setError(null);
    try {
      const options = await api.request<RequestOptionsJSON>("POST", "/auth/passkeys/step-up/options");
      const credential = await signWithPasskey(options);
      const tokens = await api.request<Tokens>("POST", "/auth/passkeys/step-up", { body: { credential } });
      api.acceptTokens(tokens);
      close(true);
    } catch (failure) {
      setError(failure);
    } finally {
      setPending(false);
    }
  };

  return (
    <>
      {children}
      <Dialog open={prompt !== null} title="Confirm it's you" onClose={() => close(false)}>
        <form onSubmit={onSubmit} className="stack">
          <p>
            {usesCode
              ? "For your security, enter the 6-digit code from your authenticator app (or a backup code)."
              : "For your security, enter your password again."}
          </p>
          <Field
            label={usesCode ? "Authentication code" : "Password"}
            type={usesCode ? "text" : "password"}
            inputMode={usesCode ? "numeric" : undefined}
            autoComplete={usesCode ? "one-time-code" : "current-password"}
            value={secret}
            onChange={(e) => setSecret(e.target.value)}
            required
            autoFocus
          />
          <FormError error={error} />
          {hasPasskey && (
            <button type="button" className="button secondary block" onClick={() => void onPasskey()} disabled={pending}>
              Use a passkey instead
            </button>
          )}
          <div className="actions">
            <button type="button" className="button secondary" onClick={() => close(false)}>
              Cancel
            </button>
            <button type="submit" className="button" disabled={pending}>
              {pending ? "Checking…" : "Confirm"}
            </button>
          </div>
        </form>
      </Dialog>
    </>
  );
}
