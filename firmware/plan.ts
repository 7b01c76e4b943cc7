// The schedules the server sent, per client and absolute slot (design
// section 1: "delivery / schedule"), with their leases. One ring of
// horizon slots per client in a single Uint8Array (a slot's count is at
// most 255 packets: 15.3 kW at 10 Wh per 10 minutes; the agent caps a
// client's packets per slot there), so a full plan of 16 clients x 144
// slots is 2,304 bytes.

export const MAX_PER_SLOT = 255;
/** Slots in a plan (design section 1: H = 144, 24 h of 10-minute slots). */
export const HORIZON = 144;

export class Plan {
  /** counts[c * HORIZON + slot % HORIZON], for c = client id - 1. */
  readonly counts: Uint8Array;
  /** Per client: the slots [from, to) the ring holds (to: 0 when none), and the lease end (nothing runs at or after it). */
  readonly from: Float64Array;
  readonly to: Float64Array;
  readonly lease: Float64Array;

  constructor(clients: number) {
    this.counts = new Uint8Array(clients * HORIZON);
    this.from = new Float64Array(clients);
    this.to = new Float64Array(clients);
    this.lease = new Float64Array(clients);
  }

  /**
   * Packets planned for client id c in absolute slot s; 0 outside the plan
   * or at/after the lease end, and for a client id above the configuration's
   * (its from/to/lease read undefined, so every comparison is false). Client
   * ids start at 1: on 2v29 a typed array read at index -1 throws.
   */
  at(c: number, s: number): number {
    const i = c - 1;
    return s >= this.from[i] && s < this.to[i] && s < this.lease[i] ? this.counts[i * HORIZON + (s % HORIZON)] : 0;
  }

  /**
   * Takes a schedule for client id c: counts for the slots from `first` on,
   * replacing what was planned from there; the slots before `first` that
   * were planned stay (at most a horizon in all). The lease ends at slot leaseEnd.
   */
  set(c: number, first: number, counts: ArrayLike<number>, leaseEnd: number): void {
    const i = c - 1;
    const h = HORIZON;
    const end = first + counts.length;
    const from = Math.max(end - h, this.to[i] ? Math.min(this.from[i], first) : first);
    // A gap between the old plan and the new one reads 0.
    for (let s = Math.min(first, Math.max(from, this.to[i])); s < end; s++) this.counts[i * h + (s % h)] = s < first ? 0 : counts[s - first];
    this.from[i] = from;
    this.to[i] = end;
    this.lease[i] = leaseEnd;
  }

  /** The client's planned counts for slots [from, to) as bytes (for the journal). */
  slice(c: number): Uint8Array {
    const i = c - 1;
    const out = new Uint8Array(this.to[i] - this.from[i]);
    for (let k = 0; k < out.length; k++) out[k] = this.counts[i * HORIZON + ((this.from[i] + k) % HORIZON)];
    return out;
  }
}
