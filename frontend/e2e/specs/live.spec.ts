import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { call, newCustomer, signIn } from "../helpers";
import { formatMoney } from "../../src/lib/money";

/** The page is the same document as before (no reload happened). */
async function markDocument(page: import("@playwright/test").Page) {
  await page.evaluate(() => ((window as unknown as { __sameDocument: boolean }).__sameDocument = true));
}
async function expectSameDocument(page: import("@playwright/test").Page) {
  expect(await page.evaluate(() => (window as unknown as { __sameDocument?: boolean }).__sameDocument)).toBe(true);
}

test("a customer's balance changes on the dashboard without a reload", async ({ page }) => {
  const livia = await newCustomer("Livia", "100.00");
  await signIn(page, livia.email, livia.password);
  await expect(page.getByText(formatMoney("100.00", "USD", "en-US")).first()).toBeVisible();
  await expect(page.getByTestId("live-status")).toHaveAttribute("data-status", "live");
  await markDocument(page);

  const deposited = await call("POST", "/transactions/deposit", {
    token: livia.token,
    key: randomUUID(),
    body: { account_id: livia.account.id, amount: "25.00", currency: "USD", reference: "Pushed" },
  });
  expect(deposited.status, JSON.stringify(deposited.body)).toBe(201);

  await expect(page.getByText(formatMoney("125.00", "USD", "en-US")).first()).toBeVisible();
  await expectSameDocument(page);
});

test("an officer sees a new alert appear in the console without a refresh", async ({ page }) => {
  await signIn(page, "officer@flowlet.test");
  await page.getByRole("link", { name: "Alerts" }).click();
  await expect(page.getByRole("region", { name: "Alert list" })).toBeVisible();
  await expect(page.getByTestId("live-status")).toHaveAttribute("data-status", "live");
  await markDocument(page);
  const list = page.getByRole("region", { name: "Alert list" });
  await expect(list.getByText("Ximena Tester")).toHaveCount(0);

  // A large transfer to someone never paid before is held for review: an alert is raised.
  const ximena = await newCustomer("Ximena", "2000.00");
  const payee = await newCustomer("Yusuf", "1.00");
  const sent = await call("POST", "/transactions/transfer", {
    token: ximena.token,
    key: randomUUID(),
    body: { from_account_id: ximena.account.id, to_account_id: payee.account.id, amount: "612.34", currency: "USD" },
  });
  expect(sent.status, JSON.stringify(sent.body)).toBe(201);
  expect(sent.body.status).toBe("pending_review");

  await expect(list.getByText("Ximena Tester").first()).toBeVisible();
  await expectSameDocument(page);
});
