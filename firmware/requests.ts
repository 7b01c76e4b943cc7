// The household's requests as the router tracks them (design sections 1-2):
// at most MAX_REQUESTS at once, in one Uint32Array of fixed-size rows (no
// object per request; profiles are the one per-request array). Slots are
// absolute slot indexes (floor(unix s / slot s)); the wire's offsets are
// made from them when a message is sealed.
//
// States of a request:
//   PENDING    accepted by the router and journaled; to be sent, or sent and
//              not yet answered by the server
//   ACCEPTED   the server admitted it; waiting for its schedule
//   REJECTED   refused; sent again at retryAtS (escalated as an emergency
//              after ESCALATE_AFTER rejections)
//   SCHEDULED  packets planned for it
//   RUNNING    its appliance is switched on for it
//   DELIVERED  every packet delivered (final)
//   EXPIRED    its end passed first (final)
// Final requests free their row.

import { KIND_ENERGY, KIND_PROFILE, KIND_THERMAL } from "../protocol/messages";
import type { CborValue } from "../protocol/cbor";

export const MAX_REQUESTS = 32;

export const RQ_FREE = 0;
export const RQ_PENDING = 1;
export const RQ_ACCEPTED = 2;
export const RQ_REJECTED = 3;
export const RQ_SCHEDULED = 4;
export const RQ_RUNNING = 5;
export const RQ_DELIVERED = 6;
export const RQ_EXPIRED = 7;
export const RQ_STATE_NAMES = ["free", "pending", "accepted", "rejected", "scheduled", "running", "delivered", "expired"];

/** Rejections after which a request is escalated as an emergency. */
export const ESCALATE_AFTER = 3;

// Row layout.
/** Request id (1-65535). */
export const F_ID = 0;
export const F_CLIENT = 1;
export const F_KIND = 2;
/** First slot it may use, absolute. */
export const F_EARLIEST = 3;
/** Slot it must be done before (latest end, deadline, band end), absolute. */
export const F_END = 4;
/** Energy: packets in all; thermal: packets per window; profile: the profile's sum. */
export const F_PACKETS = 5;
/** Thermal: window length in slots. */
export const F_WINDOW = 6;
/** Energy, thermal: at most this many packets in a slot. */
export const F_PER_SLOT = 7;
export const F_STATE = 8;
/** Unix s when a rejected request is sent again. */
export const F_RETRY_AT = 9;
export const F_REJECTS = 10;
/** Packets delivered so far (profile: slots of the profile run so far). */
export const F_DONE = 11;
/** Emergency already sent for it (1). */
export const F_EMERGENCY = 12;
const FIELDS = 13;

/** A request as a console, a local appliance or an agent submits it, in absolute slots. */
export interface NewRequest {
  client: number;
  kind: number;
  earliest: number;
  end: number;
  packets: number;
  window: number;
  perSlot: number;
  profile: Uint8Array | undefined;
}

export class RequestTable {
  /** Every field is a whole number below 2^32 (unix s until 2106): half the memory of a Float64Array. */
  readonly rows: Uint32Array;
  readonly profiles: (Uint8Array | undefined)[];
  /** The last request id handed out. */
  lastId = 0;

  constructor() {
    this.rows = new Uint32Array(MAX_REQUESTS * FIELDS);
    // Sparse: Espruino stores only the rows that hold a profile.
    this.profiles = [];
  }

  get(i: number, f: number): number {
    return this.rows[i * FIELDS + f];
  }

  set(i: number, f: number, v: number): void {
    this.rows[i * FIELDS + f] = v;
  }

  /** The row holding request id, or -1. */
  find(id: number): number {
    for (let i = 0; i < MAX_REQUESTS; i++) if (this.rows[i * FIELDS + F_STATE] !== RQ_FREE && this.rows[i * FIELDS + F_ID] === id) return i;
    return -1;
  }

  /** Rows in use. */
  count(): number {
    let n = 0;
    for (let i = 0; i < MAX_REQUESTS; i++) if (this.rows[i * FIELDS + F_STATE] !== RQ_FREE) n++;
    return n;
  }

