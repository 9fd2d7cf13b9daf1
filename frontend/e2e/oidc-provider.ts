/**
 * A small OpenID Connect provider on 127.0.0.1 for the single sign-on specs: discovery,
 * /authorize (approves at once for its one user), /token (code + PKCE S256 + client secret,
 * refresh token) and /jwks, signing RS256 ID tokens with a key of its own.
 */
import { createHash, createSign, generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";

export const E2E_CLIENT_ID = "flowlet-e2e";
export const E2E_CLIENT_SECRET = "flowlet-e2e-client-secret";

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

export interface OidcUser {
  sub: string;
  email: string;
  given_name?: string;
  family_name?: string;
  groups?: string[];
}

export function startOidcProvider(port: number, user: OidcUser): Promise<Server> {
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "e2e-key-1", use: "sig", alg: "RS256" };
  const codes = new Map<string, { redirectUri: string; nonce: string; challenge: string }>();
  const refreshTokens = new Set<string>();

  const idToken = (nonce: string) => {
    const now = Math.floor(Date.now() / 1000);
    const head = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: jwk.kid }));
    const body = b64url(
      JSON.stringify({ iss: issuer, aud: E2E_CLIENT_ID, iat: now, exp: now + 300, nonce, email_verified: true, ...user }),
    );
    const signature = createSign("RSA-SHA256").update(`${head}.${body}`).sign(privateKey);
    return `${head}.${body}.${b64url(signature)}`;
  };

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", issuer);
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { "Content-Type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (url.pathname === "/.well-known/openid-configuration") {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        code_challenge_methods_supported: ["S256"],
      });
    }
    if (url.pathname === "/jwks") return json(200, { keys: [jwk] });
    if (url.pathname === "/authorize") {
      const q = url.searchParams;
      const code = b64url(randomBytes(24));
      codes.set(code, {
        redirectUri: q.get("redirect_uri") ?? "",
        nonce: q.get("nonce") ?? "",
        challenge: q.get("code_challenge") ?? "",
      });
      const back = new URL(q.get("redirect_uri") ?? "");
      back.searchParams.set("code", code);
      back.searchParams.set("state", q.get("state") ?? "");
      response.writeHead(302, { Location: back.toString() });
      return response.end();
    }
    if (url.pathname === "/token" && request.method === "POST") {
      let raw = "";
      request.on("data", (chunk) => (raw += chunk));
      request.on("end", () => {
        const form = new URLSearchParams(raw);
        const expected = `Basic ${Buffer.from(`${E2E_CLIENT_ID}:${E2E_CLIENT_SECRET}`).toString("base64")}`;
        if (request.headers.authorization !== expected) return json(401, { error: "invalid_client" });
        const refresh = b64url(randomBytes(24));
        if (form.get("grant_type") === "refresh_token") {
          if (!refreshTokens.delete(form.get("refresh_token") ?? "")) return json(400, { error: "invalid_grant" });
          refreshTokens.add(refresh);
          return json(200, { access_token: b64url(randomBytes(16)), token_type: "Bearer", expires_in: 300, refresh_token: refresh });
        }
        const entry = codes.get(form.get("code") ?? "");
        codes.delete(form.get("code") ?? "");
        const verifier = form.get("code_verifier") ?? "";
        if (!entry || entry.redirectUri !== form.get("redirect_uri") || b64url(createHash("sha256").update(verifier).digest()) !== entry.challenge) {
          return json(400, { error: "invalid_grant" });
        }
        refreshTokens.add(refresh);
        return json(200, {
          access_token: b64url(randomBytes(16)),
          token_type: "Bearer",
          expires_in: 300,
          refresh_token: refresh,
          id_token: idToken(entry.nonce),
        });
      });
      return;
    }
    json(404, { error: "not_found" });
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}
