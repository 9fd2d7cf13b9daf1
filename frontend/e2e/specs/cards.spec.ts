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

test("card details show after the step-up prompt, and the PIN is set", async ({ page }) => {
  await requireEndpoint(test, await login("bob@flowlet.test"), "/cards");
  await signIn(page, "bob@flowlet.test");
  await page.getByRole("link", { name: "Cards" }).click();
  await page.getByRole("button", { name: "New card" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Issue card" }).click();
  const card = page.getByTestId("card").first(); // Bob's only card
  await expect(card).toHaveAttribute("data-status", "active");
  await expect(card.getByLabel("Card number")).toContainText("*");

  await page.waitForTimeout(5_500); // the sign-in's token is no longer fresh (JWT_FRESH_SECONDS=5)
  await card.getByRole("button", { name: "Show details" }).click();
  const prompt = page.getByRole("dialog", { name: "Confirm it's you" });
  await prompt.getByLabel("Password").fill("Flowlet-Demo-Pass-2026");
  await prompt.getByRole("button", { name: "Confirm" }).click();
  await expect(card.getByLabel("Card number")).toHaveText(/^\d{4} \d{4} \d{4} \d{4}$/);
  await expect(card.getByText(/CVV \d{3}/)).toBeVisible();

  await card.getByRole("button", { name: "Set PIN" }).click();
  const pin = page.getByRole("dialog", { name: "Set your PIN" });
  await pin.getByLabel("New PIN (4–6 digits)").fill("4826");
  await pin.getByLabel("Repeat the PIN").fill("4826");
  await pin.getByRole("button", { name: "Set PIN" }).click();
  await expect(pin).toBeHidden();
  await expect(card.getByRole("alert")).toHaveCount(0);
});
