// The local scheduler (issue 5, item 2): the energy server's four stages
// (design section 1) run on the household's own resources, for the
// connectivity state `local` (design section 3) and for local-only
// reallocation on demand. Pure: it reads the agent's RequestTable and the
// per-client facts the agent keeps, and writes its own typed arrays; the
// caller journals what it takes and hands each client's row to Plan.set.
//
// How a call goes (reallocate() = availability() then allocate()):
//   availability  per slot from `first`, in packets: forecast PV (a clear-sky
//                 shape for the day of year, scaled by the PV seen lately)
//                 + battery (down to its reserve, at most its power)
//                 + the import allowance (0 when islanded)
//                 - forecast baseload (per slot of day, from the main meter).
//                 `green` is the part without import.
//   classification classOf(): 0 for emergencies, 1-3 from the client's
//                 priority (0, critical load, alone in 1; 1-4; 5-7), one
//                 class up per AGE_REJECTS rejections (never into 0, nor into
//                 1 but for critical load).
//   admission +   requests in order: running programs are fixed first; then
//   allocation    emergencies, then requests already admitted (no promise is
//                 broken for a newcomer), then pending ones; within each by
//                 class, then earliest deadline. A pending request is admitted
//                 when it is placed in full, or (critical load, or energy
//                 by a deadline; not a program) with what fits after pass 1
//                 (an emergency: after every other request, in pass 2),
//                 placed telling how much; else it
//                 is rejected with a reason and a retry hint (the earliest end
//                 it would be done by on what is left). With the plan in force,
//                 an admitted request first keeps its slots there; what one
//                 admitted in part lacks comes after every promise. Slices: in a first pass a newcomer of
//                 class k may fill a slot only up to sliceOf(k)/8 of its
//                 capacity (class 1: 6/8, classes 1-2: 7/8, all 8/8);
//                 what does not fit there waits for a second pass on the whole
//                 capacity, after every class had its slice (unused slice
//                 capacity flows down). A request takes its client's slots in
//                 the plan in force first (what was promised stays where it
//                 was); then interruptible requests fill whole slots (all
//                 they may take there, or all they still need: the relay
//                 stays closed across the slot's ends) of PV (green)
//                 capacity, then of any, then what is left, earliest slot
//                 first: contiguous runs, few switchings. A profile is placed
//                 whole and contiguous where the plan has it, else at the
//                 start that needs the least import (earliest on a tie). A client is never
//                 switched on in a slot where the rated power of the clients on
//                 would pass the fuse (the agent's own E_FUSE rule), or
//                 islanded the battery's power.
//
// Work per call: O(requests x slots) (a profile: x its length); every
// array is made once (the first availability()), and a call makes only
// short-lived views of them (subarray). On the 2v29 interpreter a full
// reallocation of 32 requests of 16 clients over 144 slots takes about
// 280 ms of CPU on a desktop core (npm run test:device measures it). The interpreter runs source text: a hot loop
// pays for every token and for finding each name, so the loops live in
// small methods whose arrays are parameters, and a phase that cannot add
// anything is skipped.

import { KIND_ENERGY, KIND_PROFILE, KIND_THERMAL, REJ_CAPACITY, REJ_DEADLINE } from "../protocol/messages";
import { F_CLIENT, F_DONE, F_EARLIEST, F_EMERGENCY, F_END, F_KIND, F_PACKETS, F_PER_SLOT, F_REJECTS, F_STATE, F_WINDOW, MAX_REQUESTS, RQ_PENDING, RQ_RUNNING, type RequestTable } from "./requests";
import { HORIZON, type Plan } from "./plan";

/** Rejections that lift a request by one class (classOf divides by shifting). */
export const AGE_REJECTS = 2;

/**
 * Weight of a packet served to a client of this priority (0 the most
 * important, 7 the least) in "priority-weighted energy": the benchmark and
 * its LP optimum use the same weights.
 */
export function weightOf(priority: number, emergency: boolean): number {
  return emergency ? 16 : 8 - priority;
}

