// protocol/cbor.ts against the external vectors in ../shared/vectors/cbor/
// (read in place, never copied here; see its README): RFC 8949 appendix A,
// the not-well-formed inputs of appendix F.1 and of QCBOR, and the CBOR WG
// test vectors.
//
// Which vectors are inside the subset is decided without the device code:
// the vector's value (its JSON, else cbor-x's reading of its bytes) must be
// a device value, and its bytes must be the preferred serialization of that
// value as cbor-x writes it. Those decode to the value and re-encode to the
// same bytes. Every other vector is refused with a reason code: the one the
// independent reference reading (test/support/cbor-oracle.ts) gives, and of
// the class the vector's own annotation calls for.

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  CBOR_E_INCOMPLETE,
  CBOR_E_KEY,
  CBOR_E_MALFORMED,
  CBOR_E_NOT_PREFERRED,
  CBOR_E_RANGE,
  CBOR_E_TEXT,
  CBOR_E_TRAILING,
  CBOR_E_UNSUPPORTED,
  decodeCbor,
  type CborMap,
  type CborValue,
} from "../../protocol/cbor";
import {
  MAX_INT,
  REASON,
  cborXDecode,
  cborXToDevice,
  encodeDevice,
  fromHex,
  hex,
  preferredEncoding,
  referenceRefusal,
} from "../support/cbor-oracle";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const VECTORS = path.resolve(repoRoot, "../shared/vectors/cbor");

/** The deepest vectors nest about 510 containers; the limits are tested in cbor.test.ts, not here. */
const MAX_DEPTH = 1000;
/** No length limit either: a long claimed length must show as "incomplete", not as over a limit. */
const MAX_LENGTH = MAX_INT;

function readJson<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(VECTORS, name), "utf8")) as T;
}

/** A JSON value (a vector's expected value) in the device model; undefined when the model cannot hold it. */
function jsonToDevice(j: unknown): CborValue | undefined {
  if (typeof j === "number") return Number.isInteger(j) && Math.abs(j) <= MAX_INT ? j + 0 : undefined;
  if (j === null || typeof j === "boolean") return j;
  if (typeof j === "string") return /^[\x00-\x7f]*$/.test(j) ? j : undefined;
  if (Array.isArray(j)) {
    const out = j.map(jsonToDevice);
    return out.every((x) => x !== undefined) ? (out as CborValue[]) : undefined;
  }
  // JSON object keys are text: only the empty map is a device value.
  if (typeof j === "object" && Object.keys(j).length === 0) return {} as CborMap;
  return undefined;
}

/** cbor-x's reading of bytes in the device model; undefined when cbor-x refuses them or the model cannot hold the value. */
function cborXValue(bytes: Uint8Array): CborValue | undefined {
  try {
    return cborXToDevice(cborXDecode(bytes));
  } catch {
    return undefined;
  }
}

/** One vector, as the tests need it. */
interface Case {
  name: string;
  bytes: Uint8Array;
  /** Inside the subset: the value it decodes to. */
  value?: CborValue;
  /** Outside: the reason code its annotation calls for. */
  expected?: number;
}

/** A well-formed vector is inside the subset when its value is a device value whose preferred encoding is the vector's bytes. */
function wellFormedCase(name: string, bytes: Uint8Array, value: CborValue | undefined): Case {
  if (value !== undefined && hex(preferredEncoding(value)) === hex(bytes)) return { name, bytes, value };
  return { name, bytes };
}

/**
 * Not-well-formed inputs whose first refusal is not the one their annotation
 * names, each for a reason of the subset:
 * - a1ff, a20000ff, 91ff: a break where an item should be, but also fewer
 *   bytes than the map or array length claims (a byte per item): "too little
 *   data" too, and the decoder checks the length before reading the items;
 * - 80ff: a complete empty array, then a byte: trailing for a one-item decoder;
 * - a2000000ff: key 0 twice, refused before the break is reached;
 * - a16161, a16161fe: a text key ("a"), refused before the missing or
 *   malformed value;
 * - 62c0ae: a text string that is not UTF-8 is not ASCII either;
 * - 5bff.., 7b7f..: lengths beyond 2^53-1, which no number can hold.
 */
const FIRST_REFUSAL: Record<string, number> = {
  a1ff: CBOR_E_INCOMPLETE,
  a20000ff: CBOR_E_INCOMPLETE,
  "91ff": CBOR_E_INCOMPLETE,
  "80ff": CBOR_E_TRAILING,
  a2000000ff: CBOR_E_KEY,
  "62c0ae": CBOR_E_TEXT,
  a16161: CBOR_E_KEY,
  a16161fe: CBOR_E_KEY,
  "5bffffffffffffffff010203": CBOR_E_RANGE,
  "7b7fffffffffffffff010203": CBOR_E_RANGE,
};

/**
 * True when reading meets an indefinite-length head (5f 7f 9f bf) or a tag
 * (c0-d7) before anything else goes wrong: the subset refuses those at
 * their head, so a defect after them (a missing break, a bad chunk) is
 * never reached. Leading definite array heads (81, 82...) are stepped over.
 */
