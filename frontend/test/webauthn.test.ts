import { describe, expect, it } from "vitest";
import { base64urlToBuffer, bufferToBase64url, requestOptionsFromJSON } from "../src/lib/webauthn";

describe("base64url", () => {
  it("round-trips every byte value, without padding", () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const text = bufferToBase64url(bytes.buffer);
    expect(text).not.toMatch(/[+/=]/);
    expect(new Uint8Array(base64urlToBuffer(text))).toEqual(bytes);
  });

  it("decodes the URL-safe alphabet and missing padding", () => {
    expect(new Uint8Array(base64urlToBuffer("-_8"))).toEqual(new Uint8Array([0xfb, 0xff]));
    expect(bufferToBase64url(new Uint8Array([0xfb, 0xff]))).toBe("-_8");
    expect(bufferToBase64url(new Uint8Array([]))).toBe("");
    expect(new Uint8Array(base64urlToBuffer("YQ"))).toEqual(new Uint8Array([0x61]));
  });

  it("turns request options into buffers", () => {
    const options = requestOptionsFromJSON({
      challenge: "AAEC",
      rpId: "localhost",
      allowCredentials: [{ id: "AwQ", type: "public-key" }],
      userVerification: "required",
    });
    expect(new Uint8Array(options.challenge as ArrayBuffer)).toEqual(new Uint8Array([0, 1, 2]));
    expect(new Uint8Array(options.allowCredentials![0].id as ArrayBuffer)).toEqual(new Uint8Array([3, 4]));
    expect(options.userVerification).toBe("required");
  });
});