/** Share of a slot's capacity (of 8) that classes 0..k may fill in the first pass. */
export function sliceOf(cls: number): number {
  // Nibbles, class 3 to 0: 8, 7, 6, 8.
  return (0x8768 >> (4 * cls)) & 15;
}

/**
 * One household's local scheduler. The per-client arrays are the caller's
 * (the agent's), read at every call, never copied:
 *   ratedW[c - 1]   rated power, W (the fuse rule)
 *   prio[c - 1]     priority 0-7, 0 the most important
 *   maxPerSlot[c]   most packets the client takes in a slot (its rated power)
 */
export class LocalScheduler {
  // The per-slot and per-request arrays (about 5.6 KB with 16 clients) are
  // made by the first availability() and reused after: a router that never
  // acts as local server keeps only the forecast's history.
  /** Outputs of allocate(), per client id c: planned packets for slot first + k at counts[(c - 1) * HORIZON + k]. */
  declare counts: Uint8Array;
  /** Per request row: 0 admitted (or served in full), else REJ_CAPACITY / REJ_DEADLINE (a request already admitted: could not be served in full). */
  declare reason: Uint8Array;
  /** Per pending request row rejected: the earliest slot it would be done by, were its end (F_END) moved there, on what this call left free; 0 when none in the horizon, or admitted. Set for the pending rows only: a row's last hint stays until the caller clears it. */
  declare hint: Uint32Array;
  /** Per request row: packets planned for it (a thermal band: over all its windows). */
  declare placed: Uint16Array;
  /** Outputs of availability(), per slot first + k: packets the household can serve, and those of them without import. */
  declare cap: Int32Array;
  declare green: Int32Array;
  /** Per slot: rated W still free under the fuse, or islanded the battery's power (allocate() takes off each client it switches on). */
  declare fuseLeft: Int32Array;
  /** The first slot and the number of slots of the last availability() (undefined before: allocate() places nothing). */
  declare first: number;
  declare n: number;
  /** Forecast inputs, learnt by record(): PV Wh of a slot at clear-sky 1 (0 until PV is seen), baseload Wh per slot of day (-1: not seen) and on average. */
  pvPeakWh = 0;
  readonly baseWh: Int32Array;
  baseAvgWh = -1;
  /** UTC hour of solar noon where the router is (12 at 0 degrees longitude; 11.3 in Berlin). */
  noonH = 12;
  private readonly ratedW: ArrayLike<number>;
  private readonly prio: ArrayLike<number>;
  private readonly maxPer: ArrayLike<number>;
  private readonly slotS: number;
  private readonly packetWh: number;
  private readonly fuseW: number;
  /** The most W of clients on at once: the fuse, or islanded the battery's power (availability). */
  private declare pw: number;
  private readonly clients: number;
  /** Per slot: packets placed so far in this call. */
  private declare used: Int16Array;
  /** Per slot: packets that requests deferred to pass 1 got in pass 0, kept from the classes below (in used until pass 1). */
  private declare held: Int16Array;
  /** The request being placed, per slot, in slots [lo, top): top is past its last packet. */
  private declare tmp: Uint8Array;
  private declare lo: number;
  private declare top: number;
  /** Placing for a retry hint: earliest first, green or not (undefined: false). */
  private declare quick: boolean;
  /** Per slot, for the request being placed: packets its client may still get, and of them without import (place). */
  private declare room: Int16Array;
  /** Per slot, for the request being placed: its client's packets in the plan allocate() was given (pref), and that plan. */
  private declare pref: Uint8Array;
  private declare plan: Plan | undefined;
  /** Sort keys of the open requests: group, class, deadline, row (allocate). */
  private declare keys: Int32Array;
  /** Placing an admitted request: only in its slots of the plan in force (keep); on top of what it got there (more). */
  private declare keep: boolean;
  private declare more: boolean;
  /** place() found the request's window too short for it whatever the capacity. */
  private declare tight: boolean;

