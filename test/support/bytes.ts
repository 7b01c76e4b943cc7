// Byte helpers for tests: hex both ways and ASCII text as bytes.

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** Bytes of a hex string; spaces, newlines and "_" between bytes are ignored ("a2 01 02"). Throws on anything else. */
export function fromHex(s: string): Uint8Array {
  const t = s.replace(/[\s_]/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(t)) throw new Error(`not hex: ${JSON.stringify(s)}`);
  return new Uint8Array(Buffer.from(t, "hex"));
}

export function ascii(s: string): Uint8Array {
  return new Uint8Array(Array.from(s, (c) => c.charCodeAt(0)));
}
