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
/** [min, max] per config key, index = key. */
const CFG_RANGES = [0, 0, 10, 3600, 1, 10, 0, 86400, 60, 86400, 0, 100000, 0, 1];
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
const MAX_U32 = 0xffffffff;

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

function isArray(v: CborValue, min: number, max: number): boolean {
  return Array.isArray(v) && v.length >= min && v.length <= max;
}

function isAscii(v: CborValue, min: number, max: number): boolean {
  if (typeof v !== "string" || v.length < min || v.length > max) return false;
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) < 0x20 || v.charCodeAt(i) > 0x7e) return false;
  return true;
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

/** The client's packets per slot, or -1 when the id is not a known client. */
function clientMax(v: CborValue, lim: Limits): number {
  if (!isUint(v, MAX_U16) || (v as number) >= lim.maxPerSlot.length || lim.maxPerSlot[v as number] === 0) return -1;
  return lim.maxPerSlot[v as number];
}

/** [earliest, end) inside the horizon and in order: 0, E_SHAPE, E_HORIZON or E_ORDER. */
function checkWindow(earliest: CborValue, end: CborValue, lim: Limits): number {
  if (!isUint(earliest, MAX_U16) || !isUint(end, MAX_U16)) return E_SHAPE;
  if ((end as number) > lim.horizonSlots) return E_HORIZON;
  return (end as number) > (earliest as number) ? 0 : E_ORDER;
}

/** One REQUEST item. */
function checkRequest(r: CborValue, lim: Limits): number {
  if (!isArray(r, 6, 8)) return E_SHAPE;
  const f = r as CborValue[];
  if (!isUint(f[0], MAX_U16) || !isUint(f[2], MAX_U16)) return E_SHAPE;
  if (f[0] === 0) return E_RANGE;
  const max = clientMax(f[1], lim);
  if (max < 0) return isUint(f[1], MAX_U16) ? E_CLIENT : E_SHAPE;
  const kind = f[2] as number;
  if (kind < KIND_PROFILE || kind > KIND_THERMAL) return E_RANGE;
  if (f.length !== (kind === KIND_PROFILE ? 6 : kind === KIND_ENERGY ? 7 : 8)) return E_SHAPE;
  const e = checkWindow(f[3], f[4], lim);
  if (e !== 0) return e;
  const slots = (f[4] as number) - (f[3] as number);
  if (kind === KIND_PROFILE) {
    if (!isArray(f[5], 1, lim.horizonSlots)) return E_SHAPE;
    if ((f[5] as CborValue[]).length > slots) return E_ORDER;
    return checkCounts(f[5] as CborValue[], max, true);
  }
  // Energy: packets by the deadline at up to maxPerSlot (f[6]); thermal:
  // packets in every window of f[6] slots, at up to maxPerSlot (f[7]).
  const perSlot = f[f.length - 1];
  if (!isUint(f[5], MAX_U32) || !isUint(perSlot, MAX_U16) || !isUint(f[6], MAX_U16)) return E_SHAPE;
  if (perSlot === 0 || (perSlot as number) > max) return perSlot === 0 ? E_RANGE : E_POWER;
  const over = kind === KIND_ENERGY ? slots : (f[6] as number);
  if (kind === KIND_THERMAL && (over === 0 || over > slots)) return E_ORDER;
  return f[5] === 0 || (f[5] as number) > (perSlot as number) * over ? E_RANGE : 0;
}

/** A flat list of tuples of n fields, 1..MAX_ITEMS of them; 0 or E_SHAPE. */
function checkTuples(b: CborValue, n: number): number {
  return isArray(b, n, n * MAX_ITEMS) && (b as CborValue[]).length % n === 0 ? 0 : E_SHAPE;
}

/** A body of the given number of uints, each within its max. */
function checkUints(b: CborValue, maxes: number[]): number {
  if (!isArray(b, maxes.length, maxes.length)) return E_SHAPE;
  for (let i = 0; i < maxes.length; i++) if (!isUint((b as CborValue[])[i], maxes[i])) return E_SHAPE;
  return 0;
}

