// The envelope on the host side (docs/protocol.md sections 2 and 3), with
// cbor-x for CBOR and node:crypto for the HMAC, so that the reference
// server is a second, independent implementation of what protocol/envelope.ts
// does on the device: a frame sealed here opens there and the other way
// round, byte for byte the same for the same seq, time and body.
//
// cbor-x is told to write the preferred serialization (RFC 8949 section
// 4.2.1); test/support/cbor-oracle.ts explains each option. Integers of
// 2^32 and more go to cbor-x as BigInt (a number would become a float64),
// and maps as a Map with the keys in the bytewise order of their encodings.
// Decoding gives BigInt for 8-byte heads and Buffers for byte strings; both
// are normalised to the device's value model (protocol/cbor.ts).
//
// cbor-x reads more than the subset (floats, tags, indefinite lengths,
// longer heads than needed). What it reads is held to the subset by value
// (toDevice) and then by bytes: the frame must be exactly the preferred
// encoding of the value it decodes to, as a device encoder would write it.

import { Decoder, Encoder, type Options } from "cbor-x";
import { createHmac, timingSafeEqual } from "node:crypto";
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
  CBOR_MAX_INT,
  type CborMap,
  type CborValue,
} from "../../protocol/cbor";
import { MAC_BYTES, PROTOCOL_VERSION, type Envelope } from "../../protocol/envelope";
import { E_ENVELOPE, E_MAC, E_REPLAY, E_TYPE, E_VERSION, isKnownType, isUp, validateBody, type Limits } from "../../protocol/messages";

/**
 * Nesting and length limits of every message: protocol/envelope.ts's
 * MAX_DEPTH and MAX_LENGTH (not exported there), docs/protocol.md section 3.
 */
export const MAX_DEPTH = 5;
export const MAX_LENGTH = 320;
/** The largest frame the server decodes; larger ones are refused as CBOR_E_LENGTH before cbor-x sees them. */
export const MAX_FRAME_BYTES = 4096;

/** cbor-x options for the preferred serialization (test/support/cbor-oracle.ts has the reasons). */
const ENCODER_OPTIONS: Options & { useTag259ForMaps: boolean } = {
  useRecords: false,
  variableMapSize: true,
  tagUint8Array: false,
  useTag259ForMaps: false,
  mapsAsObjects: false,
};
/** Maps come back as Map, so integer keys stay integers. */
const DECODER_OPTIONS: Options = { useRecords: false, mapsAsObjects: false };

const TWO_32 = 0x100000000;

// One encoder and one decoder for the module: cbor-x works synchronously and
// encodeItem copies its output before the next call can overwrite it.
const encoder = new Encoder(ENCODER_OPTIONS);
const decoder = new Decoder(DECODER_OPTIONS);

/** A refusal while reading a value: the reason code. */
class Refused {
  constructor(readonly e: number) {}
}

/**
 * A device value as cbor-x must be given it to write the preferred
 * encoding: integers beyond 32 bits as BigInt, maps as Map with keys in
 * encoded order (non-negative ascending, then negative descending), byte
 * strings as plain Uint8Array.
 */
function toCborX(v: CborValue): unknown {
  if (typeof v === "number") return v >= -TWO_32 && v < TWO_32 ? v : BigInt(v);
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(toCborX);
  const keys = Object.keys(v).map(Number);
  keys.sort((a, b) => (a >= 0 && b >= 0 ? a - b : a >= 0 ? -1 : b >= 0 ? 1 : b - a));
  return new Map(keys.map((k) => [toCborX(k), toCborX((v as CborMap)[k])]));
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function safeInt(n: number | bigint): number {
  if (typeof n === "bigint") {
    if (n > BigInt(CBOR_MAX_INT) || n < -BigInt(CBOR_MAX_INT)) throw new Refused(CBOR_E_RANGE);
    return Number(n);
  }
  if (!Number.isInteger(n)) throw new Refused(CBOR_E_UNSUPPORTED);
  if (Math.abs(n) > CBOR_MAX_INT) throw new Refused(CBOR_E_RANGE);
  return n + 0;
}

/** cbor-x's reading in the device model, within the depth and length limits; throws Refused. */
function toDevice(v: unknown, depth: number): CborValue {
  if (typeof v === "number" || typeof v === "bigint") return safeInt(v);
  if (v === null || typeof v === "boolean") return v;
  if (typeof v === "string") {
    if (v.length > MAX_LENGTH) throw new Refused(CBOR_E_LENGTH);
    if (!isAscii(v)) throw new Refused(CBOR_E_TEXT);
    return v;
  }
  if (v instanceof Uint8Array) {
    if (v.length > MAX_LENGTH) throw new Refused(CBOR_E_LENGTH);
    return Uint8Array.from(v);
  }
  if (Array.isArray(v)) {
    if (depth < 1) throw new Refused(CBOR_E_DEPTH);
    if (v.length > MAX_LENGTH) throw new Refused(CBOR_E_LENGTH);
    return v.map((x) => toDevice(x, depth - 1));
  }
  if (v instanceof Map) {
    if (depth < 1) throw new Refused(CBOR_E_DEPTH);
    if (v.size > MAX_LENGTH) throw new Refused(CBOR_E_LENGTH);
    const m: CborMap = {};
    for (const [k, x] of v) {
      if (typeof k !== "number" && typeof k !== "bigint") throw new Refused(CBOR_E_KEY);
      m[safeInt(k)] = toDevice(x, depth - 1);
    }
    return m;
  }
  // undefined, tags (Date, Tag, typed arrays of tags 64-87, ...), other simple values.
  throw new Refused(CBOR_E_UNSUPPORTED);
}

/** The preferred encoding of a device value, in a fresh Uint8Array (cbor-x reuses its output buffer). */
export function encodeItem(v: CborValue): Uint8Array {
  return new Uint8Array(encoder.encode(toCborX(v)));
}

/** What decodeItem gives: the value, or the reason (e > 0) it was refused. */
export interface Decoded {
  v: CborValue;
  e: number;
}

/**
 * One item that fills bytes, in the device model, refused unless the bytes
 * are exactly its preferred encoding. Never throws. The reason codes are
 * the device decoder's; where cbor-x only says "not this value's encoding"
 * (a float 1.0, an indefinite length, a longer head, unsorted keys) the
 * reason is CBOR_E_NOT_PREFERRED.
 */
export function decodeItem(bytes: Uint8Array): Decoded {
  if (bytes.length > MAX_FRAME_BYTES) return { v: null, e: CBOR_E_LENGTH };
  let raw: unknown;
  try {
    raw = decoder.decode(bytes);
  } catch (err) {
    const e = err as { incomplete?: boolean; message?: string };
    if (e.incomplete) return { v: null, e: CBOR_E_INCOMPLETE };
    return { v: null, e: /end of buffer not reached/.test(String(e.message)) ? CBOR_E_TRAILING : CBOR_E_MALFORMED };
  }
  let v: CborValue;
  try {
    v = toDevice(raw, MAX_DEPTH);
  } catch (err) {
    if (err instanceof Refused) return { v: null, e: err.e };
    return { v: null, e: CBOR_E_MALFORMED };
  }
  let again: Uint8Array;
  try {
    again = encodeItem(v);
  } catch {
    return { v: null, e: CBOR_E_UNSUPPORTED };
  }
  if (again.length !== bytes.length || !timingSafeEqual(again, bytes)) return { v: null, e: CBOR_E_NOT_PREFERRED };
  return { v: v, e: 0 };
}

/** HMAC-SHA256 over bytes, truncated to MAC_BYTES (COSE's HMAC 256/64). */
export function macOf(key: Uint8Array, bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(bytes).digest().subarray(0, MAC_BYTES));
}

