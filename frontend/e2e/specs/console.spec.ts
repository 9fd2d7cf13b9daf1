import { readFile } from "node:fs/promises";
import { expect, test } from "@playwright/test";
import { login, newCustomer, requireEndpoint, signIn } from "../helpers";

test("an officer reads, verifies and exports the audit trail", async ({ page }) => {
  await requireEndpoint(test, await login("officer@flowlet.test"), "/compliance/audit-logs");
  await signIn(page, "officer@flowlet.test");
  await page.getByRole("link", { name: "Audit trail" }).click();
  await expect(page.getByRole("cell", { name: "auth.login" }).first()).toBeVisible();

  await page.getByRole("button", { name: "Verify chain" }).click();
  await expect(page.getByRole("status").filter({ hasText: "The chain is intact" })).toBeVisible();

  await page.getByLabel("Action").fill("auth.login");
  await page.getByRole("button", { name: "Apply filters" }).click();
  const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
  expect(csv.suggestedFilename()).toMatch(/\.csv$/);
  const text = await readFile((await csv.path())!, "utf8");
  expect(text).toContain("auth.login");
});

test("a customer asks for erasure and an officer decides it", async ({ page }) => {
  await requireEndpoint(test, await login("officer@flowlet.test"), "/compliance/erasure-requests");
  const dan = await newCustomer("Dan", "10.00");

  await signIn(page, dan.email, dan.password);
  await page.getByRole("link", { name: "Security" }).click();
  await page.getByRole("button", { name: "Request erasure" }).click();
  await page.getByRole("button", { name: "Confirm erasure request" }).click();
  await expect(page.getByText("Your erasure request was received")).toBeVisible();
  await page.getByRole("button", { name: "Sign out", exact: true }).click();

  await signIn(page, "officer@flowlet.test");
  await page.getByRole("link", { name: "Erasure requests" }).click();
  const request = page.locator("li.card").filter({ hasText: "Pending" }).first();
  await expect(request).toBeVisible();
  await request.getByLabel("Reason").fill("The customer still holds a funded account.");
  await request.getByRole("button", { name: "Reject" }).click();
  await page.getByLabel("Status").selectOption("rejected");
  await expect(page.locator("li.card").filter({ hasText: "The customer still holds a funded account." })).toBeVisible();
});

test("an officer runs the currency transaction report", async ({ page }) => {
  await requireEndpoint(test, await login("officer@flowlet.test"), "/compliance/reports/ctr?from=2026-01-01&to=2026-01-02");
  await signIn(page, "officer@flowlet.test");
  await page.getByRole("link", { name: "Reports" }).click();
  await page.getByRole("button", { name: "Show report" }).click();
  // No demo cash deposit crosses the threshold.
  await expect(page.getByText("Nobody crossed the threshold in this period.")).toBeVisible();
  const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
  expect(csv.suggestedFilename()).toMatch(/^ctr_.*\.csv$/);
});
