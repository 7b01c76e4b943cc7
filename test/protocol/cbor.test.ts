// protocol/cbor.ts: the preferred serialization (RFC 8949 section 4.2.1) of
// the device value model, and a decoder that accepts exactly that and
// refuses everything else with a reason code, never a throw.
// Vectors: cbor-vectors.test.ts. Random and mutated frames: cbor-fuzz.test.ts.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CBOR_E_DEPTH,
  CBOR_E_FULL,
  CBOR_E_INCOMPLETE,
  CBOR_E_KEY,
  CBOR_E_LENGTH,
  CBOR_E_MALFORMED,
  CBOR_E_NOT_PREFERRED,
  CBOR_E_RANGE,
  CBOR_E_TEXT,
  CBOR_E_TRAILING,
  CBOR_E_TYPE,
  CBOR_E_UNSUPPORTED,
  decodeCbor,
  encodeCbor,
  type CborMap,
  type CborValue,
} from "../../protocol/cbor";
import {
  BOUNDARY_INTEGERS,
  MAX_INT,
  REASON,
  arbAsciiString,
  arbCborValue,
  arbDeviceInteger,
  cborXDecode,
  cborXEncode,
  cborXToDevice,
  deviceToCborX,
  encodeDevice,
  fromHex,
  hex,
  preferredEncoding,
  referenceRefusal,
} from "../support/cbor-oracle";

/** Limits for the tests that are not about limits: deep and long enough for every value used here. */
const DEPTH = 16;
const LENGTH = 100_000;

/** The reason decodeCbor gives for these bytes, by name ("ok" when accepted), so failures read well. */
function refusal(bytes: string | Uint8Array, maxDepth = DEPTH, maxLength = LENGTH): string {
  const d = decodeCbor(typeof bytes === "string" ? fromHex(bytes) : bytes, maxDepth, maxLength);
  if (d.e !== 0) expect(d.v).toBeNull();
  return REASON[d.e] ?? `unknown code ${d.e}`;
}

/** The value decodeCbor reads from these bytes, failing the test when it refuses them. */
function decoded(bytes: string | Uint8Array, maxDepth = DEPTH, maxLength = LENGTH): CborValue {
  const d = decodeCbor(typeof bytes === "string" ? fromHex(bytes) : bytes, maxDepth, maxLength);
  expect(REASON[d.e]).toBe("ok");
  return d.v;
}

/** The reason encodeCbor gives for a value, by name ("ok" when it fits and is encoded). */
function encodeRefusal(v: unknown, maxDepth = DEPTH, size = 1 << 16): string {
  const end = encodeCbor(v as CborValue, new Uint8Array(size), 0, maxDepth);
  return end >= 0 ? "ok" : (REASON[-end] ?? `unknown code ${end}`);
}

function nestArrays(depth: number): CborValue {
  return depth === 0 ? 0 : [nestArrays(depth - 1)];
}

function nestMaps(depth: number): CborValue {
  return depth === 0 ? 0 : { 1: nestMaps(depth - 1) };
}

function mapOfSize(n: number): CborMap {
  const m: CborMap = {};
  for (let k = 0; k < n; k++) m[k] = 0;
  return m;
}

/** A Uint8Array that counts reads of its elements and records writes outside it (typed arrays drop those silently). */
function watched(bytes: Uint8Array) {
  const seen = { reads: 0, writesOutside: [] as number[] };
  const proxy = new Proxy(bytes, {
    get(target, key) {
      if (typeof key === "string" && /^-?\d+$/.test(key)) seen.reads++;
      const v = Reflect.get(target, key);
      return typeof v === "function" ? v.bind(target) : v;
    },
    set(target, key, value) {
      if (typeof key === "string" && /^-?\d+$/.test(key) && (Number(key) < 0 || Number(key) >= target.length)) {
        seen.writesOutside.push(Number(key));
      }
      return Reflect.set(target, key, value);
    },
  });
  return { bytes: proxy, seen };
}