/**
 * [version, type, seq, time, body, mac] with the MAC over every byte before
 * the mac item. Encoded once with a placeholder MAC: the encoding is
 * canonical, so the mac item is always the last 9 bytes (0x48 and 8 bytes)
 * and is patched in place.
 */
export function sealFrame(type: number, seq: number, time: number, body: CborValue, key: Uint8Array): Uint8Array {
  const f = encodeItem([PROTOCOL_VERSION, type, seq, time, body, new Uint8Array(MAC_BYTES)]);
  f.set(macOf(key, f.subarray(0, f.length - 1 - MAC_BYTES)), f.length - MAC_BYTES);
  return f;
}

/** What openFrame gives: the envelope, or the reason (e > 0) with the refused frame's seq and type where they could be read (0 otherwise), for a NACK. */
export interface OpenedFrame {
  env: Envelope | null;
  e: number;
  refSeq: number;
  refType: number;
}

/**
 * Checks a frame in the order of docs/protocol.md section 3: CBOR within
 * limits, the envelope's shape, the version, a type travelling towards this
 * receiver (up: it is the server), the MAC (constant time), seq above
 * lastSeq, the body's schema. Changes nothing.
 */
export function openFrame(frame: Uint8Array, key: Uint8Array, up: boolean, lastSeq: number, lim: Limits): OpenedFrame {
  const d = decodeItem(frame);
  if (d.e !== 0) return { env: null, e: d.e, refSeq: 0, refType: 0 };
  const f = d.v as CborValue[];
  if (!Array.isArray(f) || f.length !== 6) return { env: null, e: E_ENVELOPE, refSeq: 0, refType: 0 };
  for (let i = 0; i < 4; i++) {
    const n = f[i];
    if (typeof n !== "number" || n < 0 || (i === 3 && n > 0xffffffff)) return { env: null, e: E_ENVELOPE, refSeq: 0, refType: 0 };
  }
  const type = f[1] as number;
  const seq = f[2] as number;
  // A NACK names the refused type (0..31) and seq; outside those it names none.
  const ref = (e: number): OpenedFrame => ({ env: null, e, refSeq: seq, refType: type <= 31 ? type : 0 });
  const mac = f[5];
  if (!(mac instanceof Uint8Array) || mac.length !== MAC_BYTES || seq === 0) return ref(E_ENVELOPE);
  if (f[0] !== PROTOCOL_VERSION) return ref(E_VERSION);
  if (!isKnownType(type) || isUp(type) !== up) return ref(E_TYPE);
  const want = macOf(key, frame.subarray(0, frame.length - 1 - MAC_BYTES));
  if (!timingSafeEqual(want, mac)) return ref(E_MAC);
  if (seq <= lastSeq) return ref(E_REPLAY);
  const e = validateBody(type, f[4], lim);
  if (e !== 0) return ref(e);
  return { env: { type, seq, time: f[3] as number, body: f[4] }, e: 0, refSeq: seq, refType: type };
}

/** The slot that holds unix time t (design section 1: aligned to UTC). */
export function slotOf(timeS: number, slotMin: number): number {
  return Math.floor(timeS / (slotMin * 60));
}
