import { describe, expect, it } from "vitest";
import { factorValue } from "../src/lib/types";

describe("factorValue", () => {
  it("shows a risk factor's value as words", () => {
    expect(factorValue(true)).toBe("yes");
    expect(factorValue(false)).toBe("no");
    expect(factorValue(null)).toBe("—");
    expect(factorValue("")).toBe("—");
    expect(factorValue(3)).toBe("3");
    expect(factorValue("IR")).toBe("IR");
  });
});
