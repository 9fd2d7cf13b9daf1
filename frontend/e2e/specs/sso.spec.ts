import { expect, test } from "@playwright/test";
import { call, newCustomer, signIn, watchConsole } from "../helpers";

test("a compliance officer signs in through the bank's identity provider", async ({ page }) => {
  const problems = watchConsole(page);
  await page.goto("/sign-in");
  await page.getByRole("link", { name: "Staff sign-in (bank identity provider)" }).click();

  // Provider → callback → /sign-in/sso#code=… → the code is spent and wiped from the address bar.
  await expect(page).toHaveURL(/\/console\/alerts$/);
  await expect(page.getByRole("heading", { name: "Alerts" })).toBeVisible();
  expect(await page.evaluate(() => window.location.hash)).toBe("");
  // The account is SSO only: its (never told) password cannot be used.
  const refused = await call("POST", "/auth/login", { body: { login: "sso.officer@flowlet-e2e.com", password: "Anything-at-all-1" } });
  expect(refused.status).toBe(401);
  expect(problems).toEqual([]);
});

test("a customer links Google on the Security page, then signs in with it", async ({ page }) => {
  const unlinked = await call("GET", "/auth/oidc/providers");
  expect(unlinked.body.providers).toEqual(["staff", "google"]);
  // Before the link, the Google identity signs in no one.
  await page.goto("/sign-in");
  await page.getByRole("link", { name: "Continue with Google" }).click();
  await expect(page.getByRole("alert")).toContainText("No Flowlet account is linked");

  const customer = await newCustomer("Lina");
  await signIn(page, customer.email, customer.password);
  await expect(page.getByRole("heading", { name: "Hello, Lina" })).toBeVisible();
  await page.goto("/security");
  await page.getByRole("button", { name: "Link Google" }).click();
  // A token older than JWT_FRESH_SECONDS (5 s here) asks for the password before linking.
  const prompt = page.getByRole("dialog", { name: "Confirm it's you" });
  await Promise.race([prompt.waitFor(), page.waitForURL(/#linked=google$/)]);
  if (await prompt.isVisible()) {
    await prompt.getByLabel("Password").fill(customer.password);
    await prompt.getByRole("button", { name: "Confirm" }).click();
  }
  await expect(page).toHaveURL(/\/security#linked=google$/);
  await expect(page.getByText("Google is linked")).toBeVisible();
  await expect(page.getByText("linked.customer@gmail-e2e.com")).toBeVisible();

  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await page.goto("/sign-in");
  await page.getByRole("link", { name: "Continue with Google" }).click();
  await expect(page.getByRole("heading", { name: "Hello, Lina" })).toBeVisible();
});
