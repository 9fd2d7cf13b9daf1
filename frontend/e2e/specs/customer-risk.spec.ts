import { expect, test } from "@playwright/test";
import { call, login, newCustomer, requireEndpoint, signIn } from "../helpers";

const kyc = (first: string) => ({
  first_name: first,
  last_name: "Karelin",
  date_of_birth: "1961-03-14",
  nationality: "RU",
  address: { line1: "Tverskaya 1", city: "Moscow", postal_code: "125009", country: "RU" },
  document_type: "passport",
  document_number: "751234567",
  politically_exposed: true,
});

test("an officer follows an alert to the customer page and proposes enhanced due diligence", async ({ page }) => {
  const officerToken = await login("officer@flowlet.test");
  await requireEndpoint(test, officerToken, "/compliance/reviews");
  // A listed name (the demo sanctions list) raises an alert; the PEP declaration rates high.
  const viktor = await newCustomer("Viktor", "10.00");
  const submitted = await call("POST", "/compliance/kyc", { token: viktor.token, body: kyc("Viktor") });
  expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
  expect(submitted.body.status).toBe("manual_review");
  const me = await call("GET", "/auth/me", { token: viktor.token });
  const customerId = me.body.id;

  await signIn(page, "officer@flowlet.test");
  await page.getByRole("link", { name: "Alerts" }).click();
  const listed = page.getByRole("button").filter({ hasText: "Viktor Tester" }).first();
  await expect(listed).toContainText("high risk");
  await listed.click();
  const detail = page.getByRole("region", { name: "Alert detail" });
  await detail.getByRole("link", { name: "Viktor Tester" }).click();

  await expect(page).toHaveURL(new RegExp(`/console/customers/${customerId}$`));
  await expect(page.getByRole("heading", { name: "Viktor Tester" })).toBeVisible();
  const rating = page.getByRole("region", { name: "Risk rating" });
  await expect(rating).toContainText("Risk high");
  await expect(rating.getByRole("row", { name: /politically exposed yes 60/ })).toBeVisible();
  await expect(page.getByRole("region", { name: "Accounts" })).toContainText(viktor.account.account_number);
  await expect(page.getByRole("region", { name: "Alerts and cases" })).toContainText("sanctions hit");

  const edd = page.getByRole("region", { name: "Enhanced due diligence" });
  await expect(edd).toContainText("Required");
  await edd.getByLabel("Reason").fill("Source of wealth documented.");
  await edd.getByRole("button", { name: "Propose sign-off" }).click();
  await expect(edd).toContainText("Proposed: Source of wealth documented.");
  // The proposer may not decide: the second officer must.
  await edd.getByLabel("Reason").fill("Looks fine to me.");
  await edd.getByRole("button", { name: "Approve" }).click();
  await expect(edd).toContainText("Another officer must decide");
});

test("an officer sees the periodic reviews page", async ({ page }) => {
  await requireEndpoint(test, await login("officer@flowlet.test"), "/compliance/reviews");
  await signIn(page, "officer@flowlet.test");
  await page.getByRole("link", { name: "Periodic reviews" }).click();
  await expect(page.getByRole("heading", { name: "Periodic reviews" })).toBeVisible();
  await page.getByLabel("Status").selectOption("completed");
  await expect(page.getByText("No reviews here.")).toBeVisible();
});
