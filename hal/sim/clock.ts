// A virtual clock for Node: time moves only when a test or the simulator
// advances it, so a simulated day runs in milliseconds and every run is
// repeatable. Timers fire in time order (ties in the order they were set).

import type { Clock } from "../types";

interface Timer {
  id: number;
  dueMs: number;
  /** Insertion order, so timers due at the same time fire in FIFO order. */
  order: number;
  periodMs: number;
  cb: () => void;
  /** The boot (power cycle) the timer belongs to; see VirtualClock.powerCycle. */
  boot: number;
}

/** Earlier due time first, then earlier insertion. */
function before(a: Timer, b: Timer): boolean {
  return a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.order < b.order);
}

/**
 * World time for a simulation, with the timers of the board's firmware.
 * `boardClock()` gives the view the firmware sees: milliseconds since the
 * last boot, as on a device without a battery-backed clock.
 */
export class VirtualClock {
  private now = 0;
  private bootAtMs = 0;
  private boot = 0;
  private nextId = 1;
  private order = 0;
  /** A binary min-heap of pending timers. */
  private heap: Timer[] = [];
  /** Live timers by id, so clear is O(1); cleared timers are skipped lazily. */
  private live = new Map<number, Timer>();

  constructor(startMs = 0) {
    this.now = startMs;
    this.bootAtMs = startMs;
  }

  /** World time in ms (for the test, the server, the simulated home). */
  worldMs(): number {
    return this.now;
  }

  /** Milliseconds since the board last booted. */
  sinceBootMs(): number {
    return this.now - this.bootAtMs;
  }

  /** Number of timers waiting. */
  pending(): number {
    return this.live.size;
  }

  /** The firmware's view of this clock. */
  boardClock(): Clock {
    return {
      nowMs: () => this.sinceBootMs(),
      setTimeout: (cb, ms) => this.add(cb, ms, 0),
      clearTimeout: (id) => this.clear(id),
      setInterval: (cb, ms) => this.add(cb, ms, Math.max(1, ms)),
      clearInterval: (id) => this.clear(id),
    };
  }

  /** Timers for the world (simulated home, server), not cleared by a power cycle. */
  worldClock(): Clock {
    return {
      nowMs: () => this.now,
      setTimeout: (cb, ms) => this.add(cb, ms, 0, -1),
      clearTimeout: (id) => this.clear(id),
      setInterval: (cb, ms) => this.add(cb, ms, Math.max(1, ms), -1),
      clearInterval: (id) => this.clear(id),
    };
  }

  /**
   * The board loses power and boots again: its timers are gone and its
   * time since boot starts at zero. World timers keep running.
   */
  powerCycle(): void {
    for (const t of [...this.live.values()]) {
      if (t.boot === this.boot) this.live.delete(t.id);
    }
    this.boot++;
    this.bootAtMs = this.now;
  }

  /** Runs every timer due up to now + ms, in order, then sets the time to now + ms. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advance: ms must be >= 0, got ${ms}`);
    const end = this.now + ms;
    for (;;) {
      const t = this.peek();
      if (!t || t.dueMs > end) break;
      this.pop();
      if (this.live.get(t.id) !== t) continue;
      this.now = Math.max(this.now, t.dueMs);
      if (t.periodMs > 0) {
        t.dueMs += t.periodMs;
        t.order = this.order++;
        this.push(t);
      } else {
        this.live.delete(t.id);
      }
      t.cb();
    }
    this.now = end;
  }

  /** Runs timers until none is due within ms or the clock reaches now + ms. */
  runUntil(predicate: () => boolean, stepMs: number, limitMs: number): boolean {
    const end = this.now + limitMs;
    while (this.now < end) {
      if (predicate()) return true;
      this.advance(Math.min(stepMs, end - this.now));
    }
    return predicate();
  }

  private add(cb: () => void, ms: number, periodMs: number, boot = this.boot): number {
    const delay = ms > 0 ? ms : 0;
    const t: Timer = { id: this.nextId++, dueMs: this.now + delay, order: this.order++, periodMs, cb, boot };
    this.live.set(t.id, t);
    this.push(t);
    return t.id;
  }

  private clear(id: number): void {
    this.live.delete(id);
  }

  private peek(): Timer | undefined {
    return this.heap[0];
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (!last || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && before(h[l], h[m])) m = l;
      if (r < h.length && before(h[r], h[m])) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m], h[i]];
      i = m;
    }
  }
}
