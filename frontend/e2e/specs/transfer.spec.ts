import { expect, test } from "@playwright/test";
import { accounts, call, login, newCustomer, signIn } from "../helpers";
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

  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await signIn(page, "bob@flowlet.test");
  await expect(page.getByTestId("account-tile").filter({ hasText: "Main" })).toContainText(formatMoney(bobAfter, "USD", "en-US"));

  const bobNow = (await accounts(bobToken)).find((a) => a.name === "Main");
  expect(bobNow.balance).toBe(bobAfter); // exactly one transfer arrived
});

test("a transfer above the step-up threshold asks to confirm it's you, then goes through once", async ({ page }) => {
  const erin = await newCustomer("Erin", "3000.00");
  const bob = (await accounts(await login("bob@flowlet.test"))).find((a) => a.name === "Main");

  await signIn(page, erin.email, erin.password);
  await page.getByRole("link", { name: "Send money" }).first().click();
  await page.getByLabel("Account number").fill(bob.account_number);
  await page.getByLabel("Amount (USD)").fill("1,200");
  await page.getByRole("button", { name: "Review transfer" }).click();
  await page.waitForTimeout(5_500); // the sign-in's token is no longer fresh (JWT_FRESH_SECONDS=5)
  await page.getByRole("button", { name: "Confirm and send" }).click();

  const prompt = page.getByRole("dialog", { name: "Confirm it's you" });
  await expect(prompt).toBeVisible();
  await prompt.getByLabel("Password").fill("not my password");
  await prompt.getByRole("button", { name: "Confirm" }).click();
  await expect(prompt.getByRole("alert")).toBeVisible();
  await prompt.getByLabel("Password").fill(erin.password);
  await prompt.getByRole("button", { name: "Confirm" }).click();
  await expect(prompt).toBeHidden();

  // 1,200 to someone never paid before is also held for review; what matters here is one transfer.
  await expect(page.getByTestId("transfer-result")).toBeVisible();
  const sent = await call("GET", "/transactions?type=transfer", { token: erin.token });
  expect(sent.body.items).toHaveLength(1);
  expect(sent.body.items[0].amount).toBe("1200.00");
});
