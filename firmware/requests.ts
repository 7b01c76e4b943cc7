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
/** The states' names, as R.requests() shows them (one text: its words are not taken for property names). */
export const RQ_STATE_NAMES = "free pending accepted rejected scheduled running delivered expired".split(" ");

/** Rejections after which a request is escalated as an emergency. */
export const ESCALATE_AFTER = 3;

// Row layout. A request as a list (RequestTable.add, the journal) holds
// these fields in this order, from F_ID on.
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
/** Fields up to here are journaled (RequestTable.fields). */
export const F_KEPT = 13;
/** Unix s it was last sent to the server, 0 when not yet this boot (not journaled). */
export const F_SENT = 13;
const FIELDS = 14;

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

  /** True when row i is open, for client c, in one of the states whose bits (1 << state) are in mask. */
  is(i: number, c: number, mask: number): boolean {
    return this.get(i, F_CLIENT) === c && ((mask >> this.get(i, F_STATE)) & 1) > 0;
  }

  /** The row holding request id, or -1; id 0: a free row (free() zeroes a row, and ids start at 1). */
  find(id: number): number {
    for (let i = 0; i < MAX_REQUESTS; i++) if (this.get(i, F_ID) === id) return i;
    return -1;
  }

  /** Rows in use (a free row's id is 0). */
  count(): number {
    let n = 0;
    for (let i = 0; i < MAX_REQUESTS; i++) if (this.get(i, F_ID)) n++;
    return n;
  }

  /** The next free request id (1-65535, wrapping, never one in use). */
  nextId(): number {
    let id = this.lastId;
    // At most MAX_REQUESTS ids are in use: one of the next MAX_REQUESTS + 1 is free.
    do id = id >= 65535 ? 1 : id + 1;
    while (this.find(id) >= 0);
    return id;
  }

  /**
   * Puts a request in a free row: its fields from F_ID on are v[k], v[k+1],
   * ... (at least F_ID to F_STATE). Its row, or -1 when the table is full.
   */
  add(v: CborValue[], k: number, profile: Uint8Array | undefined): number {
    const i = this.find(0);
    if (i < 0) return -1;
    // free() zeroed the row and deleted its profile.
    this.load(i, F_ID, v, k);
    if (profile) this.profiles[i] = profile;
    const id = v[k] as number;
    if (id > this.lastId || this.lastId - id > 32768) this.lastId = id;
    return i;
  }

  /** Sets row i's fields from f on to v[k], v[k+1], ... up to the end of v (at most F_KEPT). */
  load(i: number, f: number, v: CborValue[], k: number): void {
    while (k < v.length && f < F_KEPT) this.set(i, f++, v[k++] as number);
  }

  /** Pushes row i's journaled fields from f on to out; gives out. */
  fields(i: number, out: CborValue[], f: number): CborValue[] {
    while (f < F_KEPT) out.push(this.get(i, f++));
    return out;
  }

  free(i: number): void {
    this.rows.fill(0, i * FIELDS, i * FIELDS + FIELDS);
    delete this.profiles[i];
  }

  /** Packets still owed to an energy request (a profile's are the rest of its profile, a thermal band's never end). */
  remaining(i: number): number {
    return Math.max(0, this.get(i, F_PACKETS) - this.get(i, F_DONE));
  }

  /**
   * The request as a wire item, its slots as offsets from slot `now`, asking
   * for what is still needed: [id, client, kind, earliest, end, ...]. A
   * profile already started asks for the rest of its profile from now.
   */
  item(i: number, now: number): CborValue[] {
    const kind = this.get(i, F_KIND);
    // Only a profile request has a profile (RequestTable.add's callers).
    const p = this.profiles[i];
    // The rest of a profile as a plain array ([].slice: Array.prototype.slice reads undefined on 2v29).
    const v: CborValue[] = [this.get(i, F_ID), this.get(i, F_CLIENT), kind, Math.max(0, this.get(i, F_EARLIEST) - now), this.get(i, F_END) - now, p ? ([] as number[]).slice.call(p, this.get(i, F_DONE)) : kind === KIND_ENERGY ? this.remaining(i) : this.get(i, F_PACKETS)];
    if (kind === KIND_THERMAL) v.push(this.get(i, F_WINDOW));
    if (!p) v.push(this.get(i, F_PER_SLOT));
    return v;
  }

  /**
   * Adds a request from a wire item whose slots are offsets from slot `now`
   * (a RESTORE's open requests; the item was checked by validateBody), in
   * the given state: its row, or -1.
   */
  addItem(f: CborValue[], now: number, state: number): number {
    const kind = f[2] as number;
    // A copy of the profile's counts (at most 255 each, validateBody).
    const p = kind === KIND_PROFILE ? new Uint8Array(f[5] as number[]) : undefined;
    let sum = 0;
    for (let k = 0; p && k < p.length; k++) sum += p[k];
    return this.add([f[0], f[1], kind, now + (f[3] as number), now + (f[4] as number), p ? sum : f[5], kind === KIND_THERMAL ? f[6] : 0, p ? 0 : f[f.length - 1], state], 0, p);
  }
}
