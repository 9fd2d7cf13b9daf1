import { describe, expect, it } from "vitest";
import { parseParam } from "../src/pages/console/Rules";

describe("a rule parameter typed by an officer", () => {
  it("keeps money as the decimal string the API takes", () => {
    expect(parseParam("money", " 10000,JPY=1500000 ")).toBe("10000,JPY=1500000");
  });
  it("sends counts and ratios as numbers, and what is not a number as typed (the API refuses it)", () => {
    expect(parseParam("int", "7")).toBe(7);
    expect(parseParam("ratio", "0.75")).toBe(0.75);
    expect(parseParam("int", "seven")).toBe("seven");
  });
  it("splits countries on commas or spaces, upper-cased", () => {
    expect(parseParam("countries", "ir, kp MM")).toEqual(["IR", "KP", "MM"]);
    expect(parseParam("countries", "")).toEqual([]);
  });
});
