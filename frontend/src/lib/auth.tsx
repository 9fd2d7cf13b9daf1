import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api } from "./api";
import type { MfaChallenge, Tokens, User } from "./types";
import { signWithPasskey, type RequestOptionsJSON } from "./webauthn";

type Status = "loading" | "signed-in" | "signed-out";

interface AuthState {
  status: Status;
  user: User | null;
  /** True after the person signed out themselves (not after an expired session). */
  signedOutByChoice: boolean;
  signIn(login: string, password: string): Promise<MfaChallenge | null>;
  completeMfa(mfaToken: string, code: string): Promise<void>;
  /** E-mail a sign-in link; only this browser can use it (an HttpOnly cookie binds it). */
  requestMagicLink(email: string): Promise<void>;
  /** Sign in with the link's token: tokens (never fresh), or the MFA step with 2FA on. */
  completeMagicLink(token: string): Promise<MfaChallenge | null>;
  /** Sign in with a passkey (discoverable); or, with `mfaToken`, use it as the second step. */
  signInWithPasskey(mfaToken?: string): Promise<void>;
  /** Spend the one-time code a single sign-on left in the URL's fragment for tokens. */
  completeSso(code: string, mfaCode?: string): Promise<void>;
  signOut(): Promise<void>;
  setUser(user: User): void;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [user, setUser] = useState<User | null>(null);
  const [status, setStatus] = useState<Status>(api.hasSession ? "loading" : "signed-out");
  const [signedOutByChoice, setSignedOutByChoice] = useState(false);

  useEffect(() => {
    const unsubscribe = api.subscribe((next) => {
      setUser(next);
      setStatus(next ? "signed-in" : "signed-out");
      if (!next) queryClient.clear();
    });
    if (api.hasSession && !api.accessToken) {
      // A reload: the access token was in memory only; the refresh token restores the session.
      api
        .refresh()
        .then((ok) => {
          if (!ok) api.endSession();
        })
        .catch(() => setStatus("signed-out"));
    }
    return () => {
      unsubscribe();
    };
  }, [queryClient]);

  const value = useMemo<AuthState>(
    () => ({
      status,
      user,
      signedOutByChoice,
      async signIn(login, password) {
        setSignedOutByChoice(false);
        const result = await api.request<Tokens | MfaChallenge>("POST", "/auth/login", {
          body: { login, password },
          anonymous: true,
        });
        if ("mfa_required" in result && result.mfa_required) return result;
        api.acceptTokens(result as Tokens);
        return null;
      },
      async completeMfa(mfaToken, code) {
        const tokens = await api.request<Tokens>("POST", "/auth/login/mfa", {
          body: { mfa_token: mfaToken, code },
          anonymous: true,
        });
        api.acceptTokens(tokens);
      },
      async requestMagicLink(email) {
        await api.request("POST", "/auth/magic-link", {
          body: { email },
          anonymous: true,
          withCookies: true,
        });
      },
      async completeMagicLink(token) {
        setSignedOutByChoice(false);
        const result = await api.request<Tokens | MfaChallenge>("POST", "/auth/magic-link/confirm", {
          body: { token },
          anonymous: true,
          withCookies: true,
        });
        if ("mfa_required" in result && result.mfa_required) return result;
        api.acceptTokens(result as Tokens);
        return null;
      },
      async signInWithPasskey(mfaToken) {
        setSignedOutByChoice(false);
        const options = await api.request<RequestOptionsJSON>("POST", "/auth/passkeys/login/options", {
          anonymous: true,
        });
        const credential = await signWithPasskey(options);
        const tokens = mfaToken
          ? await api.request<Tokens>("POST", "/auth/login/mfa", {
              body: { mfa_token: mfaToken, credential },
              anonymous: true,
            })
          : await api.request<Tokens>("POST", "/auth/passkeys/login", { body: { credential }, anonymous: true });
        api.acceptTokens(tokens);
      },
      async completeSso(code, mfaCode) {
        setSignedOutByChoice(false);
        const tokens = await api.request<Tokens>("POST", "/auth/oidc/exchange", {
          body: mfaCode ? { code, mfa_code: mfaCode } : { code },
          anonymous: true,
          withCookies: true, // the browser-binding cookie of the sign-on
        });
        api.acceptTokens(tokens);
      },
      async signOut() {
        setSignedOutByChoice(true);
        try {
          if (api.accessToken) await api.request("POST", "/auth/logout");
        } catch {
          // The session ends on this side whatever the server says.
        } finally {
          api.endSession();
        }
      },
      setUser(next) {
        setUser(next);
      },
    }),
    [status, user, signedOutByChoice],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
