import { useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { DateTime, Field, FormError, Loading, Notice, PageHeader } from "../components/ui";
import { api } from "../lib/api";
import { useAuth } from "../lib/auth";
import { fieldErrorsOf, saveBlob, useAction, useApi } from "../lib/hooks";
import { startLink, ssoLabel, useSsoProviders, type LinkedIdentity } from "../lib/sso";
import { svgDataUri } from "../lib/svg";
import { hasRole, type Page, type Passkey, type Session, type User } from "../lib/types";
import { createPasskey, passkeysSupported, type CreationOptionsJSON } from "../lib/webauthn";

interface Setup {
  secret: string;
  otpauth_uri: string;
  qr_svg: string;
}

function TwoFactor() {
  const { user, setUser } = useAuth();
  const [setup, setSetup] = useState<Setup | null>(null);
  const [code, setCode] = useState("");
  const [backupCodes, setBackupCodes] = useState<string[] | null>(null);
  const [disable, setDisable] = useState({ password: "", code: "" });
  const refreshUser = async () => setUser(await api.request<User>("GET", "/auth/me"));
  const start = useAction(async () => setSetup(await api.request<Setup>("POST", "/auth/2fa/setup")));
  const enable = useAction(async () => {
    const result = await api.request<{ backup_codes: string[] }>("POST", "/auth/2fa/enable", { body: { code: code.trim() } });
    setBackupCodes(result.backup_codes);
    setSetup(null);
    setCode("");
    await refreshUser();
  });
  const turnOff = useAction(async () => {
    await api.request("POST", "/auth/2fa/disable", { body: { password: disable.password, code: disable.code.trim() } });
    setDisable({ password: "", code: "" });
    await refreshUser();
  });

  if (backupCodes) {
    return (
      <div className="stack">
        <Notice tone="success">Two-step verification is on.</Notice>
        <p>
          Keep these backup codes somewhere safe. Each one signs you in once if you lose your phone. They are
          shown only now.
        </p>
        <ol className="backup-codes mono" aria-label="Backup codes">
          {backupCodes.map((c) => (
            <li key={c}>{c}</li>
          ))}
        </ol>
        <div className="actions start">
          <button
            type="button"
            className="button secondary"
            onClick={() => saveBlob(new Blob([backupCodes.join("\n") + "\n"], { type: "text/plain" }), "flowlet-backup-codes.txt")}
          >
            Download codes
          </button>
          <button type="button" className="button" onClick={() => setBackupCodes(null)}>
            I have saved them
          </button>
        </div>
      </div>
    );
  }
  if (user?.mfa_enabled) {
    const fields = fieldErrorsOf(turnOff.error);
    return (
      <form
        className="stack"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void turnOff.run();
        }}
      >
        <Notice tone="success">Two-step verification is on. Sign-ins and large payments ask for a code.</Notice>
        <p className="muted">To turn it off, confirm your password and a current code.</p>
        <div className="grid-2">
          <Field label="Password" type="password" autoComplete="current-password" value={disable.password} onChange={(e) => setDisable({ ...disable, password: e.target.value })} errors={fields.password} required />
          <Field label="Authentication code" inputMode="numeric" autoComplete="one-time-code" value={disable.code} onChange={(e) => setDisable({ ...disable, code: e.target.value })} errors={fields.code} required />
        </div>
        <FormError error={turnOff.error} shownFields={["password", "code"]} />
        <div className="actions start">
          <button type="submit" className="button secondary danger" disabled={turnOff.pending}>
            Turn off two-step verification
          </button>
        </div>
      </form>
    );
  }
  if (setup) {
    const fields = fieldErrorsOf(enable.error);
    return (
      <form
        className="stack"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          void enable.run();
        }}
      >
        <ol className="steps">
          <li>Scan this code with an authenticator app (1Password, Google Authenticator, Aegis…).</li>
          <li>Enter the 6-digit code the app shows.</li>
        </ol>
        <div className="qr-row">
          <img className="qr" src={svgDataUri(setup.qr_svg)} alt="QR code for your authenticator app" width={180} height={180} />
          <div>
            <p className="muted">Can't scan? Enter this key instead:</p>
            <p className="mono secret" data-testid="totp-secret">
              {setup.secret}
            </p>
          </div>
        </div>
        <Field label="Code from the app" inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} errors={fields.code} required />
        <FormError error={enable.error} shownFields={["code"]} />
        <div className="actions start">
          <button type="button" className="button secondary" onClick={() => setSetup(null)}>
            Cancel
          </button>
          <button type="submit" className="button" disabled={enable.pending}>
            Turn on
          </button>
        </div>
      </form>
    );
  }
  return (
    <div className="stack">
      <p>Protect your account with a code from your phone at sign-in and for large payments.</p>
      <FormError error={start.error} />
      <div className="actions start">
        <button type="button" className="button" disabled={start.pending} onClick={() => void start.run()}>
          Set up two-step verification
        </button>
      </div>
    </div>
  );
}