describe("shortest heads (RFC 8949 section 4.2.1)", () => {
  const integers: [number, string][] = [
    [0, "00"],
    [23, "17"],
    [24, "1818"],
    [255, "18ff"],
    [256, "190100"],
    [65535, "19ffff"],
    [65536, "1a00010000"],
    [2 ** 32 - 1, "1affffffff"],
    [2 ** 32, "1b0000000100000000"],
    [MAX_INT, "1b001fffffffffffff"],
    [-1, "20"],
    [-24, "37"],
    [-25, "3818"],
    [-256, "38ff"],
    [-257, "390100"],
    [-65536, "39ffff"],
    [-65537, "3a00010000"],
    [-(2 ** 32), "3affffffff"],
    [-(2 ** 32) - 1, "3b0000000100000000"],
    [-MAX_INT, "3b001ffffffffffffe"],
  ];

  it.each(integers)("writes %d as %s and reads it back", (n, bytes) => {
    expect(hex(encodeDevice(n))).toBe(bytes);
    expect(decoded(bytes)).toBe(n);
  });

  it("writes -0 as 0", () => {
    expect(hex(encodeDevice(-0))).toBe("00");
  });

  /** n, the additional information of its head, and the argument bytes that follow. */
  const lengths: [number, number, string][] = [
    [0, 0, ""],
    [23, 23, ""],
    [24, 24, "18"],
    [255, 24, "ff"],
    [256, 25, "0100"],
    [65535, 25, "ffff"],
    [65536, 26, "00010000"],
  ];
  const containers: [string, number, (n: number) => CborValue][] = [
    ["a byte string", 2, (n) => new Uint8Array(n).fill(7)],
    ["a text string", 3, (n) => "x".repeat(n)],
    ["an array", 4, (n) => new Array<CborValue>(n).fill(true)],
    ["a map", 5, mapOfSize],
  ];
  for (const [kind, major, make] of containers) {
    it.each(lengths)(`writes the length of ${kind} of %d items in the shortest head and reads it back`, (n, ai, argument) => {
      const v = make(n);
      const head = hex(Uint8Array.of((major << 5) | ai)) + argument;
      const bytes = encodeDevice(v);
      expect(hex(bytes.subarray(0, head.length / 2))).toBe(head);
      expect(decoded(bytes)).toEqual(v);
    });
  }

  const longer: [string, string][] = [
    ["1817", "23 in a one-byte argument"],
    ["1900ff", "255 in a two-byte argument"],
    ["1a0000ffff", "65535 in a four-byte argument"],
    ["1b00000000ffffffff", "2^32-1 in an eight-byte argument"],
    ["1b0000000000000000", "0 in an eight-byte argument"],
    ["3817", "-24 in a one-byte argument"],
    ["3900ff", "-256 in a two-byte argument"],
    ["3a0000ffff", "-65536 in a four-byte argument"],
    ["3b00000000ffffffff", "-2^32 in an eight-byte argument"],
    ["5800", "an empty byte string with a one-byte length"],
    ["7800", "an empty text string with a one-byte length"],
    ["9800", "an empty array with a one-byte length"],
    ["b800", "an empty map with a one-byte length"],
    ["5900ff", "a byte string of 255 with a two-byte length, before its bytes are there"],
    ["81 1817", "a longer head inside an array"],
    ["a1 1800 00", "a longer head in a map key"],
  ];
  it.each(longer)("refuses %s (%s) with CBOR_E_NOT_PREFERRED", (bytes) => {
    expect(refusal(bytes)).toBe(REASON[CBOR_E_NOT_PREFERRED]);
  });

  it("accepts the smallest argument of each head size: 24, 256, 65536, 2^32", () => {
    expect(decoded("1818")).toBe(24);
    expect(decoded("190100")).toBe(256);
    expect(decoded("1a00010000")).toBe(65536);
    expect(decoded("1b0000000100000000")).toBe(2 ** 32);
    expect(decoded("3b0000000100000000")).toBe(-(2 ** 32) - 1);
  });
});

