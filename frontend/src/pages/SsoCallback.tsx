import { useEffect, useRef, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { TwoStepCodeForm } from "../components/TwoStepCodeForm";
import { FormError, Loading, PageHeader } from "../components/ui";
import { useAuth } from "../lib/auth";
import { ApiError } from "../lib/errors";

/** What the server said when it refused a sign-in (`#error=<code>`), in words. */
const REFUSALS: Record<string, string> = {
  sso_not_linked:
    "No Flowlet account is linked to this sign-in. Sign in with your password and link it from the Security page, or open an account first.",
  no_role: "Your groups at the bank's identity provider give you no role in Flowlet. Ask your administrator.",
  account_disabled: "This account is disabled.",
  invalid_state: "The sign-in expired or was started in another browser. Please start again.",
  conflict: "This sign-in is already linked to another Flowlet account.",
  service_unavailable: "The identity provider did not answer. Please try again shortly.",
};

/** Read `#code=…` or `#error=…` once and wipe it from the address bar and history. */
function takeFragment(): { code: string | null; error: string | null } {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  window.history.replaceState(null, "", window.location.pathname);
  return { code: params.get("code"), error: params.get("error") };
}

/** Where a single sign-on lands: the one-time code is exchanged for tokens, then home. */
export function SsoCallbackPage() {
  const { completeSso } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const [refusal, setRefusal] = useState<string | null>(null);
  const started = useRef(false);
  // With two-step verification on, the provider's sign-in is the first step only.
  const [pendingCode, setPendingCode] = useState<string | null>(null);
  const [mfaCode, setMfaCode] = useState("");
  const [checking, setChecking] = useState(false);

  const finish = (code: string, second?: string) =>
    completeSso(code, second)
      .then(() => navigate("/", { replace: true }))
      .catch((failure: unknown) => {
        if (failure instanceof ApiError && failure.code === "mfa_required") {
          setPendingCode(code);
          setError(null);
        } else {
          setError(failure);
        }
      });

  useEffect(() => {
    if (started.current) return; // a code is spent once, even under StrictMode's double effect
    started.current = true;
    const { code, error: refused } = takeFragment();
    if (refused) {
      setRefusal(REFUSALS[refused] ?? "The sign-in could not be completed. Please try again.");
      return;
    }
    if (!code) {
      setMissing(true);
      return;
    }
    void finish(code);
    // Once, on arrival: the code in the fragment is read and wiped above.
  }, []);

  const onMfa = () => {
    setChecking(true);
    void finish(pendingCode!, mfaCode.trim()).finally(() => setChecking(false));
  };

  if (pendingCode) {
    return (
      <TwoStepCodeForm
        code={mfaCode}
        onCode={setMfaCode}
        onSubmit={onMfa}
        error={error}
        pending={checking}
        field="mfa_code"
      />
    );
  }

  if (!error && !missing && !refusal) return <Loading label="Finishing your sign-in…" />;
  return (
    <div className="stack">
      <PageHeader title="Sign-in not completed" />
      {refusal && (
        <p role="alert" className="alert alert-error">
          {refusal}
        </p>
      )}
      {missing && <p>This page is reached from your identity provider's sign-in.</p>}
      {error !== null && <FormError error={error} />}
      <p className="muted center">
        <Link to="/sign-in">Back to sign in</Link>
      </p>
    </div>
  );
}
