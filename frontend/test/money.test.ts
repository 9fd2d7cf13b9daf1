import { describe, expect, it } from "vitest";
import { compareAmounts, formatMoney, fromMinor, minorDigits, parseAmountInput, sumAmounts, toMinor } from "../src/lib/money";

// Intl output uses narrow/no-break spaces in some locales; compare with plain spaces.
const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, " ");

describe("formatMoney", () => {
  it("formats in the locale with its currency", () => {
    expect(formatMoney("1234.50", "USD", "en-US")).toBe("$1,234.50");
    expect(plain(formatMoney("1234.50", "EUR", "de-DE"))).toBe("1.234,50 €");
    expect(plain(formatMoney("1234.5", "EUR", "fr-FR"))).toBe("1 234,50 €");
    expect(formatMoney("1000", "JPY", "ja-JP")).toMatch(/^[￥¥]1,000$/);
  });

  it("keeps every digit of large amounts (no float on the way)", () => {
    expect(formatMoney("90071992547409.93", "USD", "en-US")).toBe("$90,071,992,547,409.93");
    expect(formatMoney("0.10", "USD", "en-US")).toBe("$0.10");
  });

  it("shows signs when asked and negatives always", () => {
    expect(formatMoney("-12.00", "USD", "en-US")).toBe("-$12.00");
    expect(formatMoney("12.00", "USD", "en-US", { signDisplay: "exceptZero" })).toBe("+$12.00");
  });

  it("falls back to the raw text for something that is not an amount", () => {
    expect(formatMoney("n/a", "USD", "en-US")).toBe("n/a USD");
  });
});

describe("minor units", () => {
  it("knows the exponent of each currency", () => {
    expect(minorDigits("USD")).toBe(2);
    expect(minorDigits("JPY")).toBe(0);
    expect(minorDigits("BHD")).toBe(3);
  });

  it("round-trips decimal strings through BigInt", () => {
    expect(toMinor("10.5", "USD")).toBe(1050n);
    expect(fromMinor(1050n, "USD")).toBe("10.50");
    expect(fromMinor(5n, "USD")).toBe("0.05");
    expect(fromMinor(-5n, "USD")).toBe("-0.05");
    expect(fromMinor(1000n, "JPY")).toBe("1000");
    expect(() => toMinor("1.001", "USD")).toThrow();
  });

  it("adds exactly where floats would not", () => {
    expect(sumAmounts(["0.10", "0.20"], "USD")).toBe("0.30");
    expect(sumAmounts(["9007199254740993.01", "0.01"], "USD")).toBe("9007199254740993.02");
    expect(compareAmounts("1000.00", "1000.01", "USD")).toBe(-1);
    expect(compareAmounts("1000", "1000.00", "USD")).toBe(0);
  });
});

describe("parseAmountInput", () => {
  it("reads what people type in their locale", () => {
    expect(parseAmountInput("1,234.5", "USD", "en-US")).toEqual({ ok: true, amount: "1234.50" });
    expect(parseAmountInput("1.234,50", "EUR", "de-DE")).toEqual({ ok: true, amount: "1234.50" });
    expect(parseAmountInput(" 25 ", "USD", "en-US")).toEqual({ ok: true, amount: "25.00" });
    expect(parseAmountInput("1500", "JPY", "ja-JP")).toEqual({ ok: true, amount: "1500" });
  });

  it("says in words what is wrong", () => {
    expect(parseAmountInput("", "USD", "en-US")).toEqual({ ok: false, error: "Enter an amount." });
    expect(parseAmountInput("abc", "USD", "en-US").ok).toBe(false);
    expect(parseAmountInput("1.005", "USD", "en-US")).toEqual({ ok: false, error: "USD amounts have at most 2 decimals." });
    expect(parseAmountInput("10.5", "JPY", "en-US")).toEqual({ ok: false, error: "JPY amounts have no decimals." });
    expect(parseAmountInput("0", "USD", "en-US")).toEqual({ ok: false, error: "The amount must be more than zero." });
    expect(parseAmountInput("-5", "USD", "en-US").ok).toBe(false);
  });
});
