import { expect, test } from "@playwright/test";
import { signIn, watchConsole } from "../helpers";

const PAGES = [
  ["/", "Hello, Alice"],
  ["/transfer", "Send money"],
  ["/transactions", "Transactions"],
  ["/cards", "Cards"],
  ["/security", "Security"],
  ["/kyc", "Identity verification"],
  ["/investments", "Investments"],
] as const;

test.describe("at 390 px", () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test("no page scrolls sideways and the menu opens by keyboard", async ({ page }) => {
    const problems = watchConsole(page);
    await page.goto("/sign-in");
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await signIn(page, "alice@flowlet.test");
    await expect(page.getByRole("heading", { name: "Hello, Alice" })).toBeVisible();
    for (const [path, heading] of PAGES) {
      await page.goto(path);
      await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      expect(width, `${path} is ${width} px wide`).toBeLessThanOrEqual(390);
    }
    const menu = page.getByRole("button", { name: "Menu" });
    await menu.focus();
    await page.keyboard.press("Enter");
    await expect(menu).toHaveAttribute("aria-expanded", "true");
    await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Cards" })).toBeVisible();
    expect(problems).toEqual([]);
  });
});

test("sign-in and a transfer review work by keyboard alone", async ({ page }) => {
  await page.goto("/sign-in");
  // The first field takes the focus once the page has rendered; type only then.
  await expect(page.getByLabel("E-mail or username")).toBeFocused();
  await page.keyboard.type("alice@flowlet.test");
  await page.keyboard.press("Tab");
  await page.keyboard.type("Flowlet-Demo-Pass-2026");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Hello, Alice" })).toBeVisible();

  await page.goto("/transfer");
  await page.getByLabel("Account number").focus();
  await page.keyboard.type("000000");
  await page.keyboard.press("Tab");
  await page.keyboard.type("1");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Check and confirm" })).toBeVisible();
  // Every form control on the page has an accessible name (a label).
  const unlabeled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea")].filter((el) => {
      const input = el as HTMLInputElement;
      return !(input.labels && input.labels.length) && !input.getAttribute("aria-label");
    }).length,
  );
  expect(unlabeled).toBe(0);
});
