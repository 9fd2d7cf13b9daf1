import { useEffect, useRef, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { FormError, Loading, PageHeader } from "../components/ui";
import { useAuth } from "../lib/auth";

/** Read `#code=…` once and wipe it from the address bar and history before using it. */
function takeCode(): string | null {
  const match = /(?:^#|&)code=([^&]+)/.exec(window.location.hash);
  window.history.replaceState(null, "", window.location.pathname);
  return match ? decodeURIComponent(match[1]) : null;
}

/** Where a single sign-on lands: the one-time code is exchanged for tokens, then home. */
export function SsoCallbackPage() {
  const { completeSso } = useAuth();
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return; // a code is spent once, even under StrictMode's double effect
    started.current = true;
    const code = takeCode();
    if (!code) {
      setMissing(true);
      return;
    }
    completeSso(code)
      .then(() => navigate("/", { replace: true }))
      .catch(setError);
  }, [completeSso, navigate]);

  if (!error && !missing) return <Loading label="Finishing your sign-in…" />;
  return (
    <div className="stack">
      <PageHeader title="Sign-in not completed" />
      {missing ? <p>This page is reached from your identity provider's sign-in.</p> : <FormError error={error} />}
      <p className="muted center">
        <Link to="/sign-in">Back to sign in</Link>
      </p>
    </div>
  );
}