  /**
   * clients: paired clients (ids 1..clients); slotMin, packetWh: the
   * microgrid's (design section 1); fuseW: the main fuse, W.
   */
  constructor(clients: number, ratedW: ArrayLike<number>, prio: ArrayLike<number>, maxPerSlot: ArrayLike<number>, slotMin: number, packetWh: number, fuseW: number) {
    this.ratedW = ratedW;
    this.prio = prio;
    this.maxPer = maxPerSlot;
    this.slotS = slotMin * 60;
    this.packetWh = packetWh;
    this.fuseW = fuseW;
    this.clients = clients;
    this.baseWh = new Int32Array(Math.round(1440 / slotMin)).fill(-1);
  }

  /** Packets planned for client id c from slot `first` on: pass it to Plan.set(c, first, row(c), leaseEnd). */
  row(c: number): Uint8Array {
    return this.counts.subarray((c - 1) * HORIZON, c * HORIZON);
  }

  /**
   * Learns from a slot that ended (the agent's newSlot): the main meter's
   * import and export, the PV input, and what the clients took (sub-metered
   * or estimated), Wh. Baseload = import - export + PV - clients.
   */
  record(slot: number, importWh: number, exportWh: number, pvWh: number, clientsWh: number): void {
    const cs = this.clearSky(slot);
    const p = this.pvPeakWh;
    // Only slots with enough sun tell the peak: near dawn the shape is least right.
    if (cs > 0.3) this.pvPeakWh = p ? (3 * p + pvWh / cs) / 4 : pvWh / cs;
    const b = Math.max(0, importWh - exportWh + pvWh - clientsWh);
    const h = this.baseWh;
    const k = slot % h.length;
    h[k] = h[k] < 0 ? b : Math.round((3 * h[k] + b) / 4);
    this.baseAvgWh = this.baseAvgWh < 0 ? b : (3 * this.baseAvgWh + b) / 4;
  }

  /** Clear-sky shape of slot s, 0-1: sun hours by the day of year (8 h at midwinter, 16 h at midsummer), peak at noonH. */
  clearSky(s: number): number {
    // Unix s of the slot's middle; days since 1970-01-01 plus 10 are 0 at the winter solstice (modulo a year).
    const t = (s + 0.5) * this.slotS;
    const h = (t % 86400) / 3600 - this.noonH;
    // Never sun more than 8 h from noon: the night costs no cosine.
    if (h <= -8 || h >= 8) return 0;
    const x = h / (6 - 2 * Math.cos((2 * Math.PI * (t / 86400 + 10)) / 365.25));
    return x > -1 && x < 1 ? Math.cos((x * Math.PI) / 2) : 0;
  }

  /**
   * Availability (stage 3) of slots first .. first + n - 1 (n <= HORIZON)
   * into cap and green: battery socWh down to reserveWh at most batteryW
   * (no charging is counted on); importW the grid import allowed (0
   * islanded). A caller with a forecast of its own (the benchmark, tests)
   * may write cap and green after this call, before allocate().
   */
  availability(first: number, n: number, socWh: number, reserveWh: number, batteryW: number, importW: number): void {
    if (!this.cap) {
      this.counts = new Uint8Array(this.clients * HORIZON);
      this.reason = new Uint8Array(MAX_REQUESTS);
      this.hint = new Uint32Array(MAX_REQUESTS);
      this.placed = new Uint16Array(MAX_REQUESTS);
      this.keys = new Int32Array(MAX_REQUESTS);
      this.cap = new Int32Array(HORIZON);
      this.green = new Int32Array(HORIZON);
      this.fuseLeft = new Int32Array(HORIZON);
      this.used = new Int16Array(HORIZON);
      this.held = new Int16Array(HORIZON);
      this.tmp = new Uint8Array(HORIZON);
      this.room = new Int16Array(HORIZON);
      this.pref = new Uint8Array(HORIZON);
    }
    const h = this.slotS / 3600;
    const pk = this.packetWh;
    const cap = this.cap;
    const green = this.green;
    let e = Math.max(0, socWh - reserveWh);
    // Islanded, the battery's inverter carries the house: its power, not
    // the fuse, bounds the clients on at once (PV counts in energy only).
    this.pw = importW ? this.fuseW : batteryW;
    n = this.n = Math.min(n, HORIZON);
    this.first = first;
    // The battery covers the baseload PV leaves uncovered, in time order
    // (green holds its Wh there for now); what is left is spread evenly.
    for (let k = 0; k < n; k++) {
      const b = this.baseWh[(first + k) % this.baseWh.length];
      const net = Math.floor(this.pvPeakWh * this.clearSky(first + k)) - (b < 0 ? Math.max(0, this.baseAvgWh) : b);
      green[k] = Math.min(Math.max(0, -net), batteryW * h, e);
      e -= green[k];
      cap[k] = net;
    }
    for (let k = 0; k < n; k++) {
      const g = cap[k] + Math.min(batteryW * h, green[k] + e / n);
      cap[k] = Math.max(0, Math.floor((g + importW * h) / pk));
      green[k] = Math.max(0, Math.min(cap[k], Math.floor(g / pk)));
    }
  }