describe("integer range", () => {
  it("reads +-(2^53-1), the ends of the model", () => {
    expect(decoded("1b001fffffffffffff")).toBe(MAX_INT);
    expect(decoded("3b001ffffffffffffe")).toBe(-MAX_INT);
  });

  it.each(["1b0020000000000000", "1bffffffffffffffff", "3b001fffffffffffff", "3bffffffffffffffff", "81 1b0020000000000000"])(
    "refuses %s, beyond 2^53-1, with CBOR_E_RANGE",
    (bytes) => {
      expect(refusal(bytes)).toBe(REASON[CBOR_E_RANGE]);
    },
  );

  it.each([2 ** 53, -(2 ** 53), 2 ** 64, -(2 ** 64), 1e300, Infinity, -Infinity])("will not write %d: CBOR_E_RANGE", (n) => {
    expect(encodeRefusal(n)).toBe(REASON[CBOR_E_RANGE]);
  });
});

describe("text strings are ASCII", () => {
  it("reads every ASCII character, 0x00 to 0x7f", () => {
    const all = String.fromCharCode(...Array.from({ length: 128 }, (_, i) => i));
    expect(decoded(encodeDevice(all))).toBe(all);
    expect(hex(encodeDevice("\x7f"))).toBe("617f");
  });

  it.each(["6180", "61ff", "62c3bc", "64f09f9880", "82 6161 6180"])("refuses text %s with a byte beyond 0x7f: CBOR_E_TEXT", (bytes) => {
    expect(refusal(bytes)).toBe(REASON[CBOR_E_TEXT]);
  });

  it.each(["\u0080", "\u00fc", "\u6c34", "\ud83d\ude00", "abc\u00ff"])("will not write %j: CBOR_E_TEXT", (s) => {
    expect(encodeRefusal(s)).toBe(REASON[CBOR_E_TEXT]);
    expect(encodeRefusal([1, { 2: s }])).toBe(REASON[CBOR_E_TEXT]);
  });
});

describe("map keys", () => {
  it("reads integer keys in the bytewise order of their encodings: positive ascending, then -1, -2...", () => {
    // keys 0 23 24 255 256 -1 -24 -25 -256 -257
    expect(decoded("aa 00f4 17f4 1818f4 18fff4 190100f4 20f4 37f4 3818f4 38fff4 390100f5")).toEqual({
      0: false,
      23: false,
      24: false,
      255: false,
      256: false,
      [-1]: false,
      [-24]: false,
      [-25]: false,
      [-256]: false,
      [-257]: true,
    });
  });

  const refused: [string, string][] = [
    ["a2 0200 0100", "2 before 1"],
    ["a2 1818 00 17 00", "24 before 23"],
    ["a2 190100 00 18ff 00", "256 before 255"],
    ["a2 20 00 00 00", "-1 before 0"],
    ["a2 21 00 20 00", "-2 before -1"],
    ["a2 0100 0100", "1 twice"],
    ["a3 00 00 20 00 20 00", "-1 twice"],
    ["a1 6161 00", "a text key"],
    ["a1 4100 00", "a byte string key"],
    ["a1 f5 00", "true as a key"],
    ["a1 f6 00", "null as a key"],
    ["81 a2 0200 0100", "2 before 1 in a nested map"],
  ];
  it.each(refused)("refuses %s (%s) with CBOR_E_KEY", (bytes) => {
    expect(refusal(bytes)).toBe(REASON[CBOR_E_KEY]);
  });

  // protocol/cbor.ts reads a key with depth 0, so a container there is
  // refused as too deep (CBOR_E_DEPTH) rather than as a key that is not an
  // integer; the WG vectors "Map: interesting keys" and "map: deeply-nested
  // key" meet the same.
  it.each([
    ["a1 80 00", "an empty array"],
    ["a1 a0 00", "an empty map"],
    ["a1 8101 00", "an array"],
  ])("refuses %s, a map whose key is %s, with CBOR_E_KEY", (bytes) => {
    expect(refusal(bytes)).toBe(REASON[CBOR_E_KEY]);
  });

  it("writes keys in encoded order whatever order they were set in: positive ascending, then -1 before -2", () => {
    const keys = [-257, 256, -1, 0, 2 ** 32, -25, 24, -(2 ** 32) - 1, 23, -24, 255, -256, MAX_INT, -MAX_INT];
    const forward: CborMap = {};
    const backward: CborMap = {};
    keys.forEach((k, i) => (forward[k] = i));
    [...keys].reverse().forEach((k) => (backward[k] = forward[k]));
    // key value: 0 23 24 255 256 2^32 2^53-1, then -1 -24 -25 -256 -257 -2^32-1 -(2^53-1)
    const expected = hex(
      fromHex(`ae 00 03  17 08  1818 06  18ff 0a  190100 01  1b0000000100000000 04  1b001fffffffffffff 0c
                 20 02  37 09  3818 05  38ff 0b  390100 00  3b0000000100000000 07  3b001ffffffffffffe 0d`),
    );
    expect(hex(encodeDevice(forward))).toBe(expected);
    expect(hex(encodeDevice(backward))).toBe(expected);
  });

  it.each([{ a: 1 }, { "1.5": 0 }, { "01": 0 }, { "-0": 0 }, { " 1": 0 }, { "1e3": 0 }, { "9007199254740992": 0 }, { "": 0 }])(
    "will not write the key of %j: CBOR_E_KEY",
    (m) => {
      expect(encodeRefusal(m)).toBe(REASON[CBOR_E_KEY]);
      expect(encodeRefusal([{ 1: m }])).toBe(REASON[CBOR_E_KEY]);
    },
  );
});

