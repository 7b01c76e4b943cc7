// The energy server's four stages (design section 1; seed paper section
// III), as pure functions over numbers: no MQTT, no clock, no state between
// calls. Numbered as in the design; listed in the order they build on.
//
// 3. availability   capacityPackets(): per slot, forecast production and
//                   the import allowance less the forecast baseload, in
//                   packets; the caller takes off what is no longer
//                   re-planned (packets under a lease, profiles started).
// 2. classification classify(): a few priority classes, 0 the top: 0 is for
//                   emergencies, the others follow the client's priority;
//                   each run of rejections and a close deadline raise a
//                   request by one class.
// 4. allocation     allocate(): slot by slot, in time order. In each slot
//                   the capacity is split into per-class slices by the
//                   shares; each class fills its slice from its demands,
//                   earliest deadline first (arrival order breaks ties);
//                   what a class leaves of its slice flows down to the next.
//                   Capacity still free after the last class goes to whoever
//                   still needs packets in that slot, top class first, so
//                   nothing is left idle while a demand could take it.
//                   Interruptible demands take what they can in each slot
//                   up to their max per slot; a profile starts in the first
//                   slot where its first count fits and every later count
//                   fits the capacity not yet reserved, and then holds its
//                   slots (a running non-interruptible load comes off the
//                   capacity before slicing, as the paper's availability
//                   stage says).
// 1. admission      decide(): candidates one by one in priority order
//                   (class, deadline, arrival); each is admitted when the
//                   allocation with it serves it completely and takes
//                   nothing from the demands admitted before (committed ones
//                   included): no promise is broken to make room. The rest
//                   are rejected with a reason: 2 (deadline) when the window
//                   cannot hold the request even on the whole supply, else
//                   1 (capacity).
//
// Demands are in absolute slot numbers. An energy request is one window
// with the packets it still needs; a thermal band is a window per period;
// a deferrable appliance is a profile placed whole.

import { REJ_CAPACITY, REJ_CLIENT, REJ_DEADLINE } from "../../protocol/messages";

/** One slot's forecast, Wh (the supply curve the server is configured with). */
export interface SupplySlot {
  pvWh: number;
  windWh: number;
  /** Import allowed from the grid outside the microgrid. */
  importWh: number;
  /** Forecast uncontrolled load, taken off first; 0 when absent. */
  baseloadWh?: number;
}

/** Availability (stage 3): whole packets one slot's supply can serve. */
export function capacityPackets(s: SupplySlot, packetWh: number): number {
  const wh = s.pvWh + s.windWh + s.importWh - (s.baseloadWh ?? 0);
  return wh > 0 ? Math.floor(wh / packetWh) : 0;
}

/** The class of emergencies: the top. */
export const CLASS_EMERGENCY = 0;

/** How requests are put into classes. */
export interface ClassRules {
  /** Number of classes, 2 or more: 0 for emergencies, 1..classes-1 from the client's priority. */
  classes: number;
  /** Each run of this many consecutive rejections of a client's requests raises its next ones by a class. */
  rejectionsPerRaise: number;
  /** A deadline this close (slots from now) raises a request by a class. */
  urgentSlots: number;
}

export const DEFAULT_CLASS_RULES: ClassRules = { classes: 4, rejectionsPerRaise: 2, urgentSlots: 6 };

/**
 * Classification (stage 2). priority is the client's, 0..7, 0 the most
 * important (as the router's configuration and pairing reports give it);
 * with 4 classes 0-2 go to class 1, 3-5 to class 2, 6-7 to class 3. An emergency goes to the top;
 * repeated rejection and a deadline within urgentSlots each raise the class,
 * never into the emergency class.
 */
export function classify(priority: number, emergency: boolean, rejections: number, slotsToDeadline: number, rules: ClassRules): number {
  if (emergency) return CLASS_EMERGENCY;
  const normal = rules.classes - 1;
  let cls = 1 + Math.floor((Math.min(7, Math.max(0, priority)) * normal) / 8);
  cls -= Math.floor(rejections / Math.max(1, rules.rejectionsPerRaise));
  if (slotsToDeadline <= rules.urgentSlots) cls--;
  return Math.max(1, cls);
}

