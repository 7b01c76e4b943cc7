// The schedules the server sent, per client and absolute slot (design
// section 1: "delivery / schedule"), with their leases. One ring of
// horizon slots per client in a single Uint8Array (a slot's count is at
// most 255 packets: 15.3 kW at 10 Wh per 10 minutes; clients above it are
// refused at boot), so a full plan of 16 clients x 144 slots is 2,304 bytes.

export const MAX_PER_SLOT = 255;

export class Plan {
  readonly horizon: number;
  readonly clients: number;
  /** counts[c * horizon + slot % horizon], for c = client id - 1. */
  readonly counts: Uint8Array;
  /** Per client: the slots [from, to) the ring holds, and the lease end (nothing runs at or after it). */
  readonly from: Float64Array;
  readonly to: Float64Array;
  readonly lease: Float64Array;

  constructor(clients: number, horizon: number) {
    this.horizon = horizon;
    this.clients = clients;
    this.counts = new Uint8Array(clients * horizon);
    this.from = new Float64Array(clients);
    this.to = new Float64Array(clients);
    this.lease = new Float64Array(clients);
  }

  /** Packets planned for client id c in absolute slot s; 0 outside the plan or at/after the lease end. */
  at(c: number, s: number): number {
    const i = c - 1;
    if (i < 0 || i >= this.clients || s < this.from[i] || s >= this.to[i] || s >= this.lease[i]) return 0;
    return this.counts[i * this.horizon + (s % this.horizon)];
  }

  /**
   * Takes a schedule for client id c: counts for the slots from `first` on,
   * replacing what was planned from there; the slots before `first` that
   * were planned stay. The lease ends at slot leaseEnd.
   */
  set(c: number, first: number, counts: ArrayLike<number>, leaseEnd: number): void {
    const i = c - 1;
    const h = this.horizon;
    const base = i * h;
    const end = first + counts.length;
    let from = this.from[i] < first && this.to[i] > this.from[i] ? this.from[i] : first;
    if (from < end - h) from = end - h;
    // A gap between the old plan and the new one reads 0.
    for (let s = Math.max(from, this.to[i]); s < first; s++) this.counts[base + (s % h)] = 0;
    for (let k = 0; k < counts.length; k++) this.counts[base + ((first + k) % h)] = counts[k];
    this.from[i] = from;
    this.to[i] = end;
    this.lease[i] = leaseEnd;
  }

  /** Forgets a client's plan. */
  clear(c: number): void {
    this.from[c - 1] = this.to[c - 1] = this.lease[c - 1] = 0;
  }

  /** The client's planned counts for slots [from, to) as bytes (for the journal). */
  slice(c: number): Uint8Array {
    const i = c - 1;
    const n = Math.max(0, this.to[i] - this.from[i]);
    const out = new Uint8Array(n);
    for (let k = 0; k < n; k++) out[k] = this.counts[i * this.horizon + ((this.from[i] + k) % this.horizon)];
    return out;
  }
}
