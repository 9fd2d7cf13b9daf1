import { readFile } from "node:fs/promises";
import { expect, test } from "@playwright/test";
import { accounts, login, signIn } from "../helpers";

test("an account's statement downloads as CSV and PDF", async ({ page }) => {
  const everyday = (await accounts(await login("alice@flowlet.test"))).find((a) => a.name === "Everyday");
  await signIn(page, "alice@flowlet.test");
  await page.getByTestId("account-tile").filter({ hasText: "Everyday" }).click();
  await expect(page.getByRole("heading", { name: "Everyday", level: 1 })).toBeVisible();

  const [csv] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
  expect(csv.suggestedFilename()).toMatch(/\.csv$/);
  const text = await readFile((await csv.path())!, "utf8");
  expect(text).toContain("Opening deposit");
  expect(text).toContain(`closing_balance,,,${everyday.balance},USD`);

  const [pdf] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download PDF" }).click()]);
  expect(pdf.suggestedFilename()).toMatch(/\.pdf$/);
  const bytes = await readFile((await pdf.path())!);
  expect(bytes.subarray(0, 5).toString()).toBe("%PDF-");
});
