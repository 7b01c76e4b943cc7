// The envelope every message travels in (design section 5):
//
//   [version, type, seq, time, body, mac]
//
// version  1
// type     protocol/messages.ts; 1-15 up, 16-31 down
// seq      the sender's counter, 1 .. 2^53-1, never reused (a sender
//          persists a reserved upper bound and starts above it after a
//          restart); a receiver accepts only seq above the highest it
//          accepted from that peer
// time     the sender's clock, unix seconds (uint32): for the server, the
//          time the router sets its clock by; for the router, when the
//          message was made
// body     the message, checked by validateBody()
// mac      HMAC-SHA256 with the router's key over every byte of the
//          encoding before the mac item (the array head included),
//          truncated to its first 8 bytes (the size of COSE's HMAC 256/64)
//
// Since the encoding is canonical (protocol/cbor.ts), the mac item is
// always the frame's last 9 bytes: 0x48 and the 8 MAC bytes.

import { CBOR_MAX_INT, decodeCbor, encodeCbor } from "./cbor";
import type { CborValue } from "./cbor";
import { hmacSha256, sameBytes } from "./hmac";
import type { Sha256 } from "./hmac";
import { E_ENVELOPE, E_MAC, E_REPLAY, E_TYPE, E_VERSION, isArray, isDown, isUp, MAX_U32, uints, validateBody, validateDown } from "./messages";
import type { Limits } from "./messages";

export const PROTOCOL_VERSION = 1;
/** Bytes of the truncated MAC. */
export const MAC_BYTES = 8;
/** Deepest nesting in any message: envelope > restore body > its requests > request item > profile. */
const MAX_DEPTH = 5;
/** Longest array or string in any message (a 144-slot plan needs 144; a little room for a longer horizon). */
const MAX_LENGTH = 320;

/** A message that passed every check. */
export interface Envelope {
  type: number;
  seq: number;
  time: number;
  body: CborValue;
}

/**
 * Encodes [version, type, seq, time, body, mac] in scratch, a buffer the
 * caller keeps for every message (its length is the largest frame), the MAC
 * over the bytes before the mac item. Returns the frame in a new array of its own size, which may wait in a
 * queue without holding a whole scratch buffer, or a negative CBOR_E_* code
 * when the frame does not fit.
 */
export function seal(type: number, seq: number, time: number, body: CborValue, key: Uint8Array, sha256: Sha256, scratch: Uint8Array): Uint8Array | number {
  // Encoded with a MAC of zeros first, then the MAC written over them.
  const at = encodeCbor([PROTOCOL_VERSION, type, seq, time, body, new Uint8Array(MAC_BYTES)], scratch, 0, MAX_DEPTH);
  if (at < 0) return at;
  scratch.set(hmacSha256(sha256, key, scratch.subarray(0, at - 1 - MAC_BYTES)).subarray(0, MAC_BYTES), at - MAC_BYTES);
  return new Uint8Array(scratch.subarray(0, at));
}

/** What open() gives: the envelope, or the reason (e > 0) the frame was refused. */
export interface Opened {
  env: Envelope | null;
  e: number;
}

/** A body check: validateBody, or validateDown on the router's side. */
type Validate = (type: number, b: CborValue, lim: Limits) => number;

/** open() with the body check to use. */
function openWith(frame: Uint8Array, key: Uint8Array, sha256: Sha256, up: boolean, lastSeq: number, lim: Limits, validate: Validate): Opened {
  const d = decodeCbor(frame, MAX_DEPTH, MAX_LENGTH), f = d.v as CborValue[];
  let e = d.e;
  // version, type, seq, time: unsigned, seq above 0, time a uint32; then the MAC.
  if (!e && (!isArray(f, 6, 6) || uints(f, 0, [CBOR_MAX_INT, 0, CBOR_MAX_INT, CBOR_MAX_INT, 0, CBOR_MAX_INT, CBOR_MAX_INT, 1, CBOR_MAX_INT, MAX_U32, 0, MAX_U32]) || !(f[5] instanceof Uint8Array) || (f[5] as Uint8Array).length !== MAC_BYTES)) e = E_ENVELOPE;
  if (!e) {
    e =
      f[0] !== PROTOCOL_VERSION ? E_VERSION
      : !(up ? isUp(f[1] as number) : isDown(f[1] as number)) ? E_TYPE
      // The MAC over every byte before the mac item (its last 1 + MAC_BYTES).
      : !sameBytes(hmacSha256(sha256, key, frame.subarray(0, -1 - MAC_BYTES)), f[5] as Uint8Array, MAC_BYTES) ? E_MAC
      : (f[2] as number) <= lastSeq ? E_REPLAY
      : validate(f[1] as number, f[4], lim);
  }
  return { env: e ? null : { type: f[1] as number, seq: f[2] as number, time: f[3] as number, body: f[4] }, e: e };
}

