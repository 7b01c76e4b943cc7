// The messages between a router and the energy server (design sections 1
// and 5; docs/protocol.md has the CDDL). Each message is the body of an
// envelope (protocol/envelope.ts): a positional array of integers, or a map
// with integer keys for config. Type codes tell the direction: 1-15 travel
// up (router -> server), 16-31 down (server -> router), so a message that
// is reflected back to its sender is refused (same key both ways).
//
// Slots in bodies are offsets from the slot that holds the envelope's time
// (slot = floor(time / (slotMin * 60)), design section 1), so they take one
// or two bytes and a message that waits in a queue keeps its meaning.
//
// validateBody() is the one check of every body against its schema; a
// receiver calls it before it acts on anything.

import { CBOR_MAX_INT } from "./cbor";
import type { CborMap, CborValue } from "./cbor";

// Up: router -> server.
/** Boot: [firmware, bootCount, capabilities, maxFrameBytes]. */
export const HELLO = 1;
/** Requests, one or more items: [[reqId, client, kind, ...], ...]. */
export const REQUEST = 2;
/** Delivery in the slot before the envelope's: [client, packets, wh, ...]. */
export const ACK = 3;
/** Urgent service for a request: [reqId, client, reason]. */
export const EMERGENCY = 4;
/** Meter readings: [bootCount, totalWh, ...] in the config's meter order. */
export const TELEMETRY = 5;
/** An appliance paired: [client, kind, channel, input|null, ratedW, priority, name]; unpaired: [client, 0]. */
export const PAIRING = 6;
/** A down message refused: [refSeq, refType, reason]. */
export const NACK_UP = 7;
/**
 * What a wiped flash would lose, before the router compacts Storage:
 * [mark, bootCount, [totalWh, ...]]. The server answers STORED once it
 * holds it together with every pairing and request sent before it.
 */
export const BACKUP = 8;
/**
 * What the router decided while it acted as local server (design section
 * 3), sent when the cloud is back, before it resubmits its open requests:
 * [reqId, client, outcome, packets, ...], one tuple per request (LR_*):
 * packets delivered to it locally. The energy metered per slot is in the
 * ACKs of those slots, sent as they were made.
 */
export const LOCAL_REPORT = 9;

// Down: server -> router.
/** Requests accepted: [reqId, ...]. */
export const ACCEPT = 16;
/** Requests rejected: [reqId, reason, retryAfterS, ...]. */
export const REJECT = 17;
/** Packets per slot for a client: [client, firstSlot, [count, ...], leaseEndSlot]. */
export const SCHEDULE = 18;
/**
 * The server is alive; its time is the envelope's: [slotMin, packetWh], or
 * [slotMin, packetWh, helloSeq] echoing the seq of the router's latest
 * HELLO, which the first heartbeat after a HELLO carries: a router that
 * has just booted sets its clock only from such a heartbeat, so an old one
 * replayed before its persisted seq catches up cannot turn its clock back.
 */
export const HEARTBEAT = 19;
/** Settings to change: {key: value}. */
export const CONFIG = 20;
/** An up message refused: [refSeq, refType, reason]. */
export const NACK_DOWN = 21;
/** The server holds the router's backup up to mark: [mark]. */
export const STORED = 22;
/**
 * The answer to a HELLO asking for it (CAP_RESTORE): what the server holds
 * for a router whose flash was wiped:
 * [helloSeq, lastSeq, lastReqId, bootCount, [totalWh, ...], [pairing, ...], [request item, ...], backupMark].
 * lastSeq is the highest router seq the server accepted, lastReqId the
 * highest request id; requests are the open ones, as still needed now;
 * backupMark the mark of the latest BACKUP (0: none).
 */
export const RESTORE = 23;

/** LOCAL_REPORT outcomes: admitted and still open (resubmitted), refused locally (resubmitted), delivered, expired, a non-interruptible program running now. */
export const LR_ADMITTED = 1;
export const LR_REFUSED = 2;
export const LR_DELIVERED = 3;
export const LR_EXPIRED = 4;
export const LR_RUNNING = 5;

/** HELLO capability: the router's store is empty; send RESTORE. */
export const CAP_RESTORE = 1;