/** A request as the allocator sees it: what it still needs, from the first slot that may be re-planned. */
export interface Demand {
  /** Class, 0 the top. */
  cls: number;
  /** Arrival order, the last tie-break (first come, first served). */
  order: number;
  /** The most packets the demand may take in one slot. */
  maxPerSlot: number;
  /**
   * Interruptible: windows as flat triples [start, end, need, ...] of
   * absolute slots (end exclusive), in time order, not overlapping; need
   * packets in each. Empty for a profile.
   */
  windows: number[];
  /** Non-interruptible: packets per slot, placed whole and contiguous; null for an interruptible demand. */
  profile: number[] | null;
  /** A profile's window: it starts at earliest or later and ends by latestEnd (exclusive). */
  earliest: number;
  latestEnd: number;
  /** A profile that is running or promised: placed at this slot as it is, before anything else; -1 when free to place. */
  fixedStart: number;
  /** Demands of one group (a client's requests) share groupMax packets per slot (its rated power); -1: no group. */
  group: number;
  groupMax: number;
}

/** The slots an allocation covers and what they can serve. */
export interface Grid {
  /** Absolute slot of capacity[0]. */
  from: number;
  /** Packets each slot can still serve to the demands given (after loads that are not re-planned). */
  capacity: Int32Array;
  /** The whole supply per slot, before anything is taken off: tells "deadline" from "capacity" in a rejection. Defaults to capacity. */
  supply?: Int32Array;
  /** Share of each class's slice, top class first (any scale: [4, 3, 2, 1] is 40%, 30%, 20%, 10%). */
  shares: number[];
  /** Per group, packets per slot (from `from`) its loads that are not re-planned already take. */
  groupLoad?: Map<number, Int32Array>;
}

/** Where the packets of one demand go. */
export interface Placement {
  /** Absolute slot of counts[0]: the demand's first slot. */
  lo: number;
  /** Packets per slot from lo. */
  counts: Uint16Array;
  /** A profile's start, -1 when not placed (or not a profile). */
  start: number;
  /** Every window filled, or the profile placed. */
  complete: boolean;
  /** Packets placed in all. */
  placed: number;
}

/** An allocation: a placement per demand (in the order given) and the capacity left per slot. */
export interface Allocation {
  placements: Placement[];
  free: Int32Array;
}

/** The deadline that orders a demand in a slot (EDF): the end of its window holding that slot, or a profile's latest end. */
function deadlineAt(d: Demand, w: number): number {
  return d.profile ? d.latestEnd : d.windows[3 * w + 1];
}

/** The first and last (exclusive) slot of a demand. */
function spanOf(d: Demand): [number, number] {
  if (d.profile) return d.fixedStart >= 0 ? [d.fixedStart, d.fixedStart + d.profile.length] : [d.earliest, d.latestEnd];
  return d.windows.length ? [d.windows[0], d.windows[d.windows.length - 2]] : [0, 0];
}

/** The last slot (exclusive) by which a demand must be served. */
export function deadlineOf(d: Demand): number {
  return spanOf(d)[1];
}

/** Priority order of demands: class, then deadline, then arrival. */
export function byPriority(a: Demand, b: Demand): number {
  return a.cls - b.cls || deadlineOf(a) - deadlineOf(b) || a.order - b.order;
}

/**
 * Allocation (stage 4) of every demand on the grid, best effort: a demand
 * that cannot be served completely keeps what it got (incomplete). Slots
 * outside the grid are never used.
 */