/**
 * Checks a frame from a peer, in this order: CBOR within the limits, the
 * envelope's shape and version, a type that travels towards us (`up`: we
 * are the server), the MAC, seq above lastSeq, and the body's schema.
 * Changes nothing: the caller records env.seq as the new highest once it
 * has kept what it must.
 */
export function open(frame: Uint8Array, key: Uint8Array, sha256: Sha256, up: boolean, lastSeq: number, lim: Limits): Opened {
  return openWith(frame, key, sha256, up, lastSeq, lim, validateBody);
}

/**
 * How far below the highest accepted seq a frame may still come, once
 * (RFC 4303 section 3.4.3's anti-replay window): MQTT keeps order only
 * within one QoS, so a QoS 0 heartbeat may overtake a QoS 1 schedule sent
 * before it, and the schedule must not be refused as a replay.
 */
export const REPLAY_WINDOW = 32;

/** The highest seq a frame may no longer have: REPLAY_WINDOW below the highest accepted. */
export function replayFloor(lastSeq: number): number {
  return lastSeq > REPLAY_WINDOW ? lastSeq - REPLAY_WINDOW : 0;
}

/** True when seq (above the floor) was accepted already: the highest, or a bit set in seen. */
export function seenBefore(lastSeq: number, seen: number, seq: number): boolean {
  return seq <= lastSeq && (seq === lastSeq || ((seen >>> (lastSeq - 1 - seq)) & 1) === 1);
}

/** The window after seq is accepted (the caller then raises lastSeq to seq when it is above). */
export function windowAfter(lastSeq: number, seen: number, seq: number): number {
  if (seq > lastSeq) {
    const shift = seq - lastSeq;
    // The old highest becomes bit shift - 1; bits shifted past the window drop out.
    if (shift > REPLAY_WINDOW) return 0;
    if (shift === REPLAY_WINDOW) return 1 << 31;
    return ((seen << shift) | (1 << (shift - 1))) | 0;
  }
  if (seq < lastSeq && lastSeq - seq <= REPLAY_WINDOW) return seen | (1 << (lastSeq - 1 - seq));
  return seen;
}

/**
 * A peer as its receiver sees it: the key, the highest seq accepted, which
 * of the REPLAY_WINDOW seqs below it were accepted too, and why the last
 * frame was refused (the owner counts refusals). The owner persists lastSeq
 * (firmware/seq.ts) and calls accept() once it has. A new Peer treats every
 * seq up to the lastSeq it is given as seen (after a restart the window
 * below the persisted seq is unknown).
 */
export class Peer {
  key: Uint8Array;
  sha256: Sha256;
  lim: Limits;
  /** The highest seq accepted from this peer. */
  lastSeq: number;
  /** Bit k set: seq lastSeq - 1 - k was accepted (or is below what is known). */
  seen: number;
  /** The reason the last frame was refused, 0 when it was not. */
  reason: number;

  /**
   * The router's view of the server: it takes down messages only (no
   * server uses a Peer), so that only their schemas (validateDown) go into
   * the router's bundle.
   */
  constructor(key: Uint8Array, sha256: Sha256, lim: Limits, lastSeq: number) {
    this.key = key;
    this.sha256 = sha256;
    this.lim = lim;
    this.lastSeq = lastSeq;
    this.seen = -1;
    this.reason = 0;
  }

  /** The envelope when the frame passes every check, else null with the reason in `reason`. Changes nothing else. */
  check(frame: Uint8Array): Envelope | null {
    const o = openWith(frame, this.key, this.sha256, false, replayFloor(this.lastSeq), this.lim, validateDown);
    if (o.env && seenBefore(this.lastSeq, this.seen, o.env.seq)) {
      o.env = null;
      o.e = E_REPLAY;
    }
    this.reason = o.e;
    return o.env;
  }

  /** Records seq as accepted: it is not taken again, nor anything REPLAY_WINDOW or more below the highest. */
  accept(seq: number): void {
    this.seen = windowAfter(this.lastSeq, this.seen, seq);
    if (seq > this.lastSeq) this.lastSeq = seq;
  }
}