// Request kinds (design section 1).
/** Deferrable, non-interruptible: [reqId, client, 1, earliest, latestEnd, [count, ...]]. */
export const KIND_PROFILE = 1;
/** Energy by a deadline, interruptible: [reqId, client, 2, earliest, deadline, packets, maxPerSlot]. */
export const KIND_ENERGY = 2;
/** Thermal band: `packets` in every `windowSlots` between earliest and end: [reqId, client, 3, earliest, end, packets, windowSlots, maxPerSlot]. */
export const KIND_THERMAL = 3;

// Config keys and their ranges (CONFIG body).
/** Heartbeat period, s. */
export const CFG_HEARTBEAT_S = 1;
/** Heartbeats missed before failsafe. */
export const CFG_FAILSAFE_MISSES = 2;
/** Minimum time in failsafe before the router turns local server, s. */
export const CFG_LOCAL_AFTER_S = 3;
/** Telemetry period, s. */
export const CFG_TELEMETRY_S = 4;
/** Import allowed per slot when the router schedules locally, Wh. */
export const CFG_IMPORT_WH = 5;
/** 1: act as local server even when online; 0: only when the server is gone. */
export const CFG_LOCAL_ONLY = 6;
const CFG_KEYS = 6;

// Reasons a frame or a body is refused (1-12 are the CBOR decoder's).
/** The body does not have the schema's shape: types, array lengths. */
export const E_SHAPE = 32;
/** A value outside its range (a negative or absurd count, an unknown reason or kind). */
export const E_RANGE = 33;
/** A client the receiver does not know. */
export const E_CLIENT = 34;
/** A slot outside the horizon. */
export const E_HORIZON = 35;
/** Times out of order: a deadline not after the earliest start, a profile longer than its window. */
export const E_ORDER = 36;
/** More packets in a slot than the client's rated power allows. */
export const E_POWER = 37;
/** Not an envelope: [version, type, seq, time, body, mac(8)]. */
export const E_ENVELOPE = 38;
/** A protocol version this codec does not speak. */
export const E_VERSION = 39;
/** An unknown type, or one that does not travel in this direction. */
export const E_TYPE = 40;
/** The MAC does not match. */
export const E_MAC = 41;
/** seq not above the highest accepted from this peer: a replay or an old message. */
export const E_REPLAY = 42;
/** A schedule that would put the relays that are on above the main fuse in some slot. */
export const E_FUSE = 43;
/** A schedule whose lease has already ended. */
export const E_LEASE = 44;

/** REJECT reasons. */
export const REJ_CAPACITY = 1;
export const REJ_DEADLINE = 2;
export const REJ_CLIENT = 3;
export const REJ_POLICY = 4;
const REJ_MAX = 4;
/** EMERGENCY reasons: rejected too often; must run now. */
export const EMG_REJECTED = 1;
export const EMG_NOW = 2;

/** Largest number of items in one REQUEST, ACCEPT, REJECT or ACK. */
export const MAX_ITEMS = 32;
const MAX_U16 = 0xffff;
export const MAX_U32 = 0xffffffff;

/** What a receiver knows that bounds a body. */
export interface Limits {
  /** Slots a plan covers (design: H, default 144). */
  horizonSlots: number;
  /** Packets each client may take in one slot from its rated power, by client id; 0: unknown client. */
  maxPerSlot: Uint16Array;
}

function isUint(v: CborValue, max: number): boolean {
  return typeof v === "number" && v >= 0 && v <= max && v === Math.floor(v);
}

/** An array of min..max items. */
export function isArray(v: CborValue, min: number, max: number): boolean {
  return Array.isArray(v) && v.length >= min && v.length <= max;
}

/** Printable ASCII (0x20-0x7e), min..max characters. */
function isAscii(v: CborValue, min: number, max: number): boolean {
  return typeof v === "string" && v.length >= min && v.length <= max && /^[ -~]*$/.test(v);
}

/**
 * The fields f[at], f[at + 1]... against spec, three numbers a field:
 * [max, lo, hi]. E_SHAPE when one is not an integer 0..max (its type), else
 * E_RANGE when one is outside lo..hi (its meaning), else 0. Stops at the end
 * of f: the caller has checked its length.
 */
export function uints(f: CborValue[], at: number, spec: number[]): number {
  let e = 0;
  for (let i = 0; i < spec.length && at < f.length; i += 3) {
    const v = f[at++] as number;
    if (!isUint(v, spec[i])) return E_SHAPE;
    if (v < spec[i + 1] || v > spec[i + 2]) e = E_RANGE;
  }
  return e;
}

