import { expect, test } from "@playwright/test";
import { call, newCustomer, totp, waitForMail, watchConsole } from "../helpers";

function linkIn(mail: string): string {
  const match = /(https?:\/\/\S+\/sign-in\/link#token=[A-Za-z0-9_.-]+)/.exec(mail);
  expect(match, mail).not.toBeNull();
  return match![1];
}

async function askForLink(page: import("@playwright/test").Page, email: string) {
  await page.goto("/sign-in");
  await page.getByRole("button", { name: "E-mail me a sign-in link" }).click();
  await page.getByLabel("E-mail").fill(email);
  await page.getByRole("button", { name: "E-mail me a sign-in link" }).click();
  await expect(page.getByText("a sign-in link is on its way")).toBeVisible();
}

test("a magic link signs in once, only in the browser that asked for it", async ({ page, browser }) => {
  const problems = watchConsole(page);
  const customer = await newCustomer("Magda");
  await askForLink(page, customer.email);
  const link = linkIn(await waitForMail(customer.email, /sign-in\/link#token=/));
  // The token travels in the fragment: never in a request line, a Referer or a server log.
  expect(new URL(link).search).toBe("");

  // Another browser (no binding cookie) is refused, and the link stays good.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await otherPage.goto(link);
  await expect(otherPage.getByRole("alert")).toContainText("browser where you asked for it");
  await other.close();

  await page.goto(link);
  await expect(page.getByRole("heading", { name: "Hello, Magda" })).toBeVisible();
  // The token is gone from the address bar.
  expect(page.url()).not.toContain("token");

  // A second use is refused.
  const again = await browser.newContext();
  const againPage = await again.newPage();
  await againPage.goto(link);
  await expect(againPage.getByRole("alert")).toBeVisible();
  await again.close();
  expect(problems).toEqual([]);
});

test("with 2FA on, the magic link asks for the code", async ({ page }) => {
  const customer = await newCustomer("Mira");
  const setup = await call("POST", "/auth/2fa/setup", { token: customer.token });
  const enabled = await call("POST", "/auth/2fa/enable", { token: customer.token, body: { code: totp(setup.body.secret) } });
  expect(enabled.status, JSON.stringify(enabled.body)).toBe(200);
  await askForLink(page, customer.email);
  const link = linkIn(await waitForMail(customer.email, /sign-in\/link#token=/));
  await page.goto(link);
  await expect(page.getByRole("heading", { name: "Two-step verification" })).toBeVisible();
  await page.getByLabel("Authentication code").fill(enabled.body.backup_codes[0]);
  await page.getByRole("button", { name: "Verify and sign in" }).click();
  await expect(page.getByRole("heading", { name: "Hello, Mira" })).toBeVisible();
});
