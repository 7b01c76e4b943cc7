// Test oracles for protocol/cbor.ts: hex, cbor-x set up for the preferred
// serialization (RFC 8949 section 4.2.1), conversion between the device
// value model and cbor-x values, an independent reference reading of the
// subset's refusals, and fast-check arbitraries for device values.
//
// cbor-x 1.6.9, measured (see ../shared/vectors/cbor/README.md):
// - `Encoder` extends `Decoder`, whose constructor turns `useRecords: false`
//   into `mapsAsObjects: true` unless told otherwise, and with
//   `mapsAsObjects: true` a `Map` gets tag 259 (`d9 0103`) unless
//   `useTag259ForMaps: false`. `mapsAsObjects: false` alone also avoids it;
//   both are set so neither default can come back.
// - `tagUint8Array: false`: otherwise, under Node, a Uint8Array gets tag 64.
// - `useRecords: false`: otherwise plain objects become tag 105 records.
// - `variableMapSize: true`: shortest map heads for plain objects (a `Map`
//   always gets the shortest head). The device model never hands cbor-x a
//   plain object, but a caller of cborXEncode might.
// - numbers are written as integers only within -2^32 .. 2^32-1; beyond
//   that as float64. A BigInt is always written with an 8-byte head (1b/3b),
//   which is the preferred head exactly when the argument is 2^32 or more.
//   So deviceToCborX turns the integers beyond 32 bits into BigInt, and
//   cbor-x then writes the preferred encoding of every device value.
// - decoding a 8-byte head gives a BigInt, even for small values; a byte
//   string comes back as a Node Buffer (a view into cbor-x's input).
// - `encode` returns a Buffer over cbor-x's shared output buffer: the next
//   encode overwrites it, so cborXEncode copies.

import { Decoder, Encoder, type Options } from "cbor-x";
import fc from "fast-check";
import {
  CBOR_E_DEPTH,
  CBOR_E_INCOMPLETE,
  CBOR_E_KEY,
  CBOR_E_LENGTH,
  CBOR_E_MALFORMED,
  CBOR_E_NOT_PREFERRED,
  CBOR_E_RANGE,
  CBOR_E_TEXT,
  CBOR_E_TRAILING,
  CBOR_E_UNSUPPORTED,
  CBOR_E_FULL,
  CBOR_E_TYPE,
  encodeCbor,
  type CborMap,
  type CborValue,
} from "../../protocol/cbor";

/** The largest integer the device model holds: 2^53 - 1. */
export const MAX_INT = Number.MAX_SAFE_INTEGER;

/** The reason codes by name, for messages: REASON[3] === "CBOR_E_UNSUPPORTED". */
export const REASON: Record<number, string> = {
  0: "ok",
  [CBOR_E_INCOMPLETE]: "CBOR_E_INCOMPLETE",
  [CBOR_E_MALFORMED]: "CBOR_E_MALFORMED",
  [CBOR_E_UNSUPPORTED]: "CBOR_E_UNSUPPORTED",
  [CBOR_E_NOT_PREFERRED]: "CBOR_E_NOT_PREFERRED",
  [CBOR_E_RANGE]: "CBOR_E_RANGE",
  [CBOR_E_TEXT]: "CBOR_E_TEXT",
  [CBOR_E_KEY]: "CBOR_E_KEY",
  [CBOR_E_DEPTH]: "CBOR_E_DEPTH",
  [CBOR_E_LENGTH]: "CBOR_E_LENGTH",
  [CBOR_E_TRAILING]: "CBOR_E_TRAILING",
  [CBOR_E_TYPE]: "CBOR_E_TYPE",
  [CBOR_E_FULL]: "CBOR_E_FULL",
};

// ---------------------------------------------------------------- hex

// hex and fromHex are test/support/bytes.ts's, under the names these tests use.
export { toHex as hex, fromHex } from "./bytes";

// ---------------------------------------------------------------- cbor-x

/** cbor-x encoder options that give the preferred serialization for values from deviceToCborX. */
export const CBORX_ENCODER_OPTIONS: Options & { useTag259ForMaps: boolean } = {
  useRecords: false,
  variableMapSize: true,
  tagUint8Array: false,
  useTag259ForMaps: false,
  mapsAsObjects: false,
};