describe("depth limit", () => {
  it.each([0, 1, 2, 5, 16])("reads and writes maxDepth (%d) nested arrays or maps, and refuses one more with CBOR_E_DEPTH", (maxDepth) => {
    for (const nest of [nestArrays, nestMaps]) {
      const ok = nest(maxDepth);
      const deeper = nest(maxDepth + 1);
      expect(decoded(encodeDevice(ok, maxDepth), maxDepth)).toEqual(ok);
      expect(encodeRefusal(ok, maxDepth)).toBe("ok");
      expect(refusal(encodeDevice(deeper, maxDepth + 1), maxDepth)).toBe(REASON[CBOR_E_DEPTH]);
      expect(encodeRefusal(deeper, maxDepth)).toBe(REASON[CBOR_E_DEPTH]);
    }
  });

  it("counts empty containers: [[]] is two deep", () => {
    expect(refusal("8180", 1)).toBe(REASON[CBOR_E_DEPTH]);
    expect(decoded("8180", 2)).toEqual([[]]);
    expect(encodeRefusal([[]], 1)).toBe(REASON[CBOR_E_DEPTH]);
    expect(refusal("a1 01 a0", 1)).toBe(REASON[CBOR_E_DEPTH]);
  });

  it("reads scalars with maxDepth 0, and no container", () => {
    expect(decoded("6161", 0)).toBe("a");
    expect(refusal("80", 0)).toBe(REASON[CBOR_E_DEPTH]);
    expect(refusal("a0", 0)).toBe(REASON[CBOR_E_DEPTH]);
  });
});

describe("length limit", () => {
  const kinds: [string, (n: number) => CborValue][] = [
    ["a byte string of", (n) => new Uint8Array(n)],
    ["a text string of", (n) => "a".repeat(n)],
    ["an array of", (n) => new Array<CborValue>(n).fill(0)],
    ["a map of", mapOfSize],
  ];
  for (const [kind, make] of kinds) {
    it.each([0, 1, 23, 24, 300])(`reads ${kind} maxLength (%d) items, and refuses one more with CBOR_E_LENGTH`, (maxLength) => {
      expect(decoded(encodeDevice(make(maxLength)), DEPTH, maxLength)).toEqual(make(maxLength));
      expect(refusal(encodeDevice(make(maxLength + 1)), DEPTH, maxLength)).toBe(REASON[CBOR_E_LENGTH]);
    });
  }

  it("refuses a length over the limit at its head, before its bytes are there", () => {
    expect(refusal("5a ffffffff", DEPTH, 100)).toBe(REASON[CBOR_E_LENGTH]);
    expect(refusal("9b 001fffffffffffff", DEPTH, 100)).toBe(REASON[CBOR_E_LENGTH]);
    expect(refusal("81 8218", DEPTH, 1)).toBe(REASON[CBOR_E_LENGTH]);
  });
});