function Passkeys() {
  const queryClient = useQueryClient();
  const passkeys = useApi<Page<Passkey>>("/auth/passkeys");
  const [name, setName] = useState("");
  const [added, setAdded] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["/auth/passkeys"] });
  const add = useAction(async () => {
    setAdded(null);
    const options = await api.request<CreationOptionsJSON>("POST", "/auth/passkeys/register/options");
    const credential = await createPasskey(options);
    const passkey = await api.request<Passkey>("POST", "/auth/passkeys/register", {
      body: { credential, name: name.trim() || "Passkey" },
    });
    setName("");
    setAdded(passkey.name);
    await refresh();
  });
  const remove = useAction(async (passkey: Passkey) => {
    await api.request("DELETE", `/auth/passkeys/${passkey.id}`);
    setAdded(null);
    await refresh();
  });
  if (passkeys.isLoading) return <Loading />;
  const items = passkeys.data?.items ?? [];
  const fields = fieldErrorsOf(add.error);
  return (
    <div className="stack">
      <p className="muted">
        Sign in and confirm large payments with your fingerprint, face or device PIN instead of a password.
      </p>
      <FormError error={passkeys.error ?? remove.error} />
      {items.length > 0 && (
        <ul className="session-list" aria-label="Your passkeys">
          {items.map((p) => (
            <li key={p.id} className="session" data-testid="passkey">
              <div>
                <p className="session-device">{p.name}</p>
                <p className="muted">
                  added <DateTime value={p.created_at} /> · last used{" "}
                  {p.last_used_at ? <DateTime value={p.last_used_at} /> : "never"}
                </p>
              </div>
              <button type="button" className="button secondary small" disabled={remove.pending} onClick={() => void remove.run(p)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      {added && <Notice tone="success">Passkey “{added}” added.</Notice>}
      {passkeysSupported() ? (
        <form
          className="stack"
          onSubmit={(e: FormEvent) => {
            e.preventDefault();
            void add.run();
          }}
        >
          <Field label="Passkey name" value={name} onChange={(e) => setName(e.target.value)} errors={fields.name} hint="E.g. “Work laptop”." maxLength={64} />
          <FormError error={add.error} shownFields={["name"]} />
          <div className="actions start">
            <button type="submit" className="button" disabled={add.pending}>
              {add.pending ? "Waiting for your device…" : "Add a passkey"}
            </button>
          </div>
        </form>
      ) : (
        <Notice tone="info">This browser does not support passkeys.</Notice>
      )}
    </div>
  );
}

function Sessions() {
  const queryClient = useQueryClient();
  const { signOut } = useAuth();
  const sessions = useApi<Page<Session>>("/auth/sessions");
  const revoke = useAction(async (session: Session) => {
    await api.request("DELETE", `/auth/sessions/${session.id}`);
    if (session.current) return signOut();
    await queryClient.invalidateQueries({ queryKey: ["/auth/sessions"] });
  });
  if (sessions.isLoading) return <Loading />;
  return (
    <div className="stack">
      <FormError error={sessions.error ?? revoke.error} />
      <ul className="session-list">
        {(sessions.data?.items ?? []).map((s) => (
          <li key={s.id} className="session">
            <div>
              <p className="session-device">
                {s.device || "Unknown device"} {s.current && <span className="badge badge-active">This device</span>}
              </p>
              <p className="muted">
                {s.ip ?? "unknown address"} · signed in <DateTime value={s.created_at} /> · last used <DateTime value={s.last_used_at} />
              </p>
            </div>
            <button type="button" className="button secondary small" disabled={revoke.pending} onClick={() => void revoke.run(s)}>
              {s.current ? "Sign out this device" : "Revoke"}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function ChangePassword() {
  const [form, setForm] = useState({ current_password: "", new_password: "" });
  const [done, setDone] = useState(false);
  const action = useAction(async () => {
    await api.request("POST", "/auth/change-password", { body: form });
    setForm({ current_password: "", new_password: "" });
    setDone(true);
  });
  const fields = fieldErrorsOf(action.error);
  return (
    <form
      className="stack"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        setDone(false);
        void action.run();
      }}
    >
      <Field label="Current password" type="password" autoComplete="current-password" value={form.current_password} onChange={(e) => setForm({ ...form, current_password: e.target.value })} errors={fields.current_password} required />
      <Field label="New password" type="password" autoComplete="new-password" value={form.new_password} onChange={(e) => setForm({ ...form, new_password: e.target.value })} errors={fields.new_password} hint="At least 12 characters." required />
      <FormError error={action.error} shownFields={["current_password", "new_password"]} />
      {done && <Notice tone="success">Password changed. Your other sessions were signed out.</Notice>}
      <div className="actions start">
        <button type="submit" className="button" disabled={action.pending}>
          Change password
        </button>
      </div>
    </form>
  );
}

function PersonalData() {
  const download = useAction(async () => {
    const data = await api.request<unknown>("GET", "/privacy/export");
    saveBlob(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }), "flowlet-my-data.json");
  });
  const [requested, setRequested] = useState(false);
  const erase = useAction(async () => {
    await api.request("POST", "/privacy/erasure-request");
    setRequested(true);
  });
  const [confirming, setConfirming] = useState(false);
  return (
    <div className="stack">
      <p className="muted">Download everything we hold about you, or ask us to erase it.</p>
      <FormError error={download.error ?? erase.error} />
      {confirming && !requested && (
        <Notice tone="warning">
          Erasure closes your relationship with Flowlet. Records the law requires us to keep (payments, audit)
          stay, without your name. Press the button again to confirm.
        </Notice>
      )}
      {requested && <Notice tone="success">Your erasure request was received; we will review it.</Notice>}
      <div className="actions start wrap">
        <button type="button" className="button secondary" onClick={() => void download.run()} disabled={download.pending}>
          Download my data
        </button>
        <button
          type="button"
          className="button secondary danger"
          disabled={requested || erase.pending}
          onClick={() => {
            if (!confirming) setConfirming(true);
            else void erase.run();
          }}
        >
          {confirming ? "Confirm erasure request" : "Request erasure"}
        </button>
      </div>
    </div>
  );
}

/** Identities at sign-in providers linked to this account; a link is made only from here. */
function LinkedSignIns() {
  const queryClient = useQueryClient();
  const { user } = useAuth();
  const staff = hasRole(user, "admin") || hasRole(user, "compliance_officer");
  // The bank's own provider is offered to staff only; customers see the social ones.
  const providers = (useSsoProviders().data?.providers ?? []).filter((p) => staff === (p === "staff"));
  const linked = useApi<Page<LinkedIdentity>>("/auth/oidc/identities");
  const [justLinked] = useState(() => /^#linked=(\w+)$/.exec(window.location.hash)?.[1] ?? null);
  const link = useAction(startLink);
  const unlink = useAction(async (identity: LinkedIdentity) => {
    await api.request("DELETE", `/auth/oidc/identities/${identity.id}`);
    await queryClient.invalidateQueries({ queryKey: ["/auth/oidc/identities"] });
  });
  if (linked.isLoading) return <Loading />;
  const items = linked.data?.items ?? [];
  if (items.length === 0 && providers.length === 0) {
    return <p className="muted">This bank offers no other way to sign in.</p>;
  }
  return (
    <div className="stack">
      {justLinked && <Notice tone="success">{ssoLabel(justLinked)} is linked: you can sign in with it.</Notice>}
      <FormError error={linked.error ?? link.error ?? unlink.error} />
      <ul className="session-list">
        {items.map((identity) => (
          <li key={identity.id} className="session">
            <div>
              <p className="session-device">{ssoLabel(identity.provider)}</p>
              <p className="muted">
                {identity.email ?? "no e-mail shared"} · linked <DateTime value={identity.linked_at} />
              </p>
            </div>
            <button
              type="button"
              className="button secondary small"
              disabled={unlink.pending}
              onClick={() => void unlink.run(identity)}
            >
              Unlink
            </button>
          </li>
        ))}
      </ul>
      <div className="actions start">
        {providers
          .filter((p) => !items.some((i) => i.provider === p))
          .map((provider) => (
            <button
              key={provider}
              type="button"
              className="button secondary"
              disabled={link.pending}
              onClick={() => void link.run(provider)}
            >
              Link {ssoLabel(provider)}
            </button>
          ))}
      </div>
    </div>
  );
}

export function SecurityPage() {
  return (
    <section>
      <PageHeader title="Security" />
      <section className="card" aria-labelledby="mfa-title">
        <h2 id="mfa-title">Two-step verification</h2>
        <TwoFactor />
      </section>
      <section className="card" aria-labelledby="passkeys-title">
        <h2 id="passkeys-title">Passkeys</h2>
        <Passkeys />
      </section>
      <section className="card" aria-labelledby="sessions-title">
        <h2 id="sessions-title">Where you're signed in</h2>
        <Sessions />
      </section>
      <section className="card" aria-labelledby="sso-title">
        <h2 id="sso-title">Sign in with another account</h2>
        <LinkedSignIns />
      </section>
      <section className="card" aria-labelledby="password-title">
        <h2 id="password-title">Password</h2>
        <ChangePassword />
      </section>
      <section className="card" aria-labelledby="data-title">
        <h2 id="data-title">Your data</h2>
        <PersonalData />
      </section>
    </section>
  );
}