/** The body of a PAIRING report. */
function checkPairing(f: CborValue[]): number {
  if (!isUint(f[0], MAX_U16) || !isUint(f[1], MAX_U16)) return E_SHAPE;
  if (f[0] === 0 || (f[1] as number) > KIND_THERMAL) return E_RANGE;
  if (f[1] === 0) return f.length === 2 ? 0 : E_SHAPE;
  if (f.length !== 7 || !isUint(f[2], MAX_U16) || !(f[3] === null || isUint(f[3], MAX_U16))) return E_SHAPE;
  if (!isUint(f[4], MAX_U32) || !isUint(f[5], MAX_U16) || !isAscii(f[6], 1, 16)) return E_SHAPE;
  return (f[2] as number) > 15 || (f[3] !== null && (f[3] as number) > 15) || f[4] === 0 || (f[4] as number) > 50000 || (f[5] as number) > 7 ? E_RANGE : 0;
}

/** Meter totals: 0-8 uints. */
function checkTotals(t: CborValue): number {
  if (!isArray(t, 0, 8)) return E_SHAPE;
  for (let i = 0; i < (t as CborValue[]).length; i++) if (!isUint((t as CborValue[])[i], CBOR_MAX_INT)) return E_SHAPE;
  return 0;
}

/** The body of a RESTORE: its counters, its pairings (each as a PAIRING body), its open requests and the backup mark. */
function checkRestore(f: CborValue[], lim: Limits): number {
  if (!isArray(f, 8, 8) || !isUint(f[0], CBOR_MAX_INT) || !isUint(f[1], CBOR_MAX_INT) || !isUint(f[2], MAX_U16) || !isUint(f[3], MAX_U32) || !isUint(f[7], MAX_U32)) return E_SHAPE;
  let e = checkTotals(f[4]);
  if (e === 0 && !(isArray(f[5], 0, 16) && isArray(f[6], 0, MAX_ITEMS))) e = E_SHAPE;
  const pairs = f[5] as CborValue[];
  for (let i = 0; e === 0 && i < pairs.length; i++) {
    e = isArray(pairs[i], 7, 7) ? checkPairing(pairs[i] as CborValue[]) : E_SHAPE;
  }
  const reqs = f[6] as CborValue[];
  for (let i = 0; e === 0 && i < reqs.length; i++) e = checkRequest(reqs[i], lim);
  return e;
}

/** The body of a CONFIG message: at least one known key, each in range. */
function checkConfig(b: CborValue): number {
  if (b === null || typeof b !== "object" || Array.isArray(b) || b instanceof Uint8Array) return E_SHAPE;
  const keys = Object.keys(b);
  if (keys.length === 0) return E_SHAPE;
  for (let i = 0; i < keys.length; i++) {
    const k = Number(keys[i]);
    const v = (b as CborMap)[k];
    if (!(k >= 1 && k <= CFG_KEYS)) return E_RANGE;
    if (!isUint(v, MAX_U32)) return E_SHAPE;
    if ((v as number) < CFG_RANGES[2 * k] || (v as number) > CFG_RANGES[2 * k + 1]) return E_RANGE;
  }
  return 0;
}

/**
 * Checks a decoded body against the schema of its type: 0 when it may be
 * acted on, else the reason (E_*). Never throws, changes nothing.
 */