/** cbor-x decoder options: every map as a `Map`, so integer keys stay integers. */
export const CBORX_DECODER_OPTIONS: Options = { useRecords: false, mapsAsObjects: false };

const cborXEncoder = new Encoder(CBORX_ENCODER_OPTIONS);
const cborXDecoder = new Decoder(CBORX_DECODER_OPTIONS);

/** cbor-x's encoding of v, as a fresh Uint8Array (not a view into cbor-x's reused buffer). */
export function cborXEncode(v: unknown): Uint8Array {
  return new Uint8Array(cborXEncoder.encode(v));
}

/** cbor-x's reading of bytes (maps as `Map`, 8-byte heads as BigInt). Throws what cbor-x throws. */
export function cborXDecode(bytes: Uint8Array): unknown {
  return cborXDecoder.decode(bytes);
}

/** Bytewise lexicographic order (RFC 8949 section 4.2.1), for sorting encoded map keys. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The integers cbor-x writes as numbers; beyond them it writes float64, so they go as BigInt. */
function fitsCborXInteger(n: number): boolean {
  return n >= -0x100000000 && n <= 0xffffffff;
}

/**
 * A device value as cbor-x should be given it to write the same preferred
 * encoding: integers beyond 32 bits as BigInt, maps as `Map` with their keys
 * inserted in the bytewise order of the keys' encodings (found with cbor-x,
 * not with the device's own ordering), byte strings copied. Throws on a
 * value outside the device model.
 */
export function deviceToCborX(v: CborValue): unknown {
  if (typeof v === "number") {
    if (!Number.isInteger(v) || Math.abs(v) > MAX_INT) throw new Error(`not a device integer: ${v}`);
    return fitsCborXInteger(v) ? v + 0 : BigInt(v);
  }
  if (v === null || typeof v === "boolean") return v;
  if (typeof v === "string") {
    if (!isAscii(v)) throw new Error(`not ASCII: ${JSON.stringify(v)}`);
    return v;
  }
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(deviceToCborX);
  if (typeof v !== "object") throw new Error(`not a device value: ${typeof v}`);
  const entries = Object.keys(v).map((name) => {
    const k = Number(name);
    if (String(k) !== name || !Number.isInteger(k) || Math.abs(k) > MAX_INT) throw new Error(`not an integer key: ${name}`);
    const key = deviceToCborX(k);
    return { key, bytes: cborXEncode(key), value: deviceToCborX((v as CborMap)[k]) };
  });
  entries.sort((a, b) => compareBytes(a.bytes, b.bytes));
  return new Map(entries.map((e) => [e.key, e.value]));
}

/**
 * A value cbor-x decoded, in the device model; undefined when the model
 * cannot hold it (a fraction or float beyond the integers, an integer beyond
 * +-(2^53-1), text beyond ASCII, a map key that is not an integer, undefined,
 * a tag, a Date...). Only the value is judged: the bytes cbor-x read may
 * still be outside the subset (a float 1.0, an indefinite length), which the
 * caller checks by comparing encodings. -0 becomes 0, byte strings are
 * copied into plain Uint8Arrays.
 */
export function cborXToDevice(v: unknown): CborValue | undefined {
  if (typeof v === "bigint") return v >= -BigInt(MAX_INT) && v <= BigInt(MAX_INT) ? Number(v) : undefined;
  if (typeof v === "number") return Number.isInteger(v) && Math.abs(v) <= MAX_INT ? v + 0 : undefined;
  if (v === null || typeof v === "boolean") return v;
  if (typeof v === "string") return isAscii(v) ? v : undefined;
  if (v instanceof Uint8Array) return Uint8Array.from(v);
  if (Array.isArray(v)) {
    const out: CborValue[] = [];
    for (const item of v) {
      const d = cborXToDevice(item);
      if (d === undefined) return undefined;
      out.push(d);
    }
    return out;
  }
  if (v instanceof Map) {
    const out: CborMap = {};
    for (const [key, value] of v) {
      const k = typeof key === "bigint" || typeof key === "number" ? cborXToDevice(key) : undefined;
      const d = cborXToDevice(value);
      if (typeof k !== "number" || d === undefined || Object.prototype.hasOwnProperty.call(out, k)) return undefined;
      out[k] = d;
    }
    return out;
  }
  return undefined;
}

/** The preferred serialization of a device value, as cbor-x writes it (the oracle the device encoder is held to). */
export function preferredEncoding(v: CborValue): Uint8Array {
  return cborXEncode(deviceToCborX(v));
}

