import { expect, test } from "@playwright/test";
import { call, login, newCustomer, signIn } from "../helpers";

test("an officer sees the list versions and what a version changed", async ({ page }) => {
  const officer = await login("officer@flowlet.test");
  const versions = await call("GET", "/compliance/sanctions/lists", { token: officer });
  expect(versions.status).toBe(200);
  const active = versions.body.items.find((v: { active: boolean }) => v.active);
  expect(active).toBeTruthy();

  await signIn(page, "officer@flowlet.test");
  await page.getByRole("link", { name: "Sanctions lists" }).click();
  const versionButton = page.getByRole("button", { name: new RegExp(`list ${active.id} · ${active.entries} entries`) });
  await expect(versionButton).toBeVisible();
  await versionButton.click();
  const diff = page.getByRole("region", { name: "List diff" });
  await expect(diff.getByText(`${active.added} added`)).toBeVisible();
  await diff.getByLabel("Change").selectOption("added");
  await expect(diff.getByRole("cell", { name: "KARELIN, Viktor Semyonovich" })).toBeVisible();
});

test("a sanctions alert shows what matched and what moved the score", async ({ page }) => {
  const vera = await newCustomer("Vera", "10.00");
  const kyc = await call("POST", "/compliance/kyc", {
    token: vera.token,
    body: {
      first_name: "Viktor",
      last_name: "Karelin",
      date_of_birth: "1961-03-14",
      nationality: "RU",
      address: { line1: "1 Quay Street", city: "Riga", postal_code: "LV-1050", country: "LV" },
      document_type: "passport",
      document_number: "RP1234567",
    },
  });
  expect(kyc.status, JSON.stringify(kyc.body)).toBe(201);

  await signIn(page, "officer@flowlet.test");
  await page.getByRole("link", { name: "Alerts" }).click();
  await page.getByLabel("Type").selectOption("sanctions_hit");
  const first = page.getByRole("region", { name: "Alert list" }).getByRole("listitem").first();
  await expect(first).toBeVisible();
  await first.getByRole("button").first().click();
  const matches = page.getByRole("region", { name: "Sanctions matches" });
  await expect(matches.getByText("KARELIN, Viktor Semyonovich").first()).toBeVisible();
  await expect(matches.getByRole("cell", { name: "Date of birth" }).first()).toBeVisible();
  await expect(matches.getByRole("cell", { name: /^\+0\.08$/ }).first()).toBeVisible();
});