  /**
   * Classification (stage 2) of request row i: 0 emergency, 1-3 by the
   * client's priority (0 critical alone, 1-4, 5-7), lifted by rejections
   * into class 2 at most: class 1 stays critical load's (an EV turned away
   * twice must not pass the water heater).
   */
  classOf(rq: RequestTable, i: number): number {
    const p = this.prio[rq.get(i, F_CLIENT) - 1];
    return rq.get(i, F_EMERGENCY) ? 0 : Math.max(p ? 2 : 1, 1 + ((p + 3) >> 2) - (rq.get(i, F_REJECTS) >> 1));
  }

  /**
   * Admission and allocation (stages 1, 2, 4) of every open request of rq
   * (pending: candidates; accepted, scheduled, running: admitted before) on
   * the last availability(); fills counts, reason, hint, placed. Does not
   * change rq: the caller journals the verdicts (pending with reason 0:
   * accepted; else rejected) and the rows it sends to Plan.set. Returns the
   * number of pending requests admitted.
   *
   * plan: the plan in force (the last local one, or the server's when the
   * router turns local). A request goes first to its client's slots there,
   * so that what was admitted keeps the slots it was promised: a greedy
   * allocation from scratch, in another order, could miss a fit that the
   * plan shows (and moving a run costs relay switchings).
   */
  allocate(rq: RequestTable, plan?: Plan): number {
    const keys = this.keys;
    const reason = this.reason;
    const first = this.first;
    let m = 0;
    let admitted = 0;
    this.plan = plan;
    this.counts.fill(0);
    this.used.fill(0);
    this.fuseLeft.fill(this.pw);
    reason.fill(0);
    this.placed.fill(0);
    for (let i = 0; i < MAX_REQUESTS; i++) {
      const st = rq.get(i, F_STATE);
      // 54: the bits (1 << state) of pending, accepted, scheduled and running.
      if (!((54 >> st) & 1)) continue;
      // A running program cannot stop: it comes off the capacity before anything else.
      if (st === RQ_RUNNING && rq.get(i, F_KIND) === KIND_PROFILE) {
        this.place(rq, i, -1, 1);
        this.commit(i, rq.get(i, F_CLIENT));
      } else keys[m++] = (((rq.get(i, F_EMERGENCY) ? 0 : st === RQ_PENDING ? 8 : 4) + this.classOf(rq, i)) * 4096 + ((rq.get(i, F_END) - first) & 4095)) * 32 + i;
    }
    // Keys are unique (they end in their row): no ties to break.
    keys.subarray(0, m).sort((a, b) => a - b);
    // Pass 0: each newcomer within its class's slice. One that does not fit
    // there whole holds what it got (held, which the classes below cannot
    // take) and tries again in pass 1 on the whole capacity. Admitted
    // requests, and newcomers of the top and bottom classes (whose slice is
    // all of it), are decided in pass 0. A slice binds whether or not a
    // class below asks, so that turning a newcomer away changes nothing for
    // the others. Pass 2: an emergency for energy that did not fit whole in
    // pass 0 (where it came first, as if alone) takes what every other
    // request left, in part.
    this.held.fill(0);
    for (let pass = 0; pass < 3; pass++) {
      for (let k = 0; pass == 1 && k < this.n; k++) this.used[k] -= this.held[k];
      for (let j = 0; j < m; j++) {
        const i = keys[j] & 31;
        const cls = (keys[j] >> 17) & 3;
        // Deferred rows only after pass 0: emergencies (class 0) in pass 2, the others in pass 1.
        if (pass && (reason[i] !== 9 || (pass == 1) == !cls)) continue;
        const pending = rq.get(i, F_STATE) === RQ_PENDING;
        // Slices share what newcomers ask for; an admitted request keeps its
        // slots whatever its class. With a plan in force, in pass 0 an
        // admitted request takes only its slots there (what it was
        // promised); more for one admitted in part waits for pass 1, when
        // every promise is kept.
        this.keep = !pass && !pending && !!plan;
        this.more = !pending && pass > 0;
        const lim8 = pass || !pending ? 8 : sliceOf(cls);
        const left = this.place(rq, i, lim8, rq.get(i, F_END) - first);
        const energy = rq.get(i, F_KIND) === KIND_ENERGY;
        // An energy newcomer that does not fit whole in a slice of 8/8 (the
        // bottom class, an emergency) waits too: admitted in part, it must
        // take only what the others leave.
        const last = lim8 > 7 && !this.keep && (pass > 0 || !pending || !energy);
        // 9: deferred to a later pass (no reason code is 9).
        reason[i] = !left ? 0 : !last ? 9 : this.tight ? REJ_DEADLINE : REJ_CAPACITY;
        // Partial admission: a newcomer turned down on the whole capacity is
        // admitted with what it got (placed says how much; what it got is
        // then owed, the rest is asked again at every reallocation) when it
        // is critical load (class 1) or energy by a deadline (a car leaves
        // with what could be given; an emergency one only in pass 2: in
        // part before the others it would take all there is from the
        // critical load). Not a program: one that does not fit places
        // nothing (top is still lo). Not a thermal band below class 1, whose
        // windows each need their packets.
        const part = pending && last && this.top > this.lo && (cls == 1 || energy);
        if (part) reason[i] = 0;
        // An admitted request keeps what it can get; a newcomer what it got when admitted
        // (a deferred emergency holds nothing: it comes after the others).
        if (!left || !pending || part) this.commit(i, rq.get(i, F_CLIENT));
        else if (!last && cls) {
          for (let k = this.lo; k < this.top; k++) {
            this.held[k] += this.tmp[k];
            this.used[k] += this.tmp[k];
          }
        }
        if (!reason[i] && pending) admitted++;
      }
    }
    // Retry hints, on what is left: the earliest end by which a rejected
    // newcomer would be served (its packets as early as they fit, a program
    // at its first start that fits).
    this.keep = this.more = false;
    this.quick = true;
    for (let i = 0; i < MAX_REQUESTS; i++) if (rq.get(i, F_STATE) === RQ_PENDING) this.hint[i] = reason[i] && !this.place(rq, i, 8, this.n) ? first + this.top : 0;
    this.quick = false;
    return admitted;
  }