  /** The next free request id (1-65535, wrapping, never one in use). */
  nextId(): number {
    let id = this.lastId;
    for (let k = 0; k < 65535; k++) {
      id = id >= 65535 ? 1 : id + 1;
      if (this.find(id) < 0) return id;
    }
    return 0;
  }

  /** Puts a request in a free row with the given id and state: its row, or -1 when the table is full. */
  add(id: number, r: NewRequest, state: number): number {
    let i = 0;
    while (i < MAX_REQUESTS && this.rows[i * FIELDS + F_STATE] !== RQ_FREE) i++;
    if (i === MAX_REQUESTS) return -1;
    const o = i * FIELDS;
    this.rows.fill(0, o, o + FIELDS);
    this.rows[o + F_ID] = id;
    this.rows[o + F_CLIENT] = r.client;
    this.rows[o + F_KIND] = r.kind;
    this.rows[o + F_EARLIEST] = r.earliest;
    this.rows[o + F_END] = r.end;
    this.rows[o + F_PACKETS] = r.packets;
    this.rows[o + F_WINDOW] = r.window;
    this.rows[o + F_PER_SLOT] = r.perSlot;
    this.rows[o + F_STATE] = state;
    if (r.profile) this.profiles[i] = r.profile;
    else delete this.profiles[i];
    if (id > this.lastId || this.lastId - id > 32768) this.lastId = id;
    return i;
  }

  free(i: number): void {
    this.rows[i * FIELDS + F_STATE] = RQ_FREE;
    delete this.profiles[i];
  }

  /** Packets still owed to a request (profile: the rest of its profile). */
  remaining(i: number): number {
    if (this.get(i, F_KIND) !== KIND_PROFILE) return Math.max(0, this.get(i, F_PACKETS) - this.get(i, F_DONE));
    const p = this.profiles[i] as Uint8Array;
    let n = 0;
    for (let k = this.get(i, F_DONE); k < p.length; k++) n += p[k];
    return n;
  }

  /**
   * The request as a wire item, its slots as offsets from slot `now`, asking
   * for what is still needed: [id, client, kind, earliest, end, ...]. A
   * profile already started asks for the rest of its profile from now.
   */
  item(i: number, now: number): CborValue[] {
    const kind = this.get(i, F_KIND);
    const earliest = Math.max(0, this.get(i, F_EARLIEST) - now);
    const end = this.get(i, F_END) - now;
    const head: CborValue[] = [this.get(i, F_ID), this.get(i, F_CLIENT), kind, earliest, end];
    if (kind === KIND_PROFILE) {
      const p = this.profiles[i] as Uint8Array;
      const rest: CborValue[] = [];
      for (let k = this.get(i, F_DONE); k < p.length; k++) rest.push(p[k]);
      head.push(rest);
    } else if (kind === KIND_ENERGY) {
      head.push(this.remaining(i), this.get(i, F_PER_SLOT));
    } else if (kind === KIND_THERMAL) {
      head.push(this.get(i, F_PACKETS), this.get(i, F_WINDOW), this.get(i, F_PER_SLOT));
    }
    return head;
  }
}

/**
 * A request from a wire item whose slots are offsets from slot `now` (a
 * RESTORE's open requests); the item was checked by validateBody.
 */
export function requestOfItem(f: CborValue[], now: number): NewRequest {
  const kind = f[2] as number;
  const r: NewRequest = {
    client: f[1] as number,
    kind: kind,
    earliest: now + (f[3] as number),
    end: now + (f[4] as number),
    packets: 0,
    window: 0,
    perSlot: 0,
    profile: undefined,
  };
  if (kind === KIND_PROFILE) {
    const p = f[5] as CborValue[];
    r.profile = new Uint8Array(p.length);
    for (let k = 0; k < p.length; k++) {
      r.profile[k] = p[k] as number;
      r.packets += p[k] as number;
    }
  } else {
    r.packets = f[5] as number;
    r.perSlot = f[f.length - 1] as number;
    if (kind === KIND_THERMAL) r.window = f[6] as number;
  }
  return r;
}