/** 0 when every element of a from index at is an integer 0..CBOR_MAX_INT (a meter total), else E_SHAPE. */
function allUints(a: CborValue[], at: number): number {
  for (; at < a.length; at++) if (!isUint(a[at], CBOR_MAX_INT)) return E_SHAPE;
  return 0;
}

/**
 * 0 when every element of a is an integer 0..max, and when some must be
 * above 0 (a request's profile; a schedule may hold only zeros), some is;
 * else E_SHAPE, E_POWER for a count above max, E_RANGE for no packet at all.
 */
function checkCounts(a: CborValue[], max: number, some: boolean): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    if (!isUint(a[i], MAX_U16)) return E_SHAPE;
    if ((a[i] as number) > max) return E_POWER;
    sum += a[i] as number;
  }
  return sum > 0 || !some ? 0 : E_RANGE;
}

/** The client's packets per slot, or -E_SHAPE (not an id) or -E_CLIENT (not a known client). */
function clientMax(v: CborValue, lim: Limits): number {
  // Past the end of maxPerSlot reads undefined: unknown too.
  return isUint(v, MAX_U16) ? lim.maxPerSlot[v as number] || -E_CLIENT : -E_SHAPE;
}

/** One REQUEST item. */
function checkRequest(r: CborValue, lim: Limits): number {
  if (!isArray(r, 6, 8)) return E_SHAPE;
  const f = r as CborValue[], kind = f[2] as number, h = lim.horizonSlots;
  if (!isUint(kind, MAX_U16)) return E_SHAPE;
  let e = uints(f, 0, [MAX_U16, 1, MAX_U16]);
  if (e) return e;
  const max = clientMax(f[1], lim);
  if (max < 0) return -max;
  if (kind < KIND_PROFILE || kind > KIND_THERMAL) return E_RANGE;
  if (f.length !== 5 + kind || !isUint(f[3], MAX_U16) || !isUint(f[4], MAX_U16)) return E_SHAPE;
  // [earliest, end) inside the horizon and in order.
  const slots = (f[4] as number) - (f[3] as number);
  if ((f[4] as number) > h) return E_HORIZON;
  if (slots <= 0) return E_ORDER;
  if (kind === KIND_PROFILE) {
    if (!isArray(f[5], 1, h)) return E_SHAPE;
    return (f[5] as CborValue[]).length > slots ? E_ORDER : checkCounts(f[5] as CborValue[], max, true);
  }
  // Energy: packets by the deadline at up to maxPerSlot (f[6]); thermal:
  // packets in every window of f[6] slots, at up to maxPerSlot (f[7]).
  const perSlot = f[f.length - 1] as number;
  e = uints(f, 5, [MAX_U32, 1, MAX_U32, MAX_U16, 0, MAX_U16, MAX_U16, 0, MAX_U16]);
  if (e === E_SHAPE || !perSlot) return e || E_RANGE;
  if (perSlot > max) return E_POWER;
  const over = kind === KIND_ENERGY ? slots : (f[6] as number);
  if (kind === KIND_THERMAL && (!over || over > slots)) return E_ORDER;
  return e || (f[5] as number) > perSlot * over ? E_RANGE : 0;
}

/** The body of a PAIRING report (2 to 7 fields). */
function checkPairing(f: CborValue[]): number {
  const e = uints(f, 0, [MAX_U16, 1, MAX_U16, MAX_U16, 0, KIND_THERMAL]);
  // Kind 0: an unpairing, [client, 0].
  if (e || !f[1]) return e || (f.length === 2 ? 0 : E_SHAPE);
  if (f.length !== 7 || !isAscii(f[6], 1, 16)) return E_SHAPE;
  // channel, input (null: none), ratedW, priority.
  return uints([f[2], f[3] === null ? 0 : f[3], f[4], f[5]], 0, [MAX_U16, 0, 15, MAX_U16, 0, 15, MAX_U32, 1, 50000, MAX_U16, 0, 7]);
}

/** Meter totals: 0-8 uints. */
function checkTotals(t: CborValue): number {
  return isArray(t, 0, 8) ? allUints(t as CborValue[], 0) : E_SHAPE;
}