  /** A full local reallocation: availability() then allocate() (what the benchmark times). */
  reallocate(rq: RequestTable, first: number, n: number, socWh: number, reserveWh: number, batteryW: number, importW: number, plan?: Plan): number {
    this.availability(first, n, socWh, reserveWh, batteryW, importW);
    return this.allocate(rq, plan);
  }

  /**
   * Places request row i in tmp (lo and top kept for commit):
   * a slot's packets up to lim8 / 8 of its capacity (lim8 -1: a running
   * program, as it runs, whatever the capacity), its window ending at slot
   * first + end. Gives the packets it could not place.
   */
  private place(rq: RequestTable, i: number, lim8: number, end: number): number {
    const tmp = this.tmp;
    const counts = this.counts;
    const c = rq.get(i, F_CLIENT);
    const r = (c - 1) * HORIZON;
    const mx = this.maxPer[c];
    const w = this.ratedW[c - 1];
    const lo = (this.lo = Math.max(0, rq.get(i, F_EARLIEST) - this.first));
    const hi = Math.min(this.n, end);
    const quick = this.quick;
    const per = rq.get(i, F_PER_SLOT);
    const all = rq.get(i, F_PACKETS);
    const kind = rq.get(i, F_KIND);
    let left = 0;
    this.top = lo;
    tmp.fill(0);
    this.tight = hi - lo < 1;
    // What each slot of the window can still give this client (its most
    // per slot, the capacity; none where switching it on would pass the
    // fuse): worked out once, read often. (Hot loops read locals and typed
    // arrays only: on the interpreter a property or a Math call costs
    // several times a local.)
    const pref = this.pref;
    const first = this.first;
    const pl = this.plan;
    // The plan's slots for the client, relative ([a, b): Plan.at's test).
    const a = pl && !quick ? pl.from[c - 1] - first : 0;
    const b = pl && !quick ? Math.min(pl.to[c - 1], pl.lease[c - 1]) - first : 0;
    pref.fill(0, lo, hi);
    for (let s = Math.max(lo, a); s < hi && s < b; s++) pref[s] = (pl as Plan).counts[r + ((first + s) % HORIZON)];
    // An interruptible request's packets per slot are at most its client's
    // (agent.request checks): room is never above per.
    this.roomOf(r, hi, lim8, per || mx, w);
    if (kind === KIND_ENERGY) {
      // Only what the slots inside the horizon can hold is asked of them.
      left = Math.max(0, all - rq.get(i, F_DONE) - per * Math.max(0, end - hi) - this.placed[i]);
      this.tight = left > per * (hi - lo);
      return this.spread(lo, hi, left, per);
    }
    if (kind === KIND_THERMAL) {
      // Each window from the band's start needs its packets (a window cut by now or the horizon: what its slots hold).
      const win = rq.get(i, F_WINDOW);
      for (let a = rq.get(i, F_EARLIEST) - this.first; a < hi; a += win) {
        const b = Math.min(a + win, hi);
        const a0 = Math.max(0, a);
        let got = 0;
        for (let s = a0; this.more && s < b; s++) got += counts[r + s];
        if (b > a0) left += Math.max(0, this.spread(a0, b, Math.min(all, (b - a0) * per) - got, per));
      }
      return left;
    }
    const p = rq.profiles[i] as Uint8Array;
    const len = p.length;
    const done = rq.get(i, F_DONE);
    if (lim8 < 0) {
      this.lo = 0;
      for (let k = done; k < len && k - done < this.n; k++) tmp[(this.top = k - done + 1) - 1] = p[k];
      return 0;
    }
    this.tight = hi - lo < len;
    const best = this.startOf(p, hi, a < b);
    if (best < 0) return all;
    for (let k = 0; k < len; k++) tmp[best + k] = p[k];
    this.top = best + len;
    return 0;
  }

