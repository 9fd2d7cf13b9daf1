import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { call, login, newCustomer, requireEndpoint, signIn } from "../helpers";

/** A second compliance officer: registered, then given the role by the demo admin. */
async function secondOfficer() {
  const email = `checker-${randomUUID().slice(0, 8)}@flowlet-e2e.com`;
  const password = `Harbor-Violet-${randomUUID().slice(0, 8)}`;
  const registered = await call("POST", "/auth/register", {
    body: { email, password, first_name: "Chris", last_name: "Checker", terms_accepted: true, privacy_accepted: true },
  });
  expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  const admin = await login("admin@flowlet.test");
  const found = await call("GET", `/admin/users?q=${encodeURIComponent(email)}`, { token: admin });
  const id = found.body.items[0].id;
  const granted = await call("PUT", `/admin/users/${id}/roles`, { token: admin, body: { roles: ["compliance_officer"] } });
  expect(granted.status, JSON.stringify(granted.body)).toBe(200);
  return { email, password };
}

test("one officer proposes a rule change, another approves it, and a backtest shows its effect", async ({ page }) => {
  await requireEndpoint(test, await login("officer@flowlet.test"), "/compliance/rules");
  const checker = await secondOfficer();
  await newCustomer("Cash", "1000.00"); // a cash deposit under today's 10,000 line

  await signIn(page, "officer@flowlet.test");
  await page.getByRole("link", { name: "AML rules" }).click();
  const velocity = page.getByRole("listitem", { name: "Rule velocity" });
  await expect(velocity).toContainText("version 1");
  await velocity.getByRole("button", { name: "Propose a change" }).click();
  await velocity.getByLabel("New max_count").fill("7");
  await velocity.getByLabel("Why").fill("Mule accounts pass money in fewer payments.");
  await velocity.getByRole("button", { name: "Submit proposal" }).click();
  const proposal = page.getByRole("listitem", { name: "Proposal for velocity" });
  await expect(proposal).toContainText("Mule accounts pass money in fewer payments.");

  // The proposer may not approve it.
  await proposal.getByLabel("Reason").fill("Looks right to me.");
  await proposal.getByRole("button", { name: "Approve" }).click();
  await expect(proposal).toContainText("another officer");
  await page.getByRole("button", { name: "Sign out", exact: true }).click();

  await signIn(page, checker.email, checker.password);
  await page.getByRole("link", { name: "AML rules" }).click();
  const pending = page.getByRole("listitem", { name: "Proposal for velocity" });
  await pending.getByLabel("Reason").fill("Backtested: acceptable volume.");
  await pending.getByRole("button", { name: "Approve" }).click();
  await expect(page.getByRole("listitem", { name: "Rule velocity" })).toContainText("version 2");
  await expect(page.getByRole("listitem", { name: "Rule velocity" })).toContainText("max_count = 7");
  await page.getByLabel("Proposal status").selectOption("approved");
  await expect(page.getByRole("listitem", { name: "Proposal for velocity" })).toContainText(`Approved by ${checker.email}`);

  // A lower cash threshold would have alerted on the deposit above.
  const cash = page.getByRole("listitem", { name: "Rule cash_threshold" });
  await cash.getByRole("button", { name: "Backtest" }).click();
  await cash.getByLabel("New threshold").fill("500");
  await cash.getByRole("button", { name: "Run backtest" }).click();
  const result = cash.getByRole("status", { name: "Backtest result" });
  await expect(result).toContainText(/[1-9]\d* added/);
  await expect(result).toContainText("0 removed");
  await expect(result).toContainText("Would be added");
});
