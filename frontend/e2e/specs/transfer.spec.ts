import { expect, test } from "@playwright/test";
import { accounts, login, signIn } from "../helpers";
import { formatMoney, fromMinor, toMinor } from "../../src/lib/money";

test("a transfer between two customers changes both balances", async ({ page }) => {
  const aliceToken = await login("alice@flowlet.test");
  const bobToken = await login("bob@flowlet.test");
  const alice = (await accounts(aliceToken)).find((a) => a.name === "Everyday");
  const bob = (await accounts(bobToken)).find((a) => a.name === "Main");
  const amount = "25.50";
  const aliceAfter = fromMinor(toMinor(alice.balance, "USD") - toMinor(amount, "USD"), "USD");
  const bobAfter = fromMinor(toMinor(bob.balance, "USD") + toMinor(amount, "USD"), "USD");

  await signIn(page, "alice@flowlet.test");
  await page.getByRole("link", { name: "Send money" }).first().click();
  await page.getByLabel("From", { exact: true }).selectOption(alice.id);
  await page.getByLabel("Account number").fill(bob.account_number);
  await page.getByLabel("Amount (USD)").fill(amount);
  await page.getByLabel("Description (optional)").fill("Concert tickets");
  await page.getByRole("button", { name: "Review transfer" }).click();

  await expect(page.getByRole("heading", { name: "Check and confirm" })).toBeVisible();
  await expect(page.getByText(formatMoney(amount, "USD", "en-US"))).toBeVisible();
  // A double click sends one request: the second click joins the first submission.
  await page.getByRole("button", { name: "Confirm and send" }).dblclick();
  await expect(page.getByTestId("transfer-result")).toHaveAttribute("data-status", "completed");

  await page.goto(`/accounts/${alice.id}`);
  await expect(page.getByTestId("account-balance")).toHaveText(formatMoney(aliceAfter, "USD", "en-US"));

  await page.getByRole("button", { name: "Sign out" }).click();
  await signIn(page, "bob@flowlet.test");
  await expect(page.getByTestId("account-tile").filter({ hasText: "Main" })).toContainText(formatMoney(bobAfter, "USD", "en-US"));

  const bobNow = (await accounts(bobToken)).find((a) => a.name === "Main");
  expect(bobNow.balance).toBe(bobAfter); // exactly one transfer arrived
});