export function allocate(grid: Grid, demands: Demand[]): Allocation {
  const n = demands.length;
  const len = grid.capacity.length;
  const from = grid.from;
  const classes = Math.max(1, grid.shares.length);
  let shareSum = 0;
  for (const s of grid.shares) shareSum += Math.max(0, s);
  const reserve = new Int32Array(len);
  const free = new Int32Array(len);
  const placements: Placement[] = [];
  /** Per demand: packets still needed in each window (interruptible). */
  const need: Int32Array[] = [];
  /** Per demand: the window that holds the current slot. */
  const win = new Int32Array(n);
  /** Per group: packets per slot taken so far. */
  const groupUsed = new Map<number, Int32Array>();
  for (const d of demands) {
    if (d.group >= 0 && !groupUsed.has(d.group)) groupUsed.set(d.group, Int32Array.from(grid.groupLoad?.get(d.group) ?? new Int32Array(len)));
  }
  /** Packets demand d may still take in slot s for its group. */
  const room = (d: Demand, s: number): number => (d.group < 0 ? Infinity : d.groupMax - (groupUsed.get(d.group) as Int32Array)[s]);
  const take = (d: Demand, s: number, g: number): void => {
    if (d.group >= 0 && s >= 0 && s < len) (groupUsed.get(d.group) as Int32Array)[s] += g;
  };
  for (let i = 0; i < n; i++) {
    const d = demands[i];
    const [lo, hi] = spanOf(d);
    const p: Placement = { lo, counts: new Uint16Array(Math.max(0, hi - lo)), start: -1, complete: false, placed: 0 };
    placements.push(p);
    const w = new Int32Array(d.windows.length / 3);
    for (let k = 0; k < w.length; k++) w[k] = d.windows[3 * k + 2];
    need.push(w);
    if (d.profile && d.fixedStart >= 0) {
      // Running or promised: its packets are a load, whatever the capacity.
      p.start = d.fixedStart;
      for (let k = 0; k < d.profile.length; k++) {
        p.counts[k] = d.profile[k];
        p.placed += d.profile[k];
        const s = d.fixedStart + k - from;
        if (s >= 0 && s < len) reserve[s] += d.profile[k];
        take(d, s, d.profile[k]);
      }
    }
  }

  /** Gives demand i up to budget packets in slot s (relative); returns how many it took. */
  const give = (i: number, s: number, budget: number): number => {
    const d = demands[i];
    const p = placements[i];
    const abs = from + s;
    if (d.profile) {
      if (p.start >= 0 || abs < d.earliest || abs + d.profile.length > d.latestEnd || d.profile[0] > Math.min(budget, room(d, s))) return 0;
      for (let k = 1; k < d.profile.length; k++) {
        if (s + k >= len || reserve[s + k] + d.profile[k] > grid.capacity[s + k] || d.profile[k] > room(d, s + k)) return 0;
      }
      p.start = abs;
      for (let k = 0; k < d.profile.length; k++) {
        p.counts[abs - p.lo + k] = d.profile[k];
        p.placed += d.profile[k];
        if (k > 0) reserve[s + k] += d.profile[k];
        take(d, s + k, d.profile[k]);
      }
      return d.profile[0];
    }
    const w = win[i];
    if (w * 3 >= d.windows.length || abs < d.windows[3 * w]) return 0;
    const at = abs - p.lo;
    const g = Math.min(need[i][w], d.maxPerSlot - p.counts[at], budget, room(d, s));
    if (g <= 0) return 0;
    take(d, s, g);
    p.counts[at] += g;
    p.placed += g;
    need[i][w] -= g;
    return g;
  };

  // The demands that may take packets in a slot, in priority order (class,
  // deadline, arrival), as one number each so that a typed sort orders them:
  // ((class * 2^22) + deadline - from) * R + rank, rank the arrival order
  // among the demands (R the power of two above n). A pool holds the demands
  // whose first slot has come and that are not finished.
  const R = 2 ** Math.ceil(Math.log2(n + 1));
  const rank = new Int32Array(n);
  const byRank = new Int32Array(n);
  const ranked = demands.map((_, i) => i).sort((a, b) => demands[a].order - demands[b].order || a - b);
  for (let r = 0; r < n; r++) {
    rank[ranked[r]] = r;
    byRank[r] = ranked[r];
  }
  const starts = demands.map((_, i) => i).sort((a, b) => placements[a].lo - placements[b].lo);
  const pool = new Int32Array(n);
  let pooled = 0;
  let next = 0;
  const keys = new Float64Array(n);
  const active = new Int32Array(n);
  const slice = new Int32Array(classes);
  const clsOf = (i: number): number => Math.min(Math.max(0, demands[i].cls), classes - 1);
  for (let s = 0; s < len; s++) {
    const abs = from + s;
    while (next < n && placements[starts[next]].lo <= abs) pool[pooled++] = starts[next++];
    let kept = 0;
    let na = 0;
    for (let k = 0; k < pooled; k++) {
      const i = pool[k];
      const d = demands[i];
      let deadline = -1;
      if (d.profile) {
        if (placements[i].start >= 0 || abs + d.profile.length > d.latestEnd) continue;
        if (abs >= d.earliest) deadline = deadlineAt(d, 0);
      } else {
        while (win[i] * 3 < d.windows.length && d.windows[3 * win[i] + 1] <= abs) win[i]++;
        const w = win[i];
        if (w * 3 >= d.windows.length) continue;
        if (abs >= d.windows[3 * w] && need[i][w] > 0) deadline = deadlineAt(d, w);
      }
      pool[kept++] = i;
      if (deadline >= 0) keys[na++] = (clsOf(i) * 4194304 + Math.min(4194303, deadline - from)) * R + rank[i];
    }
    pooled = kept;
    const sorted = keys.subarray(0, na).sort();
    for (let k = 0; k < na; k++) active[k] = byRank[sorted[k] % R];
    let avail = Math.max(0, grid.capacity[s] - reserve[s]);
    if (na === 0) {
      free[s] = avail;
      continue;
    }
    // Slices: floor of each share; what rounding leaves goes to the top slice (and flows down from there).
    let sliced = 0;
    for (let c = 0; c < classes; c++) {
      slice[c] = shareSum > 0 ? Math.floor((avail * Math.max(0, grid.shares[c])) / shareSum) : 0;
      sliced += slice[c];
    }
    slice[0] += avail - sliced;
    // Pass 1: each class in its slice plus what the classes above left.
    let carry = 0;
    let a = 0;
    for (let c = 0; c < classes; c++) {
      let budget = slice[c] + carry;
      // give() is asked even with nothing left: a profile may start on a slot where it needs no packet.
      for (; a < na && clsOf(active[a]) === c; a++) budget -= give(active[a], s, budget);
      carry = budget;
    }
    // Pass 2: what no slice used, to whoever still needs it, top class first.
    for (let k = 0; k < na && carry > 0; k++) carry -= give(active[k], s, carry);
    avail = carry;
    free[s] = avail;
  }
  for (let i = 0; i < n; i++) {
    const d = demands[i];
    const p = placements[i];
    if (d.profile) p.complete = p.start >= 0;
    else {
      let left = 0;
      for (let k = 0; k < need[i].length; k++) left += need[i][k];
      p.complete = left === 0;
    }
  }
  return { placements, free };
}

