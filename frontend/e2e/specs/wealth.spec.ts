import { expect, test } from "@playwright/test";
import { call, login, signIn, watchConsole } from "../helpers";

test("the net-worth chart shows when wealth history answers and is absent otherwise", async ({ page }) => {
  const token = await login("alice@flowlet.test");
  const to = new Date();
  const from = new Date(to.getTime() - 90 * 86_400_000);
  const day = (d: Date) => d.toISOString().slice(0, 10);
  // The same question the dashboard asks.
  const history = await call("GET", `/wealth/history?from=${day(from)}&to=${day(to)}&base_currency=USD`, { token });
  const problems = watchConsole(page);

  await signIn(page, "alice@flowlet.test");
  await expect(page.getByRole("heading", { name: "Hello, Alice" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Recent activity" })).toBeVisible();
  const points: { total?: string }[] = history.status === 200 ? (history.body.points ?? history.body.items ?? []) : [];
  const nonZero = points.filter((p) => p.total && !/^-?0+(\.0+)?$/.test(p.total));
  if (nonZero.length > 0) {
    await expect(page.getByRole("heading", { name: "Net worth" })).toBeVisible();
    if (nonZero.length > 1) await expect(page.getByRole("img", { name: /Net worth over/ })).toBeVisible();
  } else {
    await page.waitForLoadState("networkidle");
    await expect(page.getByRole("heading", { name: "Net worth" })).toHaveCount(0);
    await expect(page.getByRole("alert")).toHaveCount(0); // a missing service is not an error to the customer
  }
  expect(problems).toEqual([]);
});
