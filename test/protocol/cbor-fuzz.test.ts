// decodeCbor fed 100,000 random and mutated frames per run: valid encodings
// with bytes flipped, set, inserted, deleted, truncated, extended, heads
// changed, or spliced together, and plain random bytes. The seed is fixed,
// so a run repeats; set CBOR_FUZZ_SEED to explore others. Failures name the
// seed and the input.

import { describe, expect, it } from "vitest";
import {
  CBOR_E_INCOMPLETE,
  CBOR_E_TRAILING,
  decodeCbor,
  encodeCbor,
  type CborMap,
  type CborValue,
} from "../../protocol/cbor";
import { BOUNDARY_INTEGERS, REASON, encodeDevice, hex, referenceRefusal, sizeOf } from "../support/cbor-oracle";

const SEED = Number(process.env.CBOR_FUZZ_SEED ?? 0x2b29cb0f) >>> 0;
const INPUTS = 100_000;

/** Decoder limits, one picked per input: everyday, tight, none at all, loose. */
const LIMITS: [maxDepth: number, maxLength: number][] = [
  [16, 1000],
  [2, 8],
  [0, 0],
  [64, Number.MAX_SAFE_INTEGER],
];

/** xorshift32: small, fast and the same on every machine. */
function makeRandom(seed: number) {
  let s = seed || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return { next, below: (n: number) => next() % n, chance: (percent: number) => next() % 100 < percent };
}

type Random = ReturnType<typeof makeRandom>;

/** Bytes that start or break items: heads at every argument size, reserved values, indefinite lengths, tags, simple values. */
const INTERESTING = [
  0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x37, 0x38, 0x3b, 0x40, 0x57, 0x58, 0x5b, 0x5f, 0x60, 0x61, 0x78,
  0x7b, 0x7f, 0x80, 0x81, 0x97, 0x98, 0x9b, 0x9f, 0xa0, 0xa1, 0xb8, 0xbb, 0xbf, 0xc0, 0xd8, 0xdf, 0xe0, 0xf4, 0xf5, 0xf6,
  0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xff,
];

function randomInteger(r: Random): number {
  switch (r.below(4)) {
    case 0:
      return BOUNDARY_INTEGERS[r.below(BOUNDARY_INTEGERS.length)];
    case 1:
      return r.below(61) - 30;
    case 2:
      return (r.next() | 0) + 0;
    default: {
      const n = (r.next() & 0x1fffff) * 0x100000000 + r.next();
      return r.chance(50) ? n : -n;
    }
  }
}

function randomBytes(r: Random, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r.chance(30) ? INTERESTING[r.below(INTERESTING.length)] : r.below(256);
  return b;
}

/** A device value nested at most `depth` containers deep. */
function randomValue(r: Random, depth: number): CborValue {
  switch (depth > 0 ? r.below(8) : r.below(6)) {
    case 0:
    case 1:
      return randomInteger(r);
    case 2:
      return [true, false, null][r.below(3)];
    case 3: {
      const n = r.chance(10) ? 20 + r.below(280) : r.below(12);
      let s = "";
      for (let i = 0; i < n; i++) s += String.fromCharCode(r.below(128));
      return s;
    }
    case 4:
      return randomBytes(r, r.chance(10) ? 20 + r.below(280) : r.below(12));
    case 5:
      return randomInteger(r);
    case 6:
      return Array.from({ length: r.below(6) }, () => randomValue(r, depth - 1));
    default: {
      const m: CborMap = {};
      for (let n = r.below(6); n > 0; n--) m[randomInteger(r)] = randomValue(r, depth - 1);
      return m;
    }
  }
}

/** One mutation of bytes: flip, set, truncate, extend, insert, delete, change a head, splice. */
function mutate(r: Random, b: Uint8Array, pool: Uint8Array[]): Uint8Array {
  const a = [...b];
  const at = r.below(a.length + 1);
  switch (r.below(9)) {
    case 0:
      if (at < a.length) a[at] ^= 1 << r.below(8);
      break;
    case 1:
      if (at < a.length) a[at] = r.chance(50) ? INTERESTING[r.below(INTERESTING.length)] : r.below(256);
      break;
    case 2:
      a.length = r.below(a.length + 1);
      break;
    case 3:
      a.push(...randomBytes(r, 1 + r.below(4)));
      break;
    case 4:
      a.splice(at, 0, ...randomBytes(r, 1 + r.below(4)));
      break;
    case 5:
      a.splice(at, 1 + r.below(4));
      break;
    case 6: // another major type, same argument
      if (at < a.length) a[at] = (r.below(8) << 5) | (a[at] & 31);
      break;
    case 7: // same major type, another argument size (a longer or reserved head)
      if (at < a.length) a[at] = (a[at] & 0xe0) | (r.chance(50) ? 24 + r.below(8) : r.below(24));
      break;
    default: {
      const other = pool[r.below(pool.length)];
      const from = r.below(other.length + 1);
      a.splice(at, a.length - at, ...other.subarray(from));
    }
  }
  return Uint8Array.from(a);
}

interface Input {
  bytes: Uint8Array;
  maxDepth: number;
  maxLength: number;
}