  /**
   * The start of program p in [lo, hi) that needs the least
   * import, earliest on a tie; before any, where the plan in force has it
   * (planned: the client has planned slots; at least its packets in each of
   * them): kept while it still fits. A start that needs no import is the
   * best there is when the client has no planned slot (quick, for a hint:
   * any start that fits). -1: none fits. (A method of its own, as roomOf.)
   */
  private startOf(p: Uint8Array, hi: number, planned: boolean): number {
    const len = p.length;
    const room = this.room;
    const green = this.green;
    const used = this.used;
    const pref = this.pref;
    const quick = this.quick;
    let best = -1;
    let bestCost = 1e9;
    for (let t = this.lo; t + len <= hi && bestCost > (planned ? -1 : 0); t++) {
      let cost = 0;
      let own = 1;
      // A start whose cost so far is already the best's cannot win (ties go
      // to the earlier), unless it may yet be the plan's own.
      for (let k = 0; k < len && (cost < bestCost || (own && cost < 1e9)); k++) {
        const v = p[k];
        const q = t + k;
        if (v > room[q]) cost = 1e9;
        else if (!quick) {
          const g = green[q] - used[q];
          if (v > g) cost += g > 0 ? v - g : v;
        }
        if (pref[q] < v) own = 0;
      }
      if (own && cost < 1e9) cost = -1;
      if (cost < bestCost) {
        bestCost = cost;
        best = t;
      }
    }
    return best;
  }

