import { expect, test } from "@playwright/test";
import { login, requireEndpoint, signIn, watchConsole } from "../helpers";

// A public address written as an IP: registration resolves nothing (the tests have no DNS),
// and no delivery is made (no event of its type happens here).
const URL = "https://93.184.215.14/flowlet-hooks";

test("an admin registers an endpoint, sees its secret once, rotates it, disables, enables and deletes it", async ({ page }) => {
  await requireEndpoint(test, await login("admin@flowlet.test"), "/admin/webhooks");
  const problems = watchConsole(page);
  page.on("dialog", (dialog) => void dialog.accept());

  await signIn(page, "admin@flowlet.test");
  await page.getByRole("link", { name: "Webhooks" }).click();
  await expect(page.getByRole("heading", { name: "Webhooks" })).toBeVisible();

  // A private address is refused with the server's reason.
  await page.getByRole("button", { name: "Register endpoint" }).click();
  await page.getByLabel("URL").fill("http://169.254.169.254/latest/meta-data/");
  await page.getByRole("button", { name: "Register", exact: true }).click();
  await expect(page.getByRole("dialog")).toContainText("private, loopback, link-local");

  await page.getByLabel("URL").fill(URL);
  await page.getByLabel("kyc.decided").check();
  await page.getByLabel("Description (optional)").fill("Partner ledger");
  await page.getByRole("button", { name: "Register", exact: true }).click();
  const secret = page.getByTestId("webhook-secret");
  await expect(secret).toContainText("whsec_");
  const first = await secret.textContent();
  await page.getByRole("button", { name: "I have stored it" }).click();
  await expect(secret).toHaveCount(0);

  const endpoints = page.getByRole("region", { name: "Webhook endpoints" });
  const row = endpoints.getByRole("row", { name: new RegExp(URL.replace(/[./]/g, "\\$&")) });
  await expect(row).toContainText("kyc.decided, movement.completed");
  await expect(row).toContainText("Partner ledger");
  await expect(row).toContainText("Active");

  await row.getByRole("button", { name: "Rotate secret" }).click();
  await expect(secret).toContainText("whsec_");
  expect(await secret.textContent()).not.toBe(first);
  await expect(page.getByText("The previous secret also signs until")).toBeVisible();
  await page.getByRole("button", { name: "I have stored it" }).click();

  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row).toContainText("Disabled");
  await expect(row).toContainText("disabled by an administrator");
  await row.getByRole("button", { name: "Enable" }).click();
  await expect(row).toContainText("Active");

  await row.getByRole("button", { name: "Deliveries" }).click();
  await expect(page.getByRole("dialog")).toContainText("No delivery attempts yet.");
  await page.keyboard.press("Escape");

  await row.getByRole("button", { name: "Delete" }).click();
  await expect(row).toHaveCount(0);
  expect(problems).toEqual([]);
});