/** The inputs of a run: about 15% random bytes, the rest valid encodings with 1-3 mutations (and a few left valid). */
function makeInputs(seed: number): Input[] {
  const r = makeRandom(seed);
  const pool: Uint8Array[] = [];
  for (let i = 0; i < 400; i++) pool.push(encodeDevice(randomValue(r, 1 + r.below(4)), 64));
  const inputs: Input[] = [];
  for (let i = 0; i < INPUTS; i++) {
    let bytes: Uint8Array;
    if (r.chance(15)) bytes = randomBytes(r, r.below(17));
    else {
      bytes = pool[r.below(pool.length)];
      if (!r.chance(5)) for (let n = 1 + r.below(3); n > 0; n--) bytes = mutate(r, bytes, pool);
    }
    const [maxDepth, maxLength] = LIMITS[r.below(LIMITS.length)];
    inputs.push({ bytes, maxDepth, maxLength });
  }
  return inputs;
}

/** Runs check on every input and fails with the first few inputs it complains about. */
function expectAll(inputs: Input[], check: (input: Input) => string | null): void {
  const failures: string[] = [];
  let failed = 0;
  for (const input of inputs) {
    let why: string | null;
    try {
      why = check(input);
    } catch (e) {
      why = `threw ${String(e)}`;
    }
    if (why !== null && failed++ < 5) failures.push(`${hex(input.bytes)} (maxDepth ${input.maxDepth}, maxLength ${input.maxLength}): ${why}`);
  }
  expect(failures, `${failed} of ${inputs.length} inputs failed, CBOR_FUZZ_SEED=${SEED}`).toEqual([]);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

describe(`decodeCbor on ${INPUTS} random and mutated frames`, () => {
  const inputs = makeInputs(SEED);

  it("feeds at least 100,000 inputs, with thousands accepted and every refusal met", () => {
    const seen = new Map<number, number>();
    for (const { bytes, maxDepth, maxLength } of inputs) {
      const e = decodeCbor(bytes, maxDepth, maxLength).e;
      seen.set(e, (seen.get(e) ?? 0) + 1);
    }
    expect(inputs.length).toBeGreaterThanOrEqual(100_000);
    expect(seen.get(0) ?? 0).toBeGreaterThan(2000);
    expect([...seen.keys()].sort((a, b) => a - b).map((e) => REASON[e])).toEqual(
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((e) => REASON[e]),
    );
  });

  it("never throws, and gives either a reason code with null or a value that re-encodes to exactly the input", () => {
    expectAll(inputs, ({ bytes, maxDepth, maxLength }) => {
      const d = decodeCbor(bytes, maxDepth, maxLength);
      if (d.e !== 0) {
        if (REASON[d.e] === undefined || d.e > CBOR_E_TRAILING) return `unknown reason code ${d.e}`;
        return d.v === null ? null : `refused with ${REASON[d.e]} but gave a value`;
      }
      const out = new Uint8Array(bytes.length);
      const end = encodeCbor(d.v, out, 0, maxDepth);
      if (end !== bytes.length || hex(out) !== hex(bytes)) return `accepted, but re-encodes to ${end < 0 ? REASON[-end] : hex(out.subarray(0, end))}`;
      return null;
    });
  });

  it("decodes no more items and string bytes than the input holds", () => {
    expectAll(inputs, ({ bytes, maxDepth, maxLength }) => {
      const d = decodeCbor(bytes, maxDepth, maxLength);
      return d.e === 0 && sizeOf(d.v) > bytes.length ? `decoded ${sizeOf(d.v)} items and bytes from ${bytes.length} bytes` : null;
    });
  });

  it("accepts exactly the inputs the reference reading of the subset accepts", () => {
    expectAll(inputs, ({ bytes, maxDepth, maxLength }) => {
      const e = decodeCbor(bytes, maxDepth, maxLength).e;
      const reference = referenceRefusal(bytes, maxDepth, maxLength);
      return (e === 0) === (reference === 0) ? null : `gave ${REASON[e]}, the reference ${REASON[reference]}`;
    });
  });

  it("keeps a refusal other than CBOR_E_INCOMPLETE whatever bytes follow; gives CBOR_E_TRAILING after an accepted item, and CBOR_E_INCOMPLETE for its prefixes", () => {
    const r = makeRandom(SEED ^ 0x9e3779b9);
    expectAll(inputs, ({ bytes, maxDepth, maxLength }) => {
      const e = decodeCbor(bytes, maxDepth, maxLength).e;
      const more = concat(bytes, randomBytes(r, 1 + r.below(8)));
      const after = decodeCbor(more, maxDepth, maxLength).e;
      if (e === 0 && after !== CBOR_E_TRAILING) return `accepted, but with more bytes gave ${REASON[after]}`;
      if (e !== 0 && e !== CBOR_E_INCOMPLETE && after !== e) return `gave ${REASON[e]}, with more bytes ${REASON[after]}`;
      if (e === 0 && bytes.length > 0) {
        const prefix = decodeCbor(bytes.subarray(0, r.below(bytes.length)), maxDepth, maxLength).e;
        if (prefix !== CBOR_E_INCOMPLETE) return `accepted, but a prefix gave ${REASON[prefix]}`;
      }
      return null;
    });
  });

  it("gives the reason code of the reference reading of the subset", () => {
    expectAll(inputs, ({ bytes, maxDepth, maxLength }) => {
      const e = decodeCbor(bytes, maxDepth, maxLength).e;
      const reference = referenceRefusal(bytes, maxDepth, maxLength);
      return e === reference ? null : `gave ${REASON[e]}, the reference ${REASON[reference]}`;
    });
  });
});
