import { api } from "./api";
import { useApi } from "./hooks";

/** Single sign-on providers (docs/sso.md): the bank's own for staff, social ones for customers. */
export const SSO_LABELS: Record<string, string> = {
  staff: "Staff sign-in (bank identity provider)",
  google: "Google",
  microsoft: "Microsoft",
  github: "GitHub",
};

export function ssoLabel(provider: string): string {
  return SSO_LABELS[provider] ?? provider;
}

/** The providers this deployment offers (none when it offers no single sign-on). */
export function useSsoProviders() {
  return useApi<{ providers: string[] }>("/auth/oidc/providers", undefined, { staleTime: 5 * 60_000 });
}

/** Where the browser goes to sign in: the API redirects it on to the provider. */
export function ssoAuthorizeUrl(provider: string): string {
  return `/api/v1/auth/oidc/${encodeURIComponent(provider)}/authorize`;
}

export interface LinkedIdentity {
  id: string;
  provider: string;
  email: string | null;
  linked_at: string;
  last_used_at: string | null;
}

/** Start linking a provider to the signed-in account (a fresh token; step-up asks if needed). */
export async function startLink(provider: string): Promise<void> {
  const { authorization_url } = await api.request<{ authorization_url: string }>(
    "POST",
    `/auth/oidc/${encodeURIComponent(provider)}/link`,
    { withCookies: true }, // the answer sets the sign-on's browser-binding cookie
  );
  window.location.assign(authorization_url);
}
