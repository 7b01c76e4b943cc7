// The CBOR subset the protocol needs (RFC 8949), for the device.
//
// Values:
//   unsigned and negative integers      number, -(2^53-1) .. 2^53-1
//   byte strings                        Uint8Array
//   text strings, ASCII only            string
//   arrays                              CborValue[]
//   maps with integer keys              an object, e.g. { 1: 10, 2: 0 }
//   true, false, null                   boolean, null
//
// Always the preferred serialization (RFC 8949 section 4.2.1): the shortest
// head for every integer and length, map keys in their encoded bytewise
// order. The decoder accepts exactly what the encoder writes, so decoding
// and encoding again gives the same bytes. Everything else is refused with
// a reason code, never a thrown exception: floats, tags, indefinite lengths,
// undefined and other simple values (section 3.3), longer heads than needed,
// text beyond ASCII, map keys that are not integers or not in order.
//
// Decoding is bounded: a depth limit on nesting, a length limit on every
// string and container, and nothing is allocated for a length before the
// input is known to hold that many bytes (every item takes at least one).

export type CborValue = number | boolean | null | string | Uint8Array | CborValue[] | CborMap;

/** A map with integer keys: { 1: 10, 2: 0 }. */
export interface CborMap {
  [key: number]: CborValue;
}

/** The input ends inside an item. */
export const CBOR_E_INCOMPLETE = 1;
/** Not well-formed (RFC 8949 appendix F): reserved additional information 28-30, a break outside an indefinite item, a two-byte simple value below 32. */
export const CBOR_E_MALFORMED = 2;
/** Well-formed but outside the subset: floats, tags, indefinite lengths, undefined, other simple values. */
export const CBOR_E_UNSUPPORTED = 3;
/** A longer head than the value needs (section 4.2.1). */
export const CBOR_E_NOT_PREFERRED = 4;
/** An integer beyond +-(2^53-1), which a number cannot hold exactly. */
export const CBOR_E_RANGE = 5;
/** A text string with a byte or character outside ASCII. */
export const CBOR_E_TEXT = 6;
/** A map key that is not an integer, repeated, or out of order. */
export const CBOR_E_KEY = 7;
/** Containers nested deeper than allowed. */
export const CBOR_E_DEPTH = 8;
/** A string or container longer than allowed. */
export const CBOR_E_LENGTH = 9;
/** Bytes left over after the item. */
export const CBOR_E_TRAILING = 10;
/** Encoding: a value the subset cannot hold (a fraction, NaN, undefined, a function). */
export const CBOR_E_TYPE = 11;
/** Encoding: the output buffer is too small. */
export const CBOR_E_FULL = 12;

/**
 * The largest integer the subset holds: 2^53 - 1, the largest a number holds
 * exactly. Made by Number() so that the bundler keeps it a name rather than
 * writing its 16 digits out at every use (exact on 2v29 too).
 */
export const CBOR_MAX_INT = Number("9007199254740991");

/**
 * The additional information of the shortest head for argument n: n itself
 * below 24, else 24..27 for an argument in the next 1, 2, 4, 8 bytes.
 * Literals: Math.pow(2, 32) is not exact on 2v29.
 */
function shortestAi(n: number): number {
  return n < 24 ? n : n < 0x100 ? 24 : n < 0x10000 ? 25 : n < 0x100000000 ? 26 : 27;
}

/**
 * Writes the head of an item: major type and argument, shortest form, when
 * it and `content` more bytes fit in out. Returns the new offset or -CBOR_E_FULL.
 * The argument goes big-endian, by arithmetic rather than bit operations: it
 * may be up to 2^53 - 1, which divides by 256 exactly.
 */
function writeHead(out: Uint8Array, at: number, major: number, n: number, content: number): number {
  const ai = shortestAi(n), bytes = ai < 24 ? 0 : 1 << (ai - 24);
  if (at + 1 + bytes + content > out.length) return -CBOR_E_FULL;
  out[at] = (major << 5) | ai;
  for (let i = bytes; i > 0; i--) {
    out[at + i] = n % 256;
    n = Math.floor(n / 256);
  }
  return at + 1 + bytes;
}

/** True when map key a comes before b in the bytewise order of their encodings. */
function keyBefore(a: number, b: number): boolean {
  if (a >= 0) return b < 0 || a < b;
  return b < 0 && a > b;
}

/**
 * Encodes v into out from offset at, nesting at most maxDepth containers.
 * Returns the offset after the item, or a negative reason code (-CBOR_E_*).
 */
export function encodeCbor(v: CborValue, out: Uint8Array, at: number, maxDepth: number): number {
  if (typeof v === "number") {
    if (v !== Math.floor(v)) return -CBOR_E_TYPE;
    if (Math.abs(v) > CBOR_MAX_INT) return -CBOR_E_RANGE;
    return writeHead(out, at, v < 0 ? 1 : 0, v < 0 ? -1 - v : v, 0);
  }
  // false, true, null: simple values 20, 21, 22 (0xf4-0xf6).
  if (v === false || v === true || v === null) return writeHead(out, at, 7, v === null ? 22 : v ? 21 : 20, 0);
  // Text (ASCII only) and byte strings: the head, then a byte each.
  const text = typeof v === "string";
  if (text || v instanceof Uint8Array) {
    const n = v.length;
    at = writeHead(out, at, text ? 3 : 2, n, n);
    if (at < 0) return at;
    for (let i = 0; i < n; i++) {
      const c = text ? v.charCodeAt(i) : v[i];
      if (text && c > 0x7f) return -CBOR_E_TEXT;
      out[at + i] = c;
    }
    return at + n;
  }
  if (typeof v !== "object") return -CBOR_E_TYPE;
  if (maxDepth < 1) return -CBOR_E_DEPTH;
  // An array's items; or a map's keys and values in turn, its keys
  // integers, in encoded order.
  const map = !Array.isArray(v);
  let items = v as CborValue[];
  if (map) {
    const keys = Object.keys(v);
    for (let i = 0; i < keys.length; i++) {
      const k = Number(keys[i]);
      if (String(k) !== keys[i] || Math.floor(k) !== k || Math.abs(k) > CBOR_MAX_INT) return -CBOR_E_KEY;
    }
    // Keys are distinct, so an unstable sort (2v29's) gives the one order.
    keys.sort((a, b) => (keyBefore(+a, +b) ? -1 : 1));
    items = [];
    for (let i = 0; i < keys.length; i++) items.push(+keys[i], (v as CborMap)[+keys[i]]);
  }
  at = writeHead(out, at, map ? 5 : 4, map ? items.length / 2 : items.length, 0);
  for (let i = 0; i < items.length && at >= 0; i++) at = encodeCbor(items[i], out, at, maxDepth - 1);
  return at;
}