/** What decide() gives: the allocation of the committed demands and the admitted candidates, and a verdict per candidate. */
export interface Decision {
  /** Placements: the committed demands first, then every candidate in the order given (a rejected one with an empty placement). */
  allocation: Allocation;
  /** Per candidate: 0 when admitted, else the REJECT reason (REJ_CAPACITY or REJ_DEADLINE). */
  reasons: number[];
}

/** Whether a demand can be served completely on the given capacity with nothing else there. */
function fitsAlone(grid: Grid, capacity: Int32Array, d: Demand): boolean {
  return allocate({ from: grid.from, capacity, shares: grid.shares }, [d]).placements[0].complete;
}

function emptyPlacement(d: Demand): Placement {
  const [lo, hi] = spanOf(d);
  return { lo, counts: new Uint16Array(Math.max(0, hi - lo)), start: -1, complete: false, placed: 0 };
}

/**
 * The incumbent placements of the committed demands, when they serve one
 * completely that a fresh allocation does not and still fit the capacity:
 * a greedy allocation is not monotonic, and a promise must not be lost
 * because time moved on.
 */
function keepIncumbent(grid: Grid, fresh: Allocation, incumbent: Placement[] | undefined): Allocation {
  if (!incumbent || !incumbent.some((p, k) => p.complete && !fresh.placements[k].complete)) return fresh;
  const free = Int32Array.from(grid.capacity);
  for (const p of incumbent) {
    for (let k = 0; k < p.counts.length; k++) {
      const s = p.lo + k - grid.from;
      if (p.counts[k] > 0 && (s < 0 || s >= free.length)) return fresh;
      if (p.counts[k] > 0) free[s] -= p.counts[k];
    }
  }
  return free.every((f) => f >= 0) ? { placements: incumbent, free } : fresh;
}

