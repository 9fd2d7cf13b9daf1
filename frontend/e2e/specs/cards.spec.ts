import { expect, test } from "@playwright/test";
import { login, requireEndpoint, signIn } from "../helpers";

test("a customer freezes a card", async ({ page }) => {
  await requireEndpoint(test, await login("alice@flowlet.test"), "/cards");
  await signIn(page, "alice@flowlet.test");
  await page.getByRole("link", { name: "Cards" }).click();
  await page.getByRole("button", { name: "New card" }).click();
  await page.getByRole("dialog").getByLabel("Card type").selectOption("virtual");
  await page.getByRole("dialog").getByRole("button", { name: "Issue card" }).click();

  const card = page.getByTestId("card").filter({ has: page.getByRole("button", { name: "Freeze" }) }).first();
  await expect(card).toHaveAttribute("data-status", "active");
  const id = await card.getByLabel("Card number").textContent();
  await card.getByRole("button", { name: "Freeze" }).click();

  const frozen = page.getByTestId("card").filter({ hasText: id ?? "" });
  await expect(frozen).toHaveAttribute("data-status", "frozen");
  await expect(frozen.getByText("Frozen")).toBeVisible();
  await expect(frozen.getByRole("button", { name: "Unfreeze" })).toBeVisible();
});
