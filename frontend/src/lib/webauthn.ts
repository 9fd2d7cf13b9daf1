/**
 * Passkeys in the browser: the server speaks WebAuthn JSON (binary values in base64url), the
 * browser's `navigator.credentials` speaks ArrayBuffers. These helpers translate both ways.
 */

/** base64url (no padding) → bytes. */
export function base64urlToBuffer(text: string): ArrayBuffer {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** bytes → base64url (no padding). */
export function bufferToBase64url(buffer: ArrayBuffer | ArrayBufferView): string {
  const bytes =
    buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

interface DescriptorJSON {
  id: string;
  type: string;
  transports?: string[];
}

export interface CreationOptionsJSON {
  rp: { id?: string; name: string };
  user: { id: string; name: string; displayName: string };
  challenge: string;
  pubKeyCredParams: { type: string; alg: number }[];
  timeout?: number;
  excludeCredentials?: DescriptorJSON[];
  authenticatorSelection?: AuthenticatorSelectionCriteria;
  attestation?: string;
}

export interface RequestOptionsJSON {
  challenge: string;
  timeout?: number;
  rpId?: string;
  allowCredentials?: DescriptorJSON[];
  userVerification?: string;
}

/** A credential as the server reads it (`PublicKeyCredential.toJSON()`). */
export type CredentialJSON = Record<string, unknown>;

function descriptor(d: DescriptorJSON): PublicKeyCredentialDescriptor {
  return {
    id: base64urlToBuffer(d.id),
    type: "public-key",
    transports: d.transports as AuthenticatorTransport[] | undefined,
  };
}

export function creationOptionsFromJSON(json: CreationOptionsJSON): PublicKeyCredentialCreationOptions {
  return {
    rp: json.rp,
    user: { ...json.user, id: base64urlToBuffer(json.user.id) },
    challenge: base64urlToBuffer(json.challenge),
    pubKeyCredParams: json.pubKeyCredParams.map((p) => ({ type: "public-key", alg: p.alg })),
    timeout: json.timeout,
    excludeCredentials: (json.excludeCredentials ?? []).map(descriptor),
    authenticatorSelection: json.authenticatorSelection,
    attestation: (json.attestation ?? "none") as AttestationConveyancePreference,
  };
}

export function requestOptionsFromJSON(json: RequestOptionsJSON): PublicKeyCredentialRequestOptions {
  return {
    challenge: base64urlToBuffer(json.challenge),
    timeout: json.timeout,
    rpId: json.rpId,
    allowCredentials: (json.allowCredentials ?? []).map(descriptor),
    userVerification: (json.userVerification ?? "required") as UserVerificationRequirement,
  };
}

function common(credential: PublicKeyCredential): CredentialJSON {
  return {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
  };
}

export function registrationToJSON(credential: PublicKeyCredential): CredentialJSON {
  const response = credential.response as AuthenticatorAttestationResponse;
  return {
    ...common(credential),
    response: {
      clientDataJSON: bufferToBase64url(response.clientDataJSON),
      attestationObject: bufferToBase64url(response.attestationObject),
      transports: typeof response.getTransports === "function" ? response.getTransports() : [],
    },
  };
}

export function assertionToJSON(credential: PublicKeyCredential): CredentialJSON {
  const response = credential.response as AuthenticatorAssertionResponse;
  return {
    ...common(credential),
    response: {
      clientDataJSON: bufferToBase64url(response.clientDataJSON),
      authenticatorData: bufferToBase64url(response.authenticatorData),
      signature: bufferToBase64url(response.signature),
      userHandle: response.userHandle ? bufferToBase64url(response.userHandle) : undefined,
    },
  };
}

export function passkeysSupported(): boolean {
  return typeof window !== "undefined" && "PublicKeyCredential" in window && !!navigator.credentials;
}

/** Create a passkey with the server's creation options; the JSON to send back. */
export async function createPasskey(options: CreationOptionsJSON): Promise<CredentialJSON> {
  const credential = await navigator.credentials.create({ publicKey: creationOptionsFromJSON(options) });
  if (!credential) throw new Error("No passkey was created.");
  return registrationToJSON(credential as PublicKeyCredential);
}

/** Sign the server's request options with a passkey; the JSON to send back. */
export async function signWithPasskey(options: RequestOptionsJSON): Promise<CredentialJSON> {
  const credential = await navigator.credentials.get({ publicKey: requestOptionsFromJSON(options) });
  if (!credential) throw new Error("No passkey was used.");
  return assertionToJSON(credential as PublicKeyCredential);
}