function isAscii(s: string): boolean {
  return /^[\x00-\x7f]*$/.test(s);
}

// ---------------------------------------------------------------- device helpers

/**
 * The device encoding of v (protocol/cbor.ts encodeCbor), in a buffer of
 * exactly its size. Throws, naming the reason code, when encodeCbor refuses.
 */
export function encodeDevice(v: CborValue, maxDepth = 16): Uint8Array {
  for (let size = 64; size <= 1 << 26; size *= 4) {
    const out = new Uint8Array(size);
    const end = encodeCbor(v, out, 0, maxDepth);
    if (end >= 0) return out.slice(0, end);
    if (end !== -CBOR_E_FULL) throw new Error(`encodeCbor refused the value: ${REASON[-end] ?? end}`);
  }
  throw new Error("encodeCbor: value larger than 64 MiB");
}

/** The nesting depth of a device value: 0 for a scalar, 1 for [] or {}, 2 for [[]]... */
export function depthOf(v: CborValue): number {
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return 0;
  const items = Array.isArray(v) ? v : Object.values(v);
  let d = 0;
  for (const item of items) d = Math.max(d, depthOf(item));
  return d + 1;
}

/** Items in a decoded value plus the bytes of its strings: each takes at least one input byte. */
export function sizeOf(v: CborValue): number {
  if (typeof v === "string" || v instanceof Uint8Array) return 1 + v.length;
  if (v === null || typeof v !== "object") return 1;
  if (Array.isArray(v)) return v.reduce((n: number, item) => n + sizeOf(item), 1);
  return Object.values(v).reduce((n: number, item) => n + 1 + sizeOf(item), 1);
}

// ---------------------------------------------------------------- reference reading

const BIG_MAX = BigInt(MAX_INT);
/** The smallest argument each head size may carry in the preferred serialization. */
const HEAD_MIN: Record<number, bigint> = { 1: 24n, 2: 0x100n, 4: 0x10000n, 8: 0x100000000n };

/**
 * What the subset says about bytes, read independently of protocol/cbor.ts
 * (BigInt arguments, map keys compared as encoded bytes): 0 when they are
 * exactly one item in the subset, else the CBOR_E_* reason for the first
 * refusal met reading items in order. Within one item:
 *   no byte left, or not all of its head -> INCOMPLETE
 *   additional information 28-30; 31 on major 0, 1, 6, 7 (the break);
 *   a two-byte simple value below 32 -> MALFORMED (RFC 8949 appendix F)
 *   31 on major 2-5 (indefinite), floats, undefined, other simple
 *   values -> UNSUPPORTED
 *   a longer head than needed -> NOT_PREFERRED; a tag -> UNSUPPORTED
 *   an integer or length beyond 2^53-1 -> RANGE; a length beyond
 *   maxLength -> LENGTH
 *   fewer bytes left than the length claims (a byte per string byte or
 *   container item, two per map entry) -> INCOMPLETE, before anything
 *   inside is looked at
 *   a byte beyond 0x7f in text -> TEXT
 *   a map key that is not an integer (a string, a container, true...), or
 *   not after the previous key in bytewise order -> KEY; a container one
 *   level deeper than maxDepth -> DEPTH
 * then bytes after the item -> TRAILING.
 */