/**
 * Admission (stage 1) and allocation: the committed demands (promised
 * already) and the candidates (new requests). Candidates are decided one
 * at a time in priority order (byPriority); one is admitted when, with it,
 * it is served completely and every demand admitted before it (committed
 * ones first) is still served at least as completely and with as many
 * packets as without it. incumbent: the committed demands' placements so
 * far (same order), kept instead of a fresh allocation that would serve
 * one of them less completely.
 */
export function decide(grid: Grid, committed: Demand[], candidates: Demand[], incumbent?: Placement[]): Decision {
  let current = keepIncumbent(grid, allocate(grid, committed), incumbent);
  const base = current;
  const reasons = candidates.map(() => REJ_CAPACITY);
  const order = candidates.map((_, i) => i).sort((a, b) => byPriority(candidates[a], candidates[b]));
  let members: Demand[] = committed.slice();
  let memberOf: number[] = committed.map((_, i) => i);
  /** Reference per member: complete and placed. */
  let refComplete = base.placements.map((p) => p.complete);
  let refPlaced = base.placements.map((p) => p.placed);
  for (const c of order) {
    const d = candidates[c];
    const trialMembers = members.concat([d]);
    const trial = allocate(grid, trialMembers);
    let ok = trial.placements[members.length].complete;
    for (let k = 0; ok && k < members.length; k++) {
      const p = trial.placements[k];
      if ((refComplete[k] && !p.complete) || p.placed < refPlaced[k]) ok = false;
    }
    if (!ok) {
      reasons[c] = fitsAlone(grid, grid.supply ?? grid.capacity, d) ? REJ_CAPACITY : REJ_DEADLINE;
      continue;
    }
    reasons[c] = 0;
    members = trialMembers;
    memberOf = memberOf.concat([committed.length + c]);
    current = trial;
    // What each member now gets is at least its reference: it becomes the new one.
    refComplete = trial.placements.map((p) => p.complete);
    refPlaced = trial.placements.map((p) => p.placed);
  }
  // Placements in the caller's order: committed, then candidates.
  const placements: Placement[] = committed.map((_, i) => current.placements[i]);
  for (let c = 0; c < candidates.length; c++) placements.push(emptyPlacement(candidates[c]));
  for (let k = committed.length; k < memberOf.length; k++) placements[memberOf[k]] = current.placements[k];
  return { allocation: { placements, free: current.free }, reasons };
}

/**
 * Seconds a rejected request should wait before it is sent again: for
 * capacity (and policy), to the start of the slot retrySlots ahead, when
 * leases have moved on and deliveries have been acknowledged; 0 for a
 * deadline or an unknown client, which waiting does not change.
 */
export function retryAfterS(reason: number, nowS: number, slotMin: number, retrySlots: number): number {
  if (reason === REJ_DEADLINE || reason === REJ_CLIENT) return 0;
  const slotS = slotMin * 60;
  const at = (Math.floor(nowS / slotS) + Math.max(1, retrySlots)) * slotS;
  return Math.min(86400, Math.max(1, Math.ceil(at - nowS)));
}