/** The body of a RESTORE: its counters, its pairings (each as a PAIRING body), its open requests and the backup mark. */
function checkRestore(f: CborValue[], lim: Limits): number {
  if (!isArray(f, 8, 8) || uints(f, 0, [CBOR_MAX_INT, 0, CBOR_MAX_INT, CBOR_MAX_INT, 0, CBOR_MAX_INT, MAX_U16, 0, MAX_U16, MAX_U32, 0, MAX_U32]) || !isUint(f[7], MAX_U32)) return E_SHAPE;
  let e = checkTotals(f[4]);
  if (!e && !(isArray(f[5], 0, 16) && isArray(f[6], 0, MAX_ITEMS))) e = E_SHAPE;
  const pairs = f[5] as CborValue[], reqs = f[6] as CborValue[];
  for (let i = 0; !e && i < pairs.length; i++) e = isArray(pairs[i], 7, 7) ? checkPairing(pairs[i] as CborValue[]) : E_SHAPE;
  for (let i = 0; !e && i < reqs.length; i++) e = checkRequest(reqs[i], lim);
  return e;
}

/** The body of a CONFIG message: at least one known key, each in range. */
function checkConfig(b: CborValue): number {
  // [min, max] of keys 1 to CFG_KEYS.
  const ranges = [10, 3600, 1, 10, 0, 86400, 60, 86400, 0, 100000, 0, 1];
  // A map decodes as a plain object: not null, an array, a byte string or a scalar.
  const keys = b && (b as object).constructor === Object ? Object.keys(b) : [];
  let e = keys.length ? 0 : E_SHAPE;
  for (let i = 0; !e && i < keys.length; i++) {
    const k = +keys[i];
    e = k >= 1 && k <= CFG_KEYS ? uints([(b as CborMap)[k]], 0, [MAX_U32, ranges[2 * k - 2], ranges[2 * k - 1]]) : E_RANGE;
  }
  return e;
}

/** True for the types that travel up (router -> server); false for down. */
export function isUp(type: number): boolean {
  return type >= HELLO && type <= LOCAL_REPORT;
}

/** True for the types that travel down (server -> router). */
export function isDown(type: number): boolean {
  return type >= ACCEPT && type <= RESTORE;
}

/** True for a type this protocol knows. */
export function isKnownType(type: number): boolean {
  return isUp(type) || isDown(type);
}

/** A flat list of 1..MAX_ITEMS tuples of n fields, each checked against spec (see uints(); [] checks none). */
function checkTuples(b: CborValue, n: number, spec: number[]): number {
  let e = isArray(b, n, n * MAX_ITEMS) && (b as CborValue[]).length % n === 0 ? 0 : E_SHAPE;
  for (let i = 0; !e && i < (b as CborValue[]).length; i += n) e = uints(b as CborValue[], i, spec);
  return e;
}

/** An array of min..max integers checked against spec (see uints()), else E_SHAPE. */
function fields(b: CborValue, min: number, max: number, spec: number[]): number {
  return isArray(b, min, max) ? uints(b as CborValue[], 0, spec) : E_SHAPE;
}

/**
 * validateBody() for the types that travel down (server -> router), E_TYPE
 * for any other: all that the router's receiver (envelope.ts, Peer) needs,
 * so that the router's bundle leaves the up schemas out.
 */
export function validateDown(type: number, b: CborValue, lim: Limits): number {
  const f = b as CborValue[];
  if (type === ACCEPT) return checkTuples(b, 1, [MAX_U16, 1, MAX_U16]);
  if (type === REJECT) return checkTuples(b, 3, [MAX_U16, 1, MAX_U16, MAX_U16, 1, REJ_MAX, MAX_U32, 0, 86400]);
  if (type === SCHEDULE) {
    if (!isArray(b, 4, 4) || !isArray(f[2], 1, lim.horizonSlots) || !isUint(f[3], MAX_U16)) return E_SHAPE;
    const max = clientMax(f[0], lim);
    if (max < 0) return -max;
    if (!isUint(f[1], MAX_U16)) return E_SHAPE;
    if ((f[1] as number) + (f[2] as CborValue[]).length > lim.horizonSlots || (f[3] as number) > lim.horizonSlots) return E_HORIZON;
    if (f[3] === 0) return E_ORDER;
    return checkCounts(f[2] as CborValue[], max, false);
  }
  if (type === HEARTBEAT) return fields(b, 2, 3, [60, 1, 60, 10000, 1, 10000, CBOR_MAX_INT, 1, CBOR_MAX_INT]);
  if (type === STORED) return fields(b, 1, 1, [MAX_U32, 0, MAX_U32]);
  if (type === RESTORE) return checkRestore(f, lim);
  if (type === CONFIG) return checkConfig(b);
  // A NACK (either way: NACK_UP has the same body): [refSeq, refType, reason].
  return type === NACK_DOWN ? fields(b, 3, 3, [CBOR_MAX_INT, 0, CBOR_MAX_INT, 31, 0, 31, 255, 1, 255]) : E_TYPE;
}