export function referenceRefusal(bytes: Uint8Array, maxDepth: number, maxLength: number): number {
  let p = 0;

  /** Reads one item; returns 0 or the reason. A key must be an integer. */
  function item(depth: number, isKey: boolean): number {
    if (p >= bytes.length) return CBOR_E_INCOMPLETE;
    const ib = bytes[p++];
    const major = ib >> 5;
    const ai = ib & 31;
    if (ai >= 28 && ai <= 30) return CBOR_E_MALFORMED;
    if (ai === 31) return major >= 2 && major <= 5 ? CBOR_E_UNSUPPORTED : CBOR_E_MALFORMED;
    const size = ai < 24 ? 0 : 1 << (ai - 24);
    if (p + size > bytes.length) return CBOR_E_INCOMPLETE;
    let arg = BigInt(ai < 24 ? ai : 0);
    for (let i = 0; i < size; i++) arg = arg * 256n + BigInt(bytes[p + i]);
    p += size;
    if (major === 7) {
      if (ai === 24 && arg < 32n) return CBOR_E_MALFORMED;
      if (ai < 20 || ai > 22) return CBOR_E_UNSUPPORTED;
      return isKey ? CBOR_E_KEY : 0;
    }
    if (size > 0 && arg < HEAD_MIN[size]) return CBOR_E_NOT_PREFERRED;
    if (major === 6) return CBOR_E_UNSUPPORTED;
    if (arg > (major === 1 ? BIG_MAX - 1n : BIG_MAX)) return CBOR_E_RANGE;
    if (major <= 1) return 0;
    const n = Number(arg);
    if (n > maxLength) return CBOR_E_LENGTH;
    if (p + (major === 5 ? 2 * n : n) > bytes.length) return CBOR_E_INCOMPLETE;
    if (major === 2 || major === 3) {
      for (let i = 0; major === 3 && i < n; i++) if (bytes[p + i] > 0x7f) return CBOR_E_TEXT;
      p += n;
      return isKey ? CBOR_E_KEY : 0;
    }
    if (isKey) return CBOR_E_KEY;
    if (depth < 1) return CBOR_E_DEPTH;
    let previousKey: Uint8Array | null = null;
    for (let i = 0; i < n; i++) {
      if (major === 5) {
        const start = p;
        const e = item(0, true);
        if (e !== 0) return e;
        const key = bytes.subarray(start, p);
        if (previousKey !== null && compareBytes(previousKey, key) >= 0) return CBOR_E_KEY;
        previousKey = key;
      }
      const e = item(depth - 1, false);
      if (e !== 0) return e;
    }
    return 0;
  }

  const e = item(maxDepth, false);
  if (e !== 0) return e;
  return p < bytes.length ? CBOR_E_TRAILING : 0;
}

// ---------------------------------------------------------------- fast-check

/** Integers on both sides of every head boundary (RFC 8949 section 3: 24, 2^8, 2^16, 2^32) and the model's ends. */
export const BOUNDARY_INTEGERS: readonly number[] = [
  0, 1, 23, 24, 255, 256, 65535, 65536, 0xffffffff, 0x100000000, MAX_INT - 1, MAX_INT,
  -1, -24, -25, -256, -257, -65536, -65537, -0x100000000, -0x100000001, -MAX_INT + 1, -MAX_INT,
];

/** Any integer of the device model, often near a head boundary. */
export function arbDeviceInteger(): fc.Arbitrary<number> {
  return fc
    .oneof(
      fc.integer({ min: -30, max: 30 }),
      fc.constantFrom(...BOUNDARY_INTEGERS),
      fc.integer({ min: -0x10001, max: 0x10001 }),
      fc.integer(),
      fc.maxSafeInteger(),
    )
    .map((n) => n + 0);
}

/** An ASCII string (0x00-0x7f), sometimes longer than 23 characters. */
export function arbAsciiString(maxLength = 40): fc.Arbitrary<string> {
  return fc.string({ unit: "binary-ascii", maxLength });
}

/**
 * Any value of the device model: integers, booleans, null, ASCII strings,
 * byte strings, arrays, integer-keyed maps, nested at most maxDepth
 * containers deep with at most maxLength items per container.
 */
export function arbCborValue(constraints: { maxDepth?: number; maxLength?: number } = {}): fc.Arbitrary<CborValue> {
  const maxLength = constraints.maxLength ?? 6;
  const depth = { maxDepth: constraints.maxDepth ?? 3, depthIdentifier: "cbor-value" };
  const leaf: fc.Arbitrary<CborValue> = fc.oneof(
    arbDeviceInteger(),
    fc.boolean(),
    fc.constant(null),
    arbAsciiString(),
    fc.uint8Array({ maxLength: 40 }),
  );
  const { value } = fc.letrec<{ value: CborValue }>((tie) => ({
    value: fc.oneof(
      depth,
      leaf,
      fc.array(tie("value"), { maxLength, depthIdentifier: depth.depthIdentifier }),
      fc
        .uniqueArray(fc.tuple(arbDeviceInteger(), tie("value")), {
          selector: (entry) => entry[0],
          maxLength,
          depthIdentifier: depth.depthIdentifier,
        })
        .map((entries) => {
          const m: CborMap = {};
          for (const [k, v] of entries) m[k] = v;
          return m;
        }),
    ),
  }));
  return value;
}
