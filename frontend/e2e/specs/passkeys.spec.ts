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
