/**
 * Money on the wire is a decimal string with the currency's minor-unit exponent ("10.50" USD,
 * "1000" JPY). It is never turned into a float: arithmetic is done on BigInt minor units, and
 * display goes through Intl.NumberFormat, which formats decimal strings exactly.
 */

const DECIMAL = /^-?\d+(\.\d+)?$/;

const digitsCache = new Map<string, number>();

/** The number of minor-unit digits of a currency (2 for USD, 0 for JPY). */
export function minorDigits(currency: string): number {
  const code = currency.toUpperCase();
  let digits = digitsCache.get(code);
  if (digits === undefined) {
    digits =
      new Intl.NumberFormat("en", { style: "currency", currency: code }).resolvedOptions()
        .maximumFractionDigits ?? 2;
    digitsCache.set(code, digits);
  }
  return digits;
}

/** The user's locale (the browser's first preference). */
export function userLocale(): string {
  if (typeof navigator !== "undefined" && navigator.language) return navigator.language;
  return "en-US";
}

/** Format a decimal string in a locale with its currency, exactly (no float on the way). */
export function formatMoney(
  amount: string,
  currency: string,
  locale: string = userLocale(),
  options: { signDisplay?: "auto" | "always" | "exceptZero" } = {},
): string {
  if (!DECIMAL.test(amount)) return `${amount} ${currency}`;
  const formatter = new Intl.NumberFormat(locale, {
    style: "currency",
    currency,
    signDisplay: options.signDisplay ?? "auto",
  });
  // ES2023 Intl.NumberFormat accepts a decimal string and keeps every digit.
  return formatter.format(amount as unknown as number);
}

/** A decimal string as BigInt minor units; throws on anything else or on too many decimals. */
export function toMinor(amount: string, currency: string): bigint {
  if (!DECIMAL.test(amount)) throw new Error(`not a decimal amount: ${amount}`);
  const digits = minorDigits(currency);
  const negative = amount.startsWith("-");
  const [whole, fraction = ""] = (negative ? amount.slice(1) : amount).split(".");
  const trimmed = fraction.replace(/0+$/, "");
  if (trimmed.length > digits) throw new Error(`${currency} has ${digits} decimals`);
  const minor = BigInt(whole + fraction.padEnd(digits, "0").slice(0, digits));
  return negative ? -minor : minor;
}

/** BigInt minor units back to the wire's decimal string. */
export function fromMinor(minor: bigint, currency: string): string {
  const digits = minorDigits(currency);
  const negative = minor < 0n;
  const text = (negative ? -minor : minor).toString().padStart(digits + 1, "0");
  const whole = digits ? text.slice(0, -digits) : text;
  const fraction = digits ? `.${text.slice(-digits)}` : "";
  return `${negative ? "-" : ""}${whole}${fraction}`;
}

/** Add decimal strings of one currency exactly. */
export function sumAmounts(amounts: string[], currency: string): string {
  return fromMinor(
    amounts.reduce((total, a) => total + toMinor(a, currency), 0n),
    currency,
  );
}

/** -1, 0 or 1, comparing two decimal strings of one currency. */
export function compareAmounts(a: string, b: string, currency: string): number {
  const x = toMinor(a, currency);
  const y = toMinor(b, currency);
  return x < y ? -1 : x > y ? 1 : 0;
}

export type ParsedAmount = { ok: true; amount: string } | { ok: false; error: string };

/**
 * Read what a person typed ("1,234.5", "1.234,50" in de-DE, "1 000") into the wire's decimal
 * string for the currency, or say in words what is wrong with it.
 */
export function parseAmountInput(
  input: string,
  currency: string,
  locale: string = userLocale(),
): ParsedAmount {
  const parts = new Intl.NumberFormat(locale).formatToParts(12345.6);
  const group = parts.find((p) => p.type === "group")?.value ?? ",";
  const decimal = parts.find((p) => p.type === "decimal")?.value ?? ".";
  let text = input.trim().replace(/[\s\u00a0\u202f']/g, "");
  if (!text) return { ok: false, error: "Enter an amount." };
  if (group !== decimal) text = text.split(group).join("");
  if (decimal !== ".") text = text.replace(decimal, ".");
  if (!/^\d+(\.\d*)?$/.test(text)) return { ok: false, error: "Enter a number, like 25.00." };
  if (text.endsWith(".")) text = text.slice(0, -1);
  const digits = minorDigits(currency);
  const fraction = text.split(".")[1] ?? "";
  if (fraction.replace(/0+$/, "").length > digits) {
    return {
      ok: false,
      error: digits
        ? `${currency} amounts have at most ${digits} decimals.`
        : `${currency} amounts have no decimals.`,
    };
  }
  const minor = toMinor(text, currency);
  if (minor <= 0n) return { ok: false, error: "The amount must be more than zero." };
  return { ok: true, amount: fromMinor(minor, currency) };
}
