/**
 * `make screenshots`: the main pages at desktop size and at 390 px into docs/screenshots/.
 * playwright.config.ts runs it only with SCREENSHOTS=1, so test runs leave the images alone.
 */
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test, type Page } from "@playwright/test";
import { accounts, call, login, newCustomer, signIn } from "../helpers";

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "docs", "screenshots");
const SIZES = [
  ["desktop", { width: 1280, height: 820 }],
  ["mobile", { width: 390, height: 844 }],
] as const;

async function shoot(page: Page, name: string) {
  for (const [size, viewport] of SIZES) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(out, `${name}-${size}.png`) });
  }
}

test("screenshots of the main pages", async ({ page }) => {
  test.setTimeout(120_000);
  const alice = await login("alice@flowlet.test");
  const bob = await login("bob@flowlet.test");
  const [aliceUsd] = (await accounts(alice)).filter((a) => a.currency === "USD");
  const [bobUsd] = await accounts(bob);
  for (const [token, from, to, amount, description] of [
    [alice, aliceUsd, bobUsd, "42.00", "Dinner at Luigi's"],
    [bob, bobUsd, aliceUsd, "18.50", "Cinema tickets"],
    [alice, aliceUsd, bobUsd, "120.00", "Rent share"],
  ] as const) {
    await call("POST", "/transactions/transfer", {
      token,
      key: randomUUID(),
      body: { from_account_id: from.id, to_account_number: to.account_number, amount, currency: "USD", description },
    });
  }

  // A transfer the risk rules hold, for the officer's queue.
  const carol = await newCustomer("Carol", "2000.00");
  await call("POST", "/transactions/transfer", {
    token: carol.token,
    key: randomUUID(),
    body: { from_account_id: carol.account.id, to_account_number: bobUsd.account_number, amount: "750.00", currency: "USD", description: "Invoice 2291" },
  });

  const cards = await call("GET", "/cards", { token: alice });
  if (cards.status === 200 && cards.body.items.length === 0) {
    const issued = await call("POST", "/cards", { token: alice, key: randomUUID(), body: { account_id: aliceUsd.id, card_type: "virtual" } });
    await call("POST", "/cards", { token: alice, key: randomUUID(), body: { account_id: aliceUsd.id, card_type: "physical" } });
    if (issued.status === 201) await call("POST", `/cards/${issued.body.id}/freeze`, { token: alice });
  }

  await page.setViewportSize(SIZES[0][1]);
  await page.goto("/sign-in");
  await shoot(page, "sign-in");
  await signIn(page, "alice@flowlet.test");
  await expect(page.getByRole("heading", { name: "Hello, Alice" })).toBeVisible();
  await shoot(page, "dashboard");
  await page.goto(`/accounts/${aliceUsd.id}`);
  await expect(page.getByTestId("account-balance")).toBeVisible();
  await shoot(page, "account");
  await page.goto("/transfer");
  await page.getByLabel("From", { exact: true }).selectOption(aliceUsd.id);
  await page.getByLabel("Account number").fill(bobUsd.account_number);
  await page.getByLabel("Amount (USD)").fill("25");
  await page.getByLabel("Description (optional)").fill("Flowers");
  await shoot(page, "transfer");
  await page.getByRole("button", { name: "Review transfer" }).click();
  await shoot(page, "transfer-confirm");
  await page.goto("/transactions");
  await expect(page.locator(".txn").first()).toBeVisible();
  await shoot(page, "transactions");
  await page.goto("/cards");
  await expect(page.getByRole("heading", { name: "Cards" })).toBeVisible();
  await shoot(page, "cards");
  await page.goto("/security");
  await page.getByRole("button", { name: "Set up two-step verification" }).click();
  await expect(page.getByRole("img", { name: /QR code/ })).toBeVisible();
  await shoot(page, "security");
  await page.goto("/investments");
  await expect(page.getByRole("heading", { name: "Investments" })).toBeVisible();
  await page.waitForTimeout(500);
  await shoot(page, "investments");
  await page.goto("/kyc");
  await shoot(page, "kyc");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();

  await signIn(page, "officer@flowlet.test");
  await page.waitForURL(/console/);
  await page.waitForTimeout(500);
  const firstAlert = page.locator(".select-list button").first();
  if (await firstAlert.count()) await firstAlert.click();
  await page.waitForTimeout(500);
  await shoot(page, "console-alerts");
  await page.goto("/console/held");
  await page.waitForTimeout(500);
  await shoot(page, "console-held");
  await page.goto("/console/audit");
  await page.waitForTimeout(500);
  await shoot(page, "console-audit");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();

  await signIn(page, "admin@flowlet.test");
  await page.waitForURL(/admin\/users/);
  await expect(page.getByRole("cell", { name: "alice@flowlet.test" })).toBeVisible();
  await shoot(page, "admin-users");
});
