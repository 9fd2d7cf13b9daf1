import { expect, test, type Page } from "@playwright/test";
import { accounts, baseUrl, call, login, newCustomer, signIn } from "../helpers";
import { formatMoney } from "../../src/lib/money";

// WebAuthn needs a domain (or "localhost") as relying party, never an IP address: the same
// server, opened as localhost (global-setup.ts sets WEBAUTHN_ORIGINS to match).
test.use({ baseURL: baseUrl().replace("127.0.0.1", "localhost") });

/** Chromium's virtual authenticator (CDP): a platform passkey with user verification. */
async function virtualAuthenticator(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, authenticatorId };
}

test("register a passkey, sign in with it, and confirm a large transfer with it", async ({ page }) => {
  const pat = await newCustomer("Pat", "3000.00");
  const bob = (await accounts(await login("bob@flowlet.test"))).find((a) => a.name === "Main");
  const { cdp, authenticatorId } = await virtualAuthenticator(page);

  // Register on the Security page (a fresh token: the step-up prompt asks for the password).
  await signIn(page, pat.email, pat.password);
  await expect(page.getByRole("link", { name: "Send money" }).first()).toBeVisible();
  await page.goto("/security");
  await page.waitForTimeout(5_500); // the sign-in's token is no longer fresh (JWT_FRESH_SECONDS=5)
  await page.getByLabel("Passkey name").fill("Test laptop");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  const prompt = page.getByRole("dialog", { name: "Confirm it's you" });
  await expect(prompt).toBeVisible();
  await prompt.getByLabel("Password").fill(pat.password);
  await prompt.getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByTestId("passkey")).toContainText("Test laptop");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential).toBe(true);

  // Sign out, then back in with the passkey alone.
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.goto("/sign-in");
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("link", { name: "Send money" }).first()).toBeVisible();

  // A transfer above the step-up threshold (1000 USD): the passkey signs amount and payee.
  await page.getByRole("link", { name: "Send money" }).first().click();
  await page.getByLabel("Account number").fill(bob.account_number);
  await page.getByLabel("Amount (USD)").fill("1,200");
  await page.getByRole("button", { name: "Review transfer" }).click();
  await page.getByRole("button", { name: "Confirm and send" }).click();
  const confirmation = page.getByTestId("passkey-confirmation");
  await expect(confirmation).toContainText(formatMoney("1200.00", "USD", "en-US"));
  await expect(confirmation).toContainText(`Account ${bob.account_number}`);
  await page.getByRole("button", { name: "Confirm with passkey" }).click();
  await expect(page.getByTestId("transfer-result")).toBeVisible();

  const sent = await call("GET", "/transactions?type=transfer", { token: pat.token });
  expect(sent.body.items).toHaveLength(1);
  expect(sent.body.items[0].amount).toBe("1200.00");
  const after = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  expect(after.credentials[0].signCount).toBeGreaterThanOrEqual(2);
});

/** In the page: sign the server's WebAuthn request options with the virtual authenticator. */
async function signInPage(page: Page, options: Record<string, unknown>) {
  return page.evaluate(async (json) => {
    const decode = (text: string) =>
      Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4)), (c) =>
        c.charCodeAt(0),
      ).buffer;
    const encode = (buffer: ArrayBuffer) =>
      btoa(String.fromCharCode(...new Uint8Array(buffer))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const o = json as { challenge: string; rpId?: string; allowCredentials?: { id: string; type: string }[] };
    const credential = (await navigator.credentials.get({
      publicKey: {
        challenge: decode(o.challenge),
        rpId: o.rpId,
        allowCredentials: (o.allowCredentials ?? []).map((c) => ({ id: decode(c.id), type: "public-key" as const })),
        userVerification: "required",
      },
    })) as PublicKeyCredential;
    const response = credential.response as AuthenticatorAssertionResponse;
    return {
      id: credential.id,
      rawId: encode(credential.rawId),
      type: credential.type,
      response: {
        clientDataJSON: encode(response.clientDataJSON),
        authenticatorData: encode(response.authenticatorData),
        signature: encode(response.signature),
        userHandle: response.userHandle ? encode(response.userHandle) : null,
      },
      clientExtensionResults: {},
    };
  }, options);
}

test("a passkey steps up, and a confirmation signed for one payment moves no other", async ({ page }) => {
  const kim = await newCustomer("Kim", "5000.00");
  const bob = (await accounts(await login("bob@flowlet.test"))).find((a) => a.name === "Main");
  const alice = (await accounts(await login("alice@flowlet.test"))).find((a) => a.name === "Everyday");
  const source = (await accounts(kim.token))[0];
  await virtualAuthenticator(page);

  await signIn(page, kim.email, kim.password);
  await expect(page.getByRole("link", { name: "Send money" }).first()).toBeVisible();
  await page.goto("/security");
  await page.waitForTimeout(5_500);
  await page.getByLabel("Passkey name").fill("Phone");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  const prompt = page.getByRole("dialog", { name: "Confirm it's you" });
  await prompt.getByLabel("Password").fill(kim.password);
  await prompt.getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByTestId("passkey")).toContainText("Phone");

  // A confirmation signed in the browser for 1,200 USD to Bob…
  const access = kim.token;
  const payee = { to_account_number: bob.account_number };
  const confirm = async () => {
    const made = await call("POST", "/transactions/confirmations", {
      token: access,
      body: { kind: "transfer", account_id: source.id, amount: "1200.00", currency: "USD", payee },
    });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    return { id: made.body.id, credential: await signInPage(page, made.body.webauthn_options) };
  };
  const transfer = (confirmation: unknown, amount: string, to: Record<string, string>) =>
    call("POST", "/transactions/transfer", {
      token: access,
      key: crypto.randomUUID(),
      body: { from_account_id: source.id, amount, currency: "USD", ...to, confirmation },
    });

  // …is refused for another amount, and for another payee.
  const forAmount = await transfer(await confirm(), "1300.00", payee);
  expect(forAmount.status).toBe(422);
  expect(forAmount.body.error.code).toBe("confirmation_mismatch");
  const forPayee = await transfer(await confirm(), "1200.00", { to_account_number: alice.account_number });
  expect(forPayee.status).toBe(422);
  expect(forPayee.body.error.code).toBe("confirmation_mismatch");
  // The payment it was signed for goes through, once.
  const signed = await confirm();
  const sent = await transfer(signed, "1200.00", payee);
  expect(sent.status, JSON.stringify(sent.body)).toBe(201);
  const again = await transfer(signed, "1200.00", payee);
  expect(again.status).toBe(403);
  const history = await call("GET", "/transactions?type=transfer", { token: access });
  expect(history.body.items).toHaveLength(1);

  // Step-up by passkey: removing a passkey needs a fresh token; the prompt offers the passkey.
  await page.waitForTimeout(5_500);
  await page.getByTestId("passkey").getByRole("button", { name: "Remove" }).click();
  await expect(prompt).toBeVisible();
  await prompt.getByRole("button", { name: "Use a passkey instead" }).click();
  await expect(page.getByTestId("passkey")).toHaveCount(0);
  const left = await call("GET", "/auth/passkeys", { token: access });
  expect(left.body.items).toHaveLength(0);
});
