// Virtual time with real network I/O. The firmware's timers run on a
// VirtualClock (they fire only when someone advances it) while its sockets
// are real node:net sockets that need Node's event loop. The pump advances
// virtual time one step at a time and, after each step, lets the event loop
// run until the system is quiet: the caller's settle() holds (e.g. no QoS 1
// message in flight anywhere) and the activity counter has not moved for
// quietMs of real time. So virtual time never runs on while an answer is on
// its way, and a run repeats step for step.
//
// Every wait is bounded by maxWaitMs of real time per step: a system that
// never settles (a broker that is down, a peer that never answers) slows a
// run down but never hangs it.

import type { VirtualClock } from "../../hal/sim/clock";

export interface SettleOptions {
  /** True when nothing is awaited (default: always true, so only activity counts). */
  settle?: () => boolean;
  /**
   * A count that moves with I/O, e.g. the link's bytes in + out plus the
   * broker's activity(); quiet means unchanged for quietMs (default: none).
   */
  activity?: () => number;
  /** Real ms that settle() must hold with activity unchanged (default 2). */
  quietMs?: number;
  /** Real ms to wait at most (default 1000). */
  maxWaitMs?: number;
}

export interface PumpOptions extends SettleOptions {
  /** Virtual ms per step; maxWaitMs and quietMs apply to each step. */
  stepMs: number;
  /**
   * Advances virtual time by ms (default clock.advance), e.g.
   * `(ms) => board.run(ms)` so a power cut raised from a timer reboots the
   * board instead of failing the run.
   */
  advance?: (ms: number) => void;
}

const DEFAULT_QUIET_MS = 2;
const DEFAULT_MAX_WAIT_MS = 1000;
/** Event-loop turns taken with setImmediate before waiting in 1 ms sleeps. */
const FAST_TURNS = 8;

function nextTurn(fast: boolean): Promise<void> {
  return new Promise((resolve) => (fast ? setImmediate(resolve) : setTimeout(resolve, 1)));
}

/**
 * Lets real I/O happen, without advancing virtual time, until settle()
 * holds and activity() has not moved for quietMs; at most maxWaitMs.
 * Returns whether it settled (false: gave up at maxWaitMs).
 */
export async function settleNow(o: SettleOptions = {}): Promise<boolean> {
  const settle = o.settle ?? (() => true);
  const activity = o.activity ?? (() => 0);
  const quietMs = o.quietMs ?? DEFAULT_QUIET_MS;
  const maxWaitMs = o.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const start = performance.now();
  let last = activity();
  let quietSince = start;
  for (let turn = 0; ; turn++) {
    await nextTurn(turn < FAST_TURNS);
    const now = performance.now();
    const a = activity();
    if (a !== last || !settle()) {
      last = a;
      quietSince = now;
    } else if (now - quietSince >= quietMs) return true;
    if (now - start >= maxWaitMs) return false;
  }
}

/**
 * Advances virtual time by ms in steps of stepMs (the last one shorter when
 * ms is not a multiple), settling after each step. Returns the number of
 * steps that gave up waiting (0 when every step settled).
 */
export async function runFor(clock: VirtualClock, ms: number, o: PumpOptions): Promise<number> {
  if (!(o.stepMs > 0)) throw new RangeError(`runFor: stepMs must be > 0, got ${o.stepMs}`);
  if (!(ms >= 0)) throw new RangeError(`runFor: ms must be >= 0, got ${ms}`);
  const advance = o.advance ?? ((d: number) => clock.advance(d));
  const end = clock.worldMs() + ms;
  let unsettled = 0;
  while (clock.worldMs() < end) {
    advance(Math.min(o.stepMs, end - clock.worldMs()));
    if (!(await settleNow(o))) unsettled++;
  }
  return unsettled;
}

/**
 * Advances virtual time in steps of stepMs, settling after each, until
 * done() holds (checked before every step) or limitMs of virtual time has
 * passed. Returns whether done() held.
 */
export async function runUntil(clock: VirtualClock, done: () => boolean, limitMs: number, o: PumpOptions): Promise<boolean> {
  if (!(o.stepMs > 0)) throw new RangeError(`runUntil: stepMs must be > 0, got ${o.stepMs}`);
  const advance = o.advance ?? ((d: number) => clock.advance(d));
  const end = clock.worldMs() + limitMs;
  if (done()) return true;
  while (clock.worldMs() < end) {
    advance(Math.min(o.stepMs, end - clock.worldMs()));
    await settleNow(o);
    if (done()) return true;
  }
  return false;
}