/** The result of decodeCbor: the value, or a reason code in e (0 when fine). */
export interface CborDecoded {
  v: CborValue;
  /** 0, or the CBOR_E_* reason the input was refused. */
  e: number;
}

/** Decoder state for one call: input, position, limits, and the first error. */
interface Reader {
  b: Uint8Array;
  p: number;
  e: number;
  /** The longest string or container. */
  m: number;
}

function readItem(r: Reader, depth: number): CborValue {
  // Additional information 24-27: the argument is in the next 1, 2, 4, 8 bytes.
  const b = r.b, ib = b[r.p++], major = ib >> 5, ai = ib & 31, bytes = ai < 24 || ai > 27 ? 0 : 1 << (ai - 24);
  let e = 0, n = bytes ? 0 : ai;
  // The argument, big-endian. With 8 bytes and a value beyond 2^53 the sum
  // is no longer exact, but it stays above CBOR_MAX_INT, which is refused.
  for (let i = 0; i < bytes; i++) n = n * 256 + b[r.p++];
  // The initial byte or the argument runs past the end.
  if (r.p > b.length) e = CBOR_E_INCOMPLETE;
  else if (ib === 0xf4 || ib === 0xf5) return ib === 0xf5;
  else if (ib === 0xf6) return null;
  // Additional information 28-30 is reserved, and 31 (indefinite length, or
  // a break) is well-formed only for major types 2-5 (initial bytes
  // 0x40-0xbf); a break stands outside an indefinite item here.
  else if (ai > 27) e = ai === 31 && major > 1 && major < 6 ? CBOR_E_UNSUPPORTED : CBOR_E_MALFORMED;
  // A two-byte simple value below 32 is not well-formed (section 3.3);
  // floats, undefined and the other simple values are outside the subset.
  else if (major === 7) e = ai === 24 && n < 32 ? CBOR_E_MALFORMED : CBOR_E_UNSUPPORTED;
  // (With ai below 24, n is ai: never shorter.)
  else if (shortestAi(n) < ai) e = CBOR_E_NOT_PREFERRED;
  else if (major === 6) e = CBOR_E_UNSUPPORTED;
  else if (n > CBOR_MAX_INT || (major === 1 && n > CBOR_MAX_INT - 1)) e = CBOR_E_RANGE;
  else if (major < 2) return major ? -1 - n : n;
  else if (n > r.m) e = CBOR_E_LENGTH;
  // Every byte of a string, and every item of a container, takes at least a byte.
  else if (r.p + (major === 5 ? 2 * n : n) > b.length) e = CBOR_E_INCOMPLETE;
  else if (major === 2) {
    r.p += n;
    return b.subarray(r.p - n, r.p);
  } else if (major === 3) {
    let s = "";
    for (let i = 0; i < n && !e; i++) {
      if (b[r.p + i] > 0x7f) e = CBOR_E_TEXT;
      s += String.fromCharCode(b[r.p + i]);
    }
    r.p += n;
    if (!e) return s;
  } else if (depth < 1) e = CBOR_E_DEPTH;
  else if (major === 4) {
    const a: CborValue[] = [];
    for (let i = 0; i < n && !r.e; i++) a.push(readItem(r, depth - 1));
    return a;
  } else {
    const m: CborMap = {};
    let last = 0;
    for (let i = 0; i < n && !r.e; i++) {
      const k = readItem(r, 0);
      // Read at depth 0, a key fails with CBOR_E_DEPTH only by being a
      // container; any key that is not an integer in order is refused.
      if ((r.e as number) === CBOR_E_DEPTH || (!r.e && (typeof k !== "number" || (i > 0 && !keyBefore(last, k))))) r.e = CBOR_E_KEY;
      if (r.e) break;
      last = k as number;
      m[last] = readItem(r, depth - 1);
    }
    return m;
  }
  r.e = e;
  return null;
}

/**
 * Decodes exactly one item that fills bytes, nesting at most maxDepth
 * containers, with at most maxLength bytes in a string and items in a
 * container. Byte strings in the result are views into bytes, not copies.
 * Never throws: a refused input gives e > 0 (CBOR_E_*) and v = null.
 */
export function decodeCbor(bytes: Uint8Array, maxDepth: number, maxLength: number): CborDecoded {
  const r: Reader = { b: bytes, p: 0, e: 0, m: maxLength };
  const v = readItem(r, maxDepth);
  if (!r.e && r.p < bytes.length) r.e = CBOR_E_TRAILING;
  return { v: r.e ? null : v, e: r.e };
}
