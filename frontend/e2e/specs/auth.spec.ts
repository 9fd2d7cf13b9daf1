import { expect, test } from "@playwright/test";
import { call, login, newCustomer, signIn, totp, watchConsole } from "../helpers";

test("a customer signs in without 2FA and sees the dashboard", async ({ page }) => {
  const problems = watchConsole(page);
  await signIn(page, "alice@flowlet.test");

  await expect(page.getByRole("heading", { name: "Hello, Alice" })).toBeVisible();
  await expect(page.getByTestId("account-tile").filter({ hasText: "Everyday" })).toBeVisible();
  // The refresh token is in this tab's session storage only; nothing in localStorage.
  const stored = await page.evaluate(() => ({ local: localStorage.length, session: Object.keys(sessionStorage) }));
  expect(stored).toEqual({ local: 0, session: ["flowlet.refresh_token"] });
  // A reload keeps the session (access token from the refresh token).
  await page.reload();
  await expect(page.getByRole("heading", { name: "Hello, Alice" })).toBeVisible();
  expect(problems).toEqual([]);
});

test("a wrong password shows an error and no session", async ({ page }) => {
  await signIn(page, "alice@flowlet.test", "not-the-right-password");

  await expect(page.getByRole("alert")).toContainText("do not match");
  await expect(page).toHaveURL(/\/sign-in$/);
  expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
});

test("a customer with 2FA signs in with the second step", async ({ page }) => {
  const customer = await newCustomer("Dora");
  const setup = await call("POST", "/auth/2fa/setup", { token: customer.token });
  expect(setup.status).toBe(200);
  const enabled = await call("POST", "/auth/2fa/enable", { token: customer.token, body: { code: totp(setup.body.secret) } });
  expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);

  await signIn(page, customer.email, customer.password);
  await expect(page.getByRole("heading", { name: "Two-step verification" })).toBeVisible();
  await page.getByLabel("Authentication code").fill("000000");
  await page.getByRole("button", { name: "Verify and sign in" }).click();
  await expect(page.getByRole("alert")).toBeVisible();

  await page.getByLabel("Authentication code").fill(enabled.body.backup_codes[0]);
  await page.getByRole("button", { name: "Verify and sign in" }).click();
  await expect(page.getByRole("heading", { name: "Hello, Dora" })).toBeVisible();
});

test("a customer cannot reach the compliance console", async ({ page }) => {
  await signIn(page, "bob@flowlet.test");
  await expect(page.getByRole("heading", { name: "Hello, Bob" })).toBeVisible();
  await expect(page.getByRole("navigation", { name: "Main" }).getByText("Compliance")).toHaveCount(0);

  await page.goto("/console/held");
  await expect(page.getByRole("heading", { name: "Not available" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Held transfers" })).toHaveCount(0);
  // The server refuses too: the console's API is for officers only.
  const token = await login("bob@flowlet.test");
  const refused = await call("POST", `/compliance/transactions/${crypto.randomUUID()}/approve`, { token, body: {} });
  expect(refused.status).toBe(403);
});