function reachesIndefiniteOrTag(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && bytes[i] >= 0x80 && bytes[i] <= 0x97) i++;
  const b = bytes[i];
  return b === 0x5f || b === 0x7f || b === 0x9f || b === 0xbf || (b >= 0xc0 && b <= 0xd7);
}

/** The reason code a not-well-formed input should get: "too little data" is CBOR_E_INCOMPLETE, a syntax error CBOR_E_MALFORMED. */
function notWellFormedCase(name: string, bytes: Uint8Array, tooLittleData: boolean): Case {
  const expected =
    FIRST_REFUSAL[hex(bytes)] ??
    (reachesIndefiniteOrTag(bytes) ? CBOR_E_UNSUPPORTED : tooLittleData ? CBOR_E_INCOMPLETE : CBOR_E_MALFORMED);
  return { name, bytes, expected };
}

function short(h: string): string {
  return h.length > 40 ? `${h.slice(0, 40)}...(${h.length / 2} bytes)` : h;
}

/** The refusals a well-formed input outside the subset can get. */
const WELL_FORMED_REFUSALS = [CBOR_E_UNSUPPORTED, CBOR_E_NOT_PREFERRED, CBOR_E_RANGE, CBOR_E_TEXT, CBOR_E_KEY];

/** Checks one vector against decodeCbor, encodeCbor and the reference reading. */
function check(c: Case): void {
  const d = decodeCbor(c.bytes, MAX_DEPTH, MAX_LENGTH);
  const reference = referenceRefusal(c.bytes, MAX_DEPTH, MAX_LENGTH);
  if (c.value !== undefined) {
    expect(REASON[d.e]).toBe("ok");
    expect(d.v).toEqual(c.value);
    expect(hex(encodeDevice(d.v, MAX_DEPTH))).toBe(hex(c.bytes));
    expect(REASON[reference]).toBe("ok");
    return;
  }
  expect(d.v).toBeNull();
  expect(REASON[d.e]).toBe(REASON[reference]);
  if (c.expected !== undefined) expect(REASON[d.e]).toBe(REASON[c.expected]);
  else expect(WELL_FORMED_REFUSALS.map((e) => REASON[e])).toContain(REASON[d.e]);
}

function inside(cases: Case[]): number {
  return cases.filter((c) => c.value !== undefined).length;
}

// ---------------------------------------------------------------- appendix A

interface AppendixA {
  hex: string;
  roundtrip: boolean;
  decoded?: unknown;
  diagnostic?: string;
}

const appendixA: Case[] = readJson<AppendixA[]>("appendix_a.json").map((v, i) => {
  const bytes = fromHex(v.hex);
  const shown = v.diagnostic ?? JSON.stringify(v.decoded);
  const name = `#${i} ${short(v.hex)} ${shown}`;
  // f818 (simple value 24 in two bytes) is in appendix A, but RFC 8949 section 3.3 makes it not well-formed.
  if (v.hex === "f818") return notWellFormedCase(name, bytes, false);
  const value = "decoded" in v ? jsonToDevice(v.decoded) : cborXValue(bytes);
  return wellFormedCase(name, bytes, value);
});

describe("RFC 8949 appendix A examples (appendix_a.json)", () => {
  it("reads all 82 examples, 29 of them inside the subset", () => {
    // 29: the 14 integers within +-(2^53-1) (0 1 10 23 24 25 100 1000 1000000
    // 1000000000000 -1 -10 -100 -1000), false true null, "" "a" "IETF"
    // "\"\\", h'' h'01020304', [] [1, 2, 3] [1, [2, 3], [4, 5]] [1, ..., 25],
    // {} {1: 2, 3: 4}. Out: floats, tags, bignums, simple values, text beyond
    // ASCII, text keys, indefinite lengths, 2^64-1 and -2^64.
    expect(appendixA).toHaveLength(82);
    expect(inside(appendixA)).toBe(29);
  });

  for (const c of appendixA) it(c.name, () => check(c));
});

// ---------------------------------------------------------------- appendix F.1

interface NotWellFormedFile<V> {
  vectors: V[];
}

interface AppendixF {
  hex: string;
  category: string;
  kind: number;
  subkind: number | null;
}

const appendixF: Case[] = readJson<NotWellFormedFile<AppendixF>>("rfc8949_appendix_f_not_well_formed.json").vectors.map(
  (v, i) => notWellFormedCase(`#${i} ${short(v.hex)} kind ${v.kind}: ${v.category}`, fromHex(v.hex), v.kind === 2),
);