  /**
   * room[s] for s in [lo, hi): what a client (its row in counts from r,
   * rated w W, at most pm packets a slot) may still get, up to lim8 / 8 of
   * cap less used, none where switching it on would pass the fuse. (A
   * method of its own: on the interpreter a loop finds the names of a small
   * scope faster than those of a large function. Few parameters: each
   * costs JsVars for good.)
   */
  private roomOf(r: number, hi: number, lim8: number, pm: number, w: number): void {
    const own = this.counts.subarray(r, r + HORIZON);
    const cap = this.cap;
    const used = this.used;
    const fuse = this.fuseLeft;
    const room = this.room;
    for (let s = this.lo; s < hi; s++) {
      const on = own[s];
      let x = ((cap[s] * lim8) >> 3) - used[s];
      if (x > pm - on) x = pm - on;
      // Never below 0: a program's slot of 0 packets fits anywhere.
      room[s] = x > 0 && (on || w <= fuse[s]) ? x : 0;
    }
  }

  /** Fills tmp in slots [lo, hi) with up to need packets, per at most in a slot: the plan's slots first, then green capacity (unless quick: neither), then the rest, earliest first. Gives what is still needed. */
  private spread(lo: number, hi: number, need: number, per: number): number {
    const tmp = this.tmp;
    const room = this.room;
    const green = this.green;
    const used = this.used;
    let top = this.top;
    const pref = this.pref;
    // Phases: 0 the plan's slots (when there is a plan), 1 green, 2 any,
    // 1 and 2 whole slots only (all the client may take there, or all it
    // still needs: its relay stays closed across the slot's ends), 3 what
    // is left, earliest first (alone for a hint: the earliest end).
    // A phase that turned no slot down for being brown or part leaves
    // nothing to the phases after it: they are skipped (the time of a full
    // reallocation on the interpreter is mostly here).
    for (let ph = this.quick ? 3 : this.plan ? 0 : 1, last = this.keep ? 1 : 4; ph < last; ph++) {
      let down = !ph;
      for (let k = lo; k < hi && need > 0; k++) {
        let g = room[k] - tmp[k];
        if (g <= 0) continue;
        if (ph < 2) {
          const f = (ph ? green[k] - used[k] : pref[k]) - tmp[k];
          if (f < g) {
            g = f;
            down = true;
          }
        }
        if (ph && ph < 3 && g < per && g < need) {
          g = 0;
          down = true;
        }
        if (g > 0) {
          if (g > need) g = need;
          tmp[k] += g;
          need -= g;
          if (k >= top) top = k + 1;
        }
      }
      if (!down) break;
    }
    this.top = top;
    return need;
  }

  /** Takes the placement in tmp for request row i of client c: counts, used, the fuse. */
  private commit(i: number, c: number): void {
    const r = (c - 1) * HORIZON;
    const tmp = this.tmp;
    const counts = this.counts;
    const used = this.used;
    let sum = 0;
    for (let k = this.lo; k < this.top; k++) {
      const v = tmp[k];
      if (!v) continue;
      if (!counts[r + k]) this.fuseLeft[k] -= this.ratedW[c - 1];
      counts[r + k] += v;
      used[k] += v;
      sum += v;
    }
    this.placed[i] += sum;
  }
}