/**
 * Checks a decoded body against the schema of its type: 0 when it may be
 * acted on, else the reason (E_*). Never throws, changes nothing.
 */
export function validateBody(type: number, b: CborValue, lim: Limits): number {
  const f = b as CborValue[];
  let e: number;
  if (!isUp(type)) return validateDown(type, b, lim);
  // Requests: 1..MAX_ITEMS items; acks: flat triples [client, packets, wh].
  if (type === REQUEST || type === ACK) {
    const n = type === ACK ? 3 : 1;
    e = checkTuples(b, n, []);
    for (let i = 0; !e && i < f.length; i += n) {
      const max = n > 1 ? clientMax(f[i], lim) : 0;
      e = n < 3 ? checkRequest(f[i], lim) : uints(f, i + 1, [MAX_U16, 0, MAX_U16, MAX_U16, 0, MAX_U16]) || (max < 0 ? -max : (f[i + 1] as number) > max ? E_POWER : 0);
    }
    return e;
  }
  if (type === EMERGENCY) {
    // The client is known before the reason is looked at.
    e = fields(b, 3, 3, [MAX_U16, 1, MAX_U16, MAX_U16, 0, MAX_U16, MAX_U16, 1, EMG_NOW]);
    return e !== E_SHAPE && clientMax(f[1], lim) < 0 ? E_CLIENT : e;
  }
  if (type === TELEMETRY) {
    // The router's connectivity state may come last: [state 0-3, why, seconds in it] (firmware/connectivity.ts).
    const n = isArray(b, 2, 10) && isArray(f[f.length - 1], 3, 3) ? f.length - 1 : 0;
    if (n) return isUint(f[0], MAX_U32) && !allUints(f.slice(0, n), 1) ? uints(f[n] as CborValue[], 0, [MAX_U16, 0, 3, MAX_U16, 0, 15, MAX_U32, 0, MAX_U32]) : E_SHAPE;
    return isArray(b, 1, 9) && isUint(f[0], MAX_U32) ? allUints(f, 1) : E_SHAPE;
  }
  if (type === HELLO) return isArray(b, 4, 4) && isAscii(f[0], 1, 32) ? uints(f, 1, [MAX_U32, 0, MAX_U32, MAX_U16, 0, MAX_U16, MAX_U16, 64, MAX_U16]) : E_SHAPE;
  if (type === PAIRING) return isArray(b, 2, 7) ? checkPairing(f) : E_SHAPE;
  if (type === BACKUP) return isArray(b, 3, 3) && isUint(f[0], MAX_U32) && isUint(f[1], MAX_U32) ? checkTotals(f[2]) : E_SHAPE;
  if (type === LOCAL_REPORT) {
    // Flat [reqId, client, outcome, packets] tuples; a client the receiver knows (as in an ACK).
    if (checkTuples(b, 4, [])) return E_SHAPE;
    let r = 0;
    for (let i = 0; i < f.length; i += 4) {
      e = uints(f, i, [MAX_U16, 1, MAX_U16, MAX_U16, 0, MAX_U16, MAX_U16, LR_ADMITTED, LR_RUNNING, MAX_U32, 0, MAX_U32]);
      const max = e === E_SHAPE ? 0 : clientMax(f[i + 1], lim);
      if (e === E_SHAPE || max < 0) return e || -max;
      r = r || e;
    }
    return r;
  }
  // NACK_UP, the last up type: the body of a NACK_DOWN.
  return validateDown(NACK_DOWN, b, lim);
}