describe("RFC 8949 appendix F.1, not well-formed (rfc8949_appendix_f_not_well_formed.json)", () => {
  it("reads all 94 inputs, none inside the subset", () => {
    expect(appendixF).toHaveLength(94);
    expect(inside(appendixF)).toBe(0);
  });

  it("expects 31 of them refused as incomplete, 36 as malformed, 25 as unsupported, 2 as out of range", () => {
    // Kind 2 (too little data), 42 inputs: 29 incomplete, 11 unsupported (an
    // indefinite length or a tag is met first), 2 with a length beyond 2^53-1
    // (RANGE). Kind 3 (syntax error), 52 inputs: 36 malformed, 14 unsupported
    // (indefinite items), 2 incomplete (a1ff, a20000ff: also too short for
    // their map length).
    const count = (e: number) => appendixF.filter((c) => c.expected === e).length;
    expect([count(CBOR_E_INCOMPLETE), count(CBOR_E_MALFORMED), count(CBOR_E_UNSUPPORTED), count(CBOR_E_RANGE)]).toEqual([
      31, 36, 25, 2,
    ]);
  });

  for (const c of appendixF) it(c.name, () => check(c));
});

// ---------------------------------------------------------------- QCBOR

interface Qcbor {
  hex: string;
  comment: string;
}

/** QCBOR's comments say which inputs stop short: "missing 1 byte", "without the 1 byte", "should have 2". */
const QCBOR_TOO_LITTLE = /missing|without|should have|supposed to have|unclosed|not closed/i;

const qcbor: Case[] = readJson<NotWellFormedFile<Qcbor>>("qcbor_not_well_formed.json").vectors.map((v, i) =>
  notWellFormedCase(`#${i} ${short(v.hex)} ${v.comment}`, fromHex(v.hex), QCBOR_TOO_LITTLE.test(v.comment)),
);

describe("QCBOR's not-well-formed inputs (qcbor_not_well_formed.json)", () => {
  it("reads all 122 inputs, none inside the subset", () => {
    expect(qcbor).toHaveLength(122);
    expect(inside(qcbor)).toBe(0);
  });

  for (const c of qcbor) it(c.name, () => check(c));
});

// ---------------------------------------------------------------- CBOR WG

interface WgVector {
  file: string;
  description: string;
  fail: boolean;
  roundtrip: boolean;
  encoded_hex: string;
  decoded_cbor_hex?: string;
  decoded_json?: unknown;
}

/** The must-fail descriptions that say the input stops short: "Missing the next byte", "Only 3 bytes", "map: expected key", "1 key expecting 2". */
const WG_TOO_LITTLE = /missing|only|expected key|expecting/i;

const wgVectors: WgVector[] = readFileSync(path.join(VECTORS, "cbor_wg_vectors.jsonl"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => JSON.parse(line) as WgVector);

const wg: Case[] = wgVectors.map((v, i) => {
  const bytes = fromHex(v.encoded_hex);
  const name = `#${i} ${v.file}: ${v.description}, ${short(v.encoded_hex)}`;
  if (v.fail) return notWellFormedCase(name, bytes, WG_TOO_LITTLE.test(v.description));
  // The expected value: the JSON where JSON can hold it, else cbor-x's reading of decoded_cbor_hex.
  const json = "decoded_json" in v ? jsonToDevice(v.decoded_json) : undefined;
  const value = json ?? cborXValue(fromHex(v.decoded_cbor_hex ?? v.encoded_hex));
  return wellFormedCase(name, bytes, value);
});

describe("CBOR WG test vectors (cbor_wg_vectors.jsonl)", () => {
  it("reads all 1381 vectors: 47 must fail, 88 good, 81 appendix A, 1165 spike", () => {
    const files = (name: string) => wgVectors.filter((v) => v.file.startsWith(name)).length;
    expect(wgVectors).toHaveLength(1381);
    expect([wgVectors.filter((v) => v.fail).length, files("rfc8949/good"), files("rfc8949-appendixA/"), files("spike/")]).toEqual([
      47, 88, 81, 1165,
    ]);
  });

  it("finds 276 of them inside the subset", () => {
    // good.cbor, 11: the preferred integer edges (u8 max, s8 min, u16 max,
    // s16 min, u32 max, s32 -65537, s32 min, MAX_SAFE_INTEGER,
    // MIN_SAFE_INTEGER) and the 500-deep array and map-value nests.
    // Appendix A, 29: the same as appendix_a.json (f818 is not in this set).
    // Spike, 236: preferred, definite-length items without floats, tags,
    // bignums, text beyond ASCII or simple values other than false true null.
    const by = (name: string) => inside(wg.filter((_, i) => wgVectors[i].file.startsWith(name)));
    expect([inside(wg), by("rfc8949/bad"), by("rfc8949/good"), by("rfc8949-appendixA/"), by("spike/")]).toEqual([276, 0, 11, 29, 236]);
  });

  it("has decoded_json and cbor-x agree wherever both give a device value", () => {
    // cbor-x may read more into a device value than JSON does (a float key
    // -0.0 becomes the integer 0); where both give one, they are the same.
    let both = 0;
    wgVectors.forEach((v) => {
      if (v.fail || !("decoded_json" in v)) return;
      const json = jsonToDevice(v.decoded_json);
      const cborX = cborXValue(fromHex(v.decoded_cbor_hex ?? v.encoded_hex));
      if (json === undefined || cborX === undefined) return;
      both++;
      expect(cborX, v.description).toEqual(json);
    });
    expect(both).toBeGreaterThan(0);
  });

  for (const c of wg) it(c.name, () => check(c));
});
