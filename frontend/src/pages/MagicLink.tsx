import { useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";
import { FormError, Loading, PageHeader } from "../components/ui";
import { useAuth } from "../lib/auth";
import type { MfaChallenge } from "../lib/types";
import { MfaStep } from "./SignIn";

/** The token of a magic link: from the fragment (`#token=…`, never sent to a server), or from
 * `?token=` for links written before. The address bar is cleared of it at once. */
function takeToken(): string {
  const fromHash = new URLSearchParams(window.location.hash.replace(/^#/, "")).get("token");
  const fromQuery = new URLSearchParams(window.location.search).get("token");
  window.history.replaceState(window.history.state, "", window.location.pathname);
  return fromHash ?? fromQuery ?? "";
}

/** `/sign-in/link#token=…`: signs in with the link, on the browser that asked for it. */
export function MagicLinkPage() {
  const { completeMagicLink } = useAuth();
  const [challenge, setChallenge] = useState<MfaChallenge | null>(null);
  const [error, setError] = useState<unknown>(null);
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return;
    started.current = true;
    completeMagicLink(takeToken())
      .then(setChallenge)
      .catch(setError);
  }, [completeMagicLink]);

  if (challenge) {
    return <MfaStep challenge={challenge} onCancel={() => window.location.assign("/sign-in")} />;
  }
  return (
    <div className="stack">
      <PageHeader title="Signing you in" />
      {error ? (
        <>
          <FormError error={error} />
          <p className="muted">
            A sign-in link works once, for 15 minutes, in the browser where you asked for it.
          </p>
          <p className="muted center">
            <Link to="/sign-in">Back to sign in</Link>
          </p>
        </>
      ) : (
        <Loading label="Checking your link…" />
      )}
    </div>
  );
}