describe("incomplete input", () => {
  it.each(["9b 001fffffffffffff", "bb 001fffffffffffff", "5b 001fffffffffffff", "7b 001fffffffffffff", "9a ffffffff 00", "81 9b 001fffffffffffff 0102"])(
    "gives CBOR_E_INCOMPLETE for %s at once, reading each input byte at most once, even with no length limit",
    (h) => {
      const input = watched(fromHex(h));
      const d = decodeCbor(input.bytes, DEPTH, MAX_INT);
      expect(REASON[d.e]).toBe(REASON[CBOR_E_INCOMPLETE]);
      expect(d.v).toBeNull();
      expect(input.seen.reads).toBeLessThanOrEqual(fromHex(h).length);
    },
  );

  const samples: CborValue[] = [
    0,
    MAX_INT,
    -MAX_INT,
    "IETF",
    Uint8Array.of(1, 2, 3, 4),
    [1, [2, 3], [4, 5]],
    { 1: 2, 3: [4, { [-5]: "six" }], [-7]: new Uint8Array(30) },
    "x".repeat(300),
    new Array<CborValue>(30).fill(null),
  ];
  it.each(samples.map((v) => [v]))("gives CBOR_E_INCOMPLETE for every proper prefix of the encoding of %j", (v) => {
    const bytes = encodeDevice(v);
    for (let n = 0; n < bytes.length; n++) expect([n, refusal(bytes.subarray(0, n))]).toEqual([n, REASON[CBOR_E_INCOMPLETE]]);
  });

  it.each(["18", "19 01", "1a 0102", "1b 01020304050607", "38", "d8", "f8", "f9 00", "fa 0000", "fb 000000", "42 01", "63 6161", "82 01", "a1 01", "a2 01 02 03"])(
    "gives CBOR_E_INCOMPLETE for %s, which stops inside an item",
    (bytes) => {
      expect(refusal(bytes)).toBe(REASON[CBOR_E_INCOMPLETE]);
    },
  );

  it("gives CBOR_E_INCOMPLETE for no bytes at all", () => {
    expect(refusal("")).toBe(REASON[CBOR_E_INCOMPLETE]);
  });
});

describe("what the subset leaves out", () => {
  const unsupported: [string, string][] = [
    ["f7", "undefined"],
    ["e0", "simple value 0"],
    ["f3", "simple value 19"],
    ["f820", "simple value 32"],
    ["f8ff", "simple value 255"],
    ["f90000", "a half float"],
    ["fa3f800000", "a single float 1.0"],
    ["fb0000000000000000", "a double"],
    ["c0 6161", "a tag"],
    ["c0", "a tag, before its content"],
    ["d818 40", "a tag with a one-byte number"],
    ["5f ff", "an indefinite byte string"],
    ["7f ff", "an indefinite text string"],
    ["9f ff", "an indefinite array"],
    ["bf ff", "an indefinite map"],
    ["82 01 f7", "undefined inside an array"],
    ["a1 f93c00 00", "a float key"],
  ];
  it.each(unsupported)("refuses %s (%s) with CBOR_E_UNSUPPORTED", (bytes) => {
    expect(refusal(bytes)).toBe(REASON[CBOR_E_UNSUPPORTED]);
  });

  const malformed: [string, string][] = [
    ["1c", "additional information 28"],
    ["5d", "additional information 29"],
    ["be", "additional information 30"],
    ["fc", "additional information 28 in major type 7"],
    ["1f", "an indefinite unsigned integer"],
    ["3f", "an indefinite negative integer"],
    ["df", "an indefinite tag"],
    ["ff", "a break on its own"],
    ["81 ff", "a break in a definite array"],
    ["f800", "a two-byte simple value 0"],
    ["f818", "a two-byte simple value 24"],
    ["f81f", "a two-byte simple value 31"],
  ];
  it.each(malformed)("refuses %s (%s) with CBOR_E_MALFORMED", (bytes) => {
    expect(refusal(bytes)).toBe(REASON[CBOR_E_MALFORMED]);
  });

  it("reads false, true and null", () => {
    expect([decoded("f4"), decoded("f5"), decoded("f6")]).toEqual([false, true, null]);
    expect(hex(encodeDevice([false, true, null]))).toBe("83f4f5f6");
  });
});