export function validateBody(type: number, b: CborValue, lim: Limits): number {
  const f = b as CborValue[];
  let e = 0;
  if (type === REQUEST) {
    if (!isArray(b, 1, MAX_ITEMS)) return E_SHAPE;
    for (let i = 0; i < f.length && e === 0; i++) e = checkRequest(f[i], lim);
    return e;
  }
  if (type === ACK) {
    e = checkTuples(b, 3);
    for (let i = 0; i < f.length && e === 0; i += 3) {
      const max = clientMax(f[i], lim);
      if (!isUint(f[i + 1], MAX_U16) || !isUint(f[i + 2], MAX_U16)) e = E_SHAPE;
      else if (max < 0) e = isUint(f[i], MAX_U16) ? E_CLIENT : E_SHAPE;
      else if ((f[i + 1] as number) > max) e = E_POWER;
    }
    return e;
  }
  if (type === ACCEPT) {
    e = checkTuples(b, 1);
    for (let i = 0; i < f.length && e === 0; i++) e = isUint(f[i], MAX_U16) ? (f[i] === 0 ? E_RANGE : 0) : E_SHAPE;
    return e;
  }
  if (type === REJECT) {
    e = checkTuples(b, 3);
    for (let i = 0; i < f.length && e === 0; i += 3) {
      if (!isUint(f[i], MAX_U16) || !isUint(f[i + 1], MAX_U16) || !isUint(f[i + 2], MAX_U32)) e = E_SHAPE;
      else if (f[i] === 0 || f[i + 1] === 0 || (f[i + 1] as number) > REJ_MAX || (f[i + 2] as number) > 86400) e = E_RANGE;
    }
    return e;
  }
  if (type === SCHEDULE) {
    if (!isArray(b, 4, 4) || !isArray(f[2], 1, lim.horizonSlots) || !isUint(f[3], MAX_U16)) return E_SHAPE;
    const max = clientMax(f[0], lim);
    if (max < 0) return isUint(f[0], MAX_U16) ? E_CLIENT : E_SHAPE;
    if (!isUint(f[1], MAX_U16)) return E_SHAPE;
    if ((f[1] as number) + (f[2] as CborValue[]).length > lim.horizonSlots || (f[3] as number) > lim.horizonSlots) return E_HORIZON;
    if (f[3] === 0) return E_ORDER;
    return checkCounts(f[2] as CborValue[], max, false);
  }
  if (type === HEARTBEAT) {
    e = isArray(b, 3, 3) ? checkUints(b, [60, 10000, CBOR_MAX_INT]) : checkUints(b, [60, 10000]);
    return e !== 0 ? e : f[0] === 0 || f[1] === 0 || f[2] === 0 ? E_RANGE : 0;
  }
  if (type === EMERGENCY) {
    e = checkUints(b, [MAX_U16, MAX_U16, MAX_U16]);
    if (e !== 0) return e;
    if (clientMax(f[1], lim) < 0) return E_CLIENT;
    return f[0] === 0 || f[2] === 0 || (f[2] as number) > EMG_NOW ? E_RANGE : 0;
  }
  if (type === TELEMETRY) {
    if (!isArray(b, 1, 9)) return E_SHAPE;
    for (let i = 0; i < f.length; i++) if (!isUint(f[i], i === 0 ? MAX_U32 : CBOR_MAX_INT)) return E_SHAPE;
    return 0;
  }
  if (type === HELLO) {
    if (!isArray(b, 4, 4) || !isAscii(f[0], 1, 32) || !isUint(f[1], MAX_U32) || !isUint(f[2], MAX_U16) || !isUint(f[3], MAX_U16)) return E_SHAPE;
    return (f[3] as number) < 64 ? E_RANGE : 0;
  }
  if (type === PAIRING) return isArray(b, 2, 7) ? checkPairing(f) : E_SHAPE;
  if (type === BACKUP) return isArray(b, 3, 3) && isUint(f[0], MAX_U32) && isUint(f[1], MAX_U32) ? checkTotals(f[2]) : E_SHAPE;
  if (type === STORED) return checkUints(b, [MAX_U32]);
  if (type === RESTORE) return checkRestore(f, lim);
  if (type === CONFIG) return checkConfig(b);
  if (type === NACK_UP || type === NACK_DOWN) {
    e = checkUints(b, [CBOR_MAX_INT, 31, 255]);
    return e !== 0 ? e : f[2] === 0 ? E_RANGE : 0;
  }
  return E_TYPE;
}

/** True for the types that travel up (router -> server); false for down. */
export function isUp(type: number): boolean {
  return type >= HELLO && type <= BACKUP;
}

/** True for a type this protocol knows. */
export function isKnownType(type: number): boolean {
  return isUp(type) || (type >= ACCEPT && type <= RESTORE);
}
