import { expect, test } from "@playwright/test";
import { accounts, call, login, newCustomer, requireEndpoint, signIn } from "../helpers";
import { formatMoney } from "../../src/lib/money";

test("an officer approves a held transfer and the customer sees it completed", async ({ page }) => {
  const officerToken = await login("officer@flowlet.test");
  await requireEndpoint(test, officerToken, "/compliance/alerts?type=transaction_review&status=open");
  const carol = await newCustomer("Carol", "2000.00");
  const bob = (await accounts(await login("bob@flowlet.test"))).find((a) => a.name === "Main");

  // Carol sends a large amount to someone she never paid: the risk rules hold it.
  await signIn(page, carol.email, carol.password);
  await page.getByRole("link", { name: "Send money" }).first().click();
  await page.getByLabel("Account number").fill(bob.account_number);
  await page.getByLabel("Amount (USD)").fill("750");
  await page.getByRole("button", { name: "Review transfer" }).click();
  await page.getByRole("button", { name: "Confirm and send" }).click();
  await expect(page.getByTestId("transfer-result")).toHaveAttribute("data-status", "pending_review");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();

  await signIn(page, "officer@flowlet.test");
  await page.getByRole("link", { name: "Held transfers" }).click();
  const held = page.getByTestId("held-transfer").filter({ hasText: formatMoney("750.00", "USD", "en-US") }).first();
  await expect(held).toBeVisible();
  await held.getByLabel("Notes for the record").fill("Known counterparty, documents checked.");
  await held.getByRole("button", { name: "Approve" }).click();
  await expect(held).toHaveCount(0);
  await page.getByRole("button", { name: "Sign out", exact: true }).click();

  await signIn(page, carol.email, carol.password);
  await page.getByRole("link", { name: "Transactions" }).click();
  const row = page.locator(".txn").filter({ hasText: formatMoney("750.00", "USD", "en-US") });
  await expect(row).toHaveAttribute("data-status", "completed");
  const balance = (await accounts(carol.token))[0].balance;
  expect(balance).toBe("1250.00");
  const txns = await call("GET", "/transactions?status=completed&type=transfer", { token: carol.token });
  expect(txns.body.items).toHaveLength(1);
});