describe("one item fills the input", () => {
  it.each(["00 00", "80 00", "a0 ff", "6161 61", "8101 01", "f6 f6"])("refuses %s, an item and more, with CBOR_E_TRAILING", (bytes) => {
    expect(refusal(bytes)).toBe(REASON[CBOR_E_TRAILING]);
  });
});

describe("decoded values", () => {
  it("gives byte strings as views into the input, not copies", () => {
    const input = fromHex("82 43010203 40");
    const v = decoded(input) as Uint8Array[];
    expect(v[0].buffer).toBe(input.buffer);
    expect([...v[0]]).toEqual([1, 2, 3]);
    expect(v[1].length).toBe(0);
  });

  it("gives maps as plain objects with integer keys", () => {
    const v = decoded("a2 01 02 20 03");
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(v).toEqual({ 1: 2, [-1]: 3 });
  });
});

describe("encoder", () => {
  const notEncodable: [unknown, string][] = [
    [1.5, "a fraction"],
    [-0.5, "a negative fraction"],
    [0.1, "a tenth"],
    [NaN, "NaN"],
    [undefined, "undefined"],
    [() => 1, "a function"],
    [Symbol("s"), "a symbol"],
    [10n, "a BigInt"],
    [[1, 0.5], "a fraction in an array"],
    [{ 1: NaN }, "NaN in a map"],
    [[1, undefined], "undefined in an array"],
    // eslint-disable-next-line no-sparse-arrays
    [[, 1], "a hole in an array"],
  ];
  it.each(notEncodable)("will not write %s (%s): CBOR_E_TYPE", (v) => {
    expect(encodeRefusal(v)).toBe(REASON[CBOR_E_TYPE]);
  });

  it("writes from the offset it is given and returns the offset after the item", () => {
    const out = new Uint8Array(8).fill(0xee);
    expect(encodeCbor([1, "a"], out, 3, DEPTH)).toBe(7);
    expect(hex(out)).toBe("eeeeee82016161ee");
  });

  const samples: CborValue[] = [
    0,
    24,
    65536,
    MAX_INT,
    -MAX_INT,
    "IETF",
    "x".repeat(30),
    new Uint8Array(300),
    [1, [2, 3]],
    { 1: 2, [-3]: [4, "five"] },
    [new Array<CborValue>(24).fill(null)],
  ];
  it.each(samples.map((v) => [v]))("gives CBOR_E_FULL for %j in a buffer of every size too small, and never writes past it", (v) => {
    const bytes = encodeDevice(v);
    for (let size = 0; size < bytes.length; size++) {
      for (const at of [0, 2]) {
        const out = watched(new Uint8Array(at + size));
        expect([size, at, encodeCbor(v, out.bytes, at, DEPTH)]).toEqual([size, at, -CBOR_E_FULL]);
        expect(out.seen.writesOutside).toEqual([]);
      }
    }
    const exact = new Uint8Array(bytes.length);
    expect(encodeCbor(v, exact, 0, DEPTH)).toBe(bytes.length);
    expect(hex(exact)).toBe(hex(bytes));
  });
});

