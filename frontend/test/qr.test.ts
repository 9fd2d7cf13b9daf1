import { describe, expect, it } from "vitest";
import { svgDataUri } from "../src/lib/svg";

const decode = (uri: string) => Buffer.from(uri.replace("data:image/svg+xml;base64,", ""), "base64").toString();

describe("svgDataUri", () => {
  it("makes the server's inline SVG a standalone image", () => {
    const svg = decode(svgDataUri('<svg width="148" height="148" class="segno"><path d="M4 4.5h7"/></svg>'));
    expect(svg).toMatch(/^<svg viewBox="0 0 148 148" xmlns="http:\/\/www.w3.org\/2000\/svg" width="148"/);
  });

  it("leaves a complete SVG alone", () => {
    const full = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" width="10" height="10"></svg>';
    expect(decode(svgDataUri(full))).toBe(full);
  });
});