describe("properties", () => {
  const value = arbCborValue();

  it("decodes every encoding to the value encoded", () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(decoded(encodeDevice(v))).toEqual(v);
      }),
      { numRuns: 500 },
    );
  });

  it("writes the bytes cbor-x writes with preferred-encoding options", () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(hex(encodeDevice(v))).toBe(hex(preferredEncoding(v)));
      }),
      { numRuns: 500 },
    );
  });

  it("writes what cbor-x reads as the same value", () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(cborXToDevice(cborXDecode(encodeDevice(v)))).toEqual(v);
      }),
      { numRuns: 500 },
    );
  });

  it("writes every integer of the model as cbor-x does, given integers beyond 32 bits as BigInt", () => {
    fc.assert(
      fc.property(arbDeviceInteger(), (n) => {
        expect(hex(encodeDevice(n))).toBe(hex(cborXEncode(deviceToCborX(n))));
      }),
      { numRuns: 2000 },
    );
    for (const n of BOUNDARY_INTEGERS) expect(hex(encodeDevice(n))).toBe(hex(preferredEncoding(n)));
  });

  it("re-encodes any bytes it accepts to the same bytes", () => {
    // Encodings with one byte changed and bytes inserted, and raw bytes.
    const near = fc
      .tuple(value, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), fc.uint8Array({ maxLength: 3 }))
      .map(([v, at, byte, insertAt, inserted]) => {
        const bytes = [...encodeDevice(v)];
        bytes[at % bytes.length] = byte;
        bytes.splice(insertAt % (bytes.length + 1), 0, ...inserted);
        return Uint8Array.from(bytes);
      });
    fc.assert(
      fc.property(fc.oneof(near, fc.uint8Array({ maxLength: 12 })), (bytes) => {
        const d = decodeCbor(bytes, DEPTH, LENGTH);
        expect(d.e === 0).toBe(referenceRefusal(bytes, DEPTH, LENGTH) === 0);
        if (d.e === 0) expect(hex(encodeDevice(d.v))).toBe(hex(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it("reads every value cbor-x writes inside the subset, and refuses the rest", () => {
    const cborXLeaf = fc.oneof(
      arbDeviceInteger(),
      fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n - 1n }),
      fc.bigInt({ min: -300n, max: 300n }),
      fc.constantFrom(2 ** 53, -(2 ** 53), 2 ** 64, 0.5, -0, 1e300),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      arbAsciiString(),
      fc.string({ unit: "binary", maxLength: 8 }),
      fc.uint8Array({ maxLength: 30 }),
    );
    const { x } = fc.letrec<{ x: unknown }>((tie) => ({
      x: fc.oneof(
        { maxDepth: 3, depthIdentifier: "cbor-x" },
        cborXLeaf,
        fc.array(tie("x"), { maxLength: 5, depthIdentifier: "cbor-x" }),
        fc
          .array(fc.tuple(fc.oneof(arbDeviceInteger(), fc.bigInt({ min: -5n, max: 5n }), arbAsciiString(4), fc.double()), tie("x")), {
            maxLength: 5,
            depthIdentifier: "cbor-x",
          })
          .map((entries) => new Map(entries)),
      ),
    }));
    fc.assert(
      fc.property(x, (v) => {
        const bytes = cborXEncode(v);
        let expected: CborValue | undefined;
        try {
          expected = cborXToDevice(cborXDecode(bytes));
        } catch {
          expected = undefined;
        }
        const d = decodeCbor(bytes, DEPTH, LENGTH);
        if (expected !== undefined && hex(preferredEncoding(expected)) === hex(bytes)) {
          expect(REASON[d.e]).toBe("ok");
          expect(d.v).toEqual(expected);
        } else {
          expect(REASON[d.e]).not.toBe("ok");
          expect(d.v).toBeNull();
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("gives CBOR_E_INCOMPLETE for every proper prefix of every encoding", () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encodeDevice(v);
        for (let n = 0; n < bytes.length; n++) expect(refusal(bytes.subarray(0, n))).toBe(REASON[CBOR_E_INCOMPLETE]);
      }),
      { numRuns: 300 },
    );
  });

  it("gives CBOR_E_TRAILING for every encoding followed by more bytes", () => {
    fc.assert(
      fc.property(value, fc.uint8Array({ minLength: 1, maxLength: 4 }), (v, more) => {
        const bytes = encodeDevice(v);
        const longer = new Uint8Array(bytes.length + more.length);
        longer.set(bytes);
        longer.set(more, bytes.length);
        expect(refusal(longer)).toBe(REASON[CBOR_E_TRAILING]);
      }),
      { numRuns: 500 },
    );
  });

  it("gives CBOR_E_FULL for every encoding in a buffer one byte short", () => {
    fc.assert(
      fc.property(value, (v) => {
        const bytes = encodeDevice(v);
        expect(encodeCbor(v, new Uint8Array(bytes.length - 1), 0, DEPTH)).toBe(-CBOR_E_FULL);
      }),
      { numRuns: 500 },
    );
  });
});
