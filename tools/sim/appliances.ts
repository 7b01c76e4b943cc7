// Physical models of the household's flexible loads (design section 1,
// "client kinds"): each sits behind a relay that the router switches, and
// the model says what it draws. One contract for all of them:
//
//   advance(dtS, relayOn) -> Wh drawn from the model's time tS to tS + dtS,
//                            with the relay held in that state throughout.
//
// Inside, a model steps whole seconds, so energy is kept exactly as integer
// watt-seconds (Ws): every power is an integer W and every step an integer
// number of s. A model also knows the requests its user would make through
// the router's console, in domain units (Wh, W, seconds), and counts what
// the router did to it: energy, relay switchings seen, interruptions,
// deadlines met or missed.
//
// Times are absolute seconds (the scenario uses unix seconds); a model has
// no idea of time zones or days.

/** The flexibility of a client (design section 1); the same word as in its request. */
export type RequestKind = "profile" | "energy" | "thermal";

interface RequestBase {
  /** When the user makes the request at the router's console. */
  atS: number;
  /** The client's name, as paired (relay name). */
  appliance: string;
}

/** Deferrable, non-interruptible: a fixed per-slot profile from start, inside [earliestS, endS]. */
export interface ProfileRequest extends RequestBase {
  kind: "profile";
  earliestS: number;
  /** The program must have finished by then. */
  endS: number;
  /** Wh in each slot of the program from its start (rounded up to whole Wh). */
  profileWh: number[];
}

/** Energy by a deadline, interruptible: wh in [earliestS, deadlineS], at most maxW. */
export interface EnergyRequest extends RequestBase {
  kind: "energy";
  earliestS: number;
  deadlineS: number;
  wh: number;
  maxW: number;
}

/** Thermal band: whPerWindow in every windowS from earliestS to endS, at most maxW. */
export interface ThermalRequest extends RequestBase {
  kind: "thermal";
  earliestS: number;
  endS: number;
  whPerWindow: number;
  windowS: number;
  maxW: number;
  /** The band the router keeps the temperature in; informative (not on the wire). */
  minC: number;
  maxC: number;
}

export type ApplianceRequest = ProfileRequest | EnergyRequest | ThermalRequest;

/** What the router did to an appliance, as the appliance saw it. */
export interface ApplianceCounters {
  /** Energy drawn, in watt-seconds (exact; Wh = Ws / 3600). */
  deliveredWs: number;
  /** Seconds with the relay closed. */
  onS: number;
  /** Relay state changes seen (the relay starts open). */
  switchings: number;
  /** Relay opened while the appliance was working (harmful only for a program). */
  interruptions: number;
  deadlinesMet: number;
  deadlinesMissed: number;
}

export interface Appliance {
  readonly name: string;
  readonly kind: RequestKind;
  readonly ratedW: number;
  /** The model's time: the end of the last advance. */
  readonly tS: number;
  readonly counters: Readonly<ApplianceCounters>;
  /** Power in W drawn now (at tS) with the relay in this state; changes nothing. */
  powerW(relayOn: boolean): number;
  /** Runs dtS whole seconds with the relay held; returns the Wh drawn. */
  advance(dtS: number, relayOn: boolean): number;
  /** The user's requests for the day, in domain units; slotS sizes a profile. */
  requests(slotS: number): ApplianceRequest[];
}

/**
 * The shared part of every model: the second-by-second loop, the relay
 * counters and the contract's checks. A subclass says what one second with
 * the relay closed or open draws, and whether opening the relay now would
 * interrupt its work.
 */
abstract class ApplianceModel implements Appliance {
  abstract readonly kind: RequestKind;
  readonly counters: ApplianceCounters = { deliveredWs: 0, onS: 0, switchings: 0, interruptions: 0, deadlinesMet: 0, deadlinesMissed: 0 };
  private relayOn = false;
  private nowS: number;

  constructor(
    readonly name: string,
    readonly ratedW: number,
    /** Where the model's time starts. */
    readonly startS: number,
  ) {
    this.nowS = startS;
    if (!Number.isInteger(ratedW) || ratedW <= 0) throw new RangeError(`${name}: ratedW must be a positive integer, not ${ratedW}`);
  }

  get tS(): number {
    return this.nowS;
  }

  advance(dtS: number, relayOn: boolean): number {
    if (!Number.isInteger(dtS) || dtS < 0) throw new RangeError(`${this.name}: dtS must be a whole number of seconds >= 0, not ${dtS}`);
    this.userEvents(this.nowS);
    if (relayOn !== this.relayOn) {
      this.counters.switchings++;
      if (!relayOn && this.working()) this.counters.interruptions++;
      this.relayOn = relayOn;
    }
    let ws = 0;
    for (let i = 0; i < dtS; i++) {
      ws += this.second(relayOn);
      this.nowS++;
      this.userEvents(this.nowS);
    }
    this.counters.deliveredWs += ws;
    if (relayOn) this.counters.onS += dtS;
    return ws / 3600;
  }

  powerW(relayOn: boolean): number {
    this.userEvents(this.nowS);
    return relayOn ? this.onW() : 0;
  }

  abstract requests(slotS: number): ApplianceRequest[];
  /** Power in W with the relay closed, in the state at tS. */
  protected abstract onW(): number;
  /** Ws drawn in the second from tS (integer, at most ratedW). */
  protected abstract second(relayOn: boolean): number;
  /** Applies what the user does at time t (load, plug in, leave, deadlines); idempotent. */
  protected abstract userEvents(t: number): void;
  /** True when opening the relay now would stop work in progress. */
  protected abstract working(): boolean;
}

// ---------------------------------------------------------------------------
// Washing machine and dishwasher: a fixed program, non-interruptible.

/** One phase of a program: durationS seconds at powerW. */
export interface ProgramPhase {
  name: string;
  durationS: number;
  powerW: number;
}

/**
 * A 60 degC cotton wash, 2 h, 1,050 Wh: heating the water takes most of the
 * energy; the spin at the end is the second peak.
 */
export const WASHER_PROGRAM: readonly ProgramPhase[] = [
  { name: "fill", durationS: 300, powerW: 100 },
  { name: "heat", durationS: 1200, powerW: 2000 },
  { name: "wash", durationS: 3600, powerW: 200 },
  { name: "rinse", durationS: 1200, powerW: 150 },
  { name: "spin", durationS: 900, powerW: 500 },
];

/** A dishwasher's normal program, 100 min, 883 Wh: two heating phases. */
export const DISHWASHER_PROGRAM: readonly ProgramPhase[] = [
  { name: "prewash", durationS: 300, powerW: 100 },
  { name: "heat", durationS: 900, powerW: 1800 },
  { name: "wash", durationS: 1800, powerW: 150 },
  { name: "heat rinse", durationS: 600, powerW: 1800 },
  { name: "rinse", durationS: 1200, powerW: 100 },
  { name: "dry", durationS: 1200, powerW: 50 },
];

/** The user loads the machine at loadS, lets it start from earliestS and wants it done by endS. */
export interface ProgramRun {
  loadS: number;
  earliestS: number;
  endS: number;
}

export interface ProgramSpec {
  model: "program";
  name: string;
  ratedW: number;
  program: readonly ProgramPhase[];
  /** In time order, not overlapping: a run is loaded only after the previous one is done. */
  runs: ProgramRun[];
}

/** Energy of a program in Ws. */
export function programWs(program: readonly ProgramPhase[]): number {
  return program.reduce((sum, p) => sum + p.durationS * p.powerW, 0);
}

/** Wh per slot of a program started at a slot boundary, each rounded up. */
export function programSlotsWh(program: readonly ProgramPhase[], slotS: number): number[] {
  const slots: number[] = [];
  let t = 0;
  for (const p of program) {
    for (let left = p.durationS; left > 0; ) {
      const slot = Math.floor(t / slotS);
      const take = Math.min(left, (slot + 1) * slotS - t);
      slots[slot] = (slots[slot] ?? 0) + take * p.powerW;
      t += take;
      left -= take;
    }
  }
  return slots.map((ws) => Math.ceil(ws / 3600));
}

/**
 * The states of a program machine:
 *   idle    -> loaded   when the user loads it (loadS)
 *   loaded  -> running  relay closed: the program starts
 *   running -> paused   relay opened mid-program (an interruption, counted)
 *   paused  -> running  relay closed again: it resumes where it stopped
 *   running -> idle     program done; the next run may be loaded
 * The deadline is missed once endS passes before the program is done.
 */
type ProgramState = "idle" | "loaded" | "running" | "paused";

export class ProgramMachine extends ApplianceModel {
  readonly kind = "profile";
  state: ProgramState = "idle";
  /** Seconds of the current program run so far. */
  progressS = 0;
  /** When each finished run was done, in run order. */
  readonly doneAtS: number[] = [];
  private readonly phaseEndS: number[];
  private phase = 0;
  private run = 0;
  private missed = false;

  constructor(
    readonly spec: ProgramSpec,
    startS: number,
  ) {
    super(spec.name, spec.ratedW, startS);
    let end = 0;
    this.phaseEndS = spec.program.map((p) => (end += p.durationS));
    for (const p of spec.program) {
      if (!Number.isInteger(p.durationS) || p.durationS <= 0 || !Number.isInteger(p.powerW) || p.powerW < 0 || p.powerW > spec.ratedW)
        throw new RangeError(`${spec.name}: phase "${p.name}" needs a whole durationS > 0 and a whole powerW in 0..ratedW`);
    }
  }

  get programS(): number {
    return this.phaseEndS[this.phaseEndS.length - 1] ?? 0;
  }

  protected onW(): number {
    return this.state !== "idle" ? this.spec.program[this.phase].powerW : 0;
  }

  requests(slotS: number): ApplianceRequest[] {
    const profileWh = programSlotsWh(this.spec.program, slotS);
    return this.spec.runs.map((r) => ({ kind: "profile", atS: r.loadS, appliance: this.name, earliestS: r.earliestS, endS: r.endS, profileWh: [...profileWh] }));
  }

  protected second(relayOn: boolean): number {
    if (this.state === "idle") return 0;
    if (!relayOn) {
      if (this.state === "running") this.state = "paused";
      return 0;
    }
    this.state = "running";
    const w = this.spec.program[this.phase].powerW;
    this.progressS++;
    if (this.progressS === this.phaseEndS[this.phase]) this.phase++;
    if (this.phase === this.spec.program.length) this.finish(this.tS + 1);
    return w;
  }

  protected userEvents(t: number): void {
    const run = this.spec.runs[this.run];
    if (run === undefined) return;
    if (this.state === "idle" && t >= run.loadS) this.state = "loaded";
    if (!this.missed && this.state !== "idle" && t >= run.endS && this.progressS < this.programS) {
      this.missed = true;
      this.counters.deadlinesMissed++;
    }
  }

  protected working(): boolean {
    return this.state === "running";
  }

  private finish(t: number): void {
    const run = this.spec.runs[this.run];
    this.doneAtS.push(t);
    if (!this.missed) {
      if (t <= run.endS) this.counters.deadlinesMet++;
      else this.counters.deadlinesMissed++;
    }
    this.state = "idle";
    this.progressS = 0;
    this.phase = 0;
    this.missed = false;
    this.run++;
  }
}

// ---------------------------------------------------------------------------
// EV charger: energy by a deadline, interruptible.

/** The car is plugged in at plugS with arriveWh in its battery and leaves at departS; it stops charging at targetWh. */
export interface EvSession {
  plugS: number;
  departS: number;
  arriveWh: number;
  targetWh: number;
}

export interface EvSpec {
  model: "ev";
  name: string;
  /** Charger power, e.g. 3,700 W (16 A, one phase). */
  ratedW: number;
  /** The lowest power the car draws while tapering (6 A: 1,400 W). */
  minW: number;
  /** The car's battery. */
  batteryWh: number;
  /** Above this the car tapers its power down to minW at full. */
  taperFromWh: number;
  /** In time order, not overlapping. */
  sessions: EvSession[];
}

/**
 * The charger draws ratedW while the relay is closed, a car is plugged in
 * and below its target; above taperFromWh the car takes less, linearly down
 * to minW at a full battery; the last second takes only what is missing.
 * The energy counted is what the car takes at the wall (charging losses are
 * folded into the car's figures). At departS the session ends: the deadline
 * is met when the car reached its target.
 */
export class EvCharger extends ApplianceModel {
  readonly kind = "energy";
  /** The car's battery, Ws (while plugged in). */
  socWs = 0;
  plugged = false;
  /** Energy the car lacked at departure, summed over sessions, Wh. */
  shortWh = 0;
  private session = 0;

  constructor(
    readonly spec: EvSpec,
    startS: number,
  ) {
    super(spec.name, spec.ratedW, startS);
    if (!(spec.minW > 0 && spec.minW <= spec.ratedW && spec.taperFromWh <= spec.batteryWh)) throw new RangeError(`${spec.name}: needs 0 < minW <= ratedW and taperFromWh <= batteryWh`);
    for (const s of spec.sessions) {
      if (!(s.arriveWh >= 0 && s.arriveWh <= s.targetWh && s.targetWh <= spec.batteryWh && s.plugS < s.departS)) throw new RangeError(`${spec.name}: a session needs 0 <= arriveWh <= targetWh <= batteryWh and plugS < departS`);
    }
  }

  get socWh(): number {
    return this.socWs / 3600;
  }

  protected onW(): number {
    if (!this.plugged) return 0;
    const target = this.spec.sessions[this.session].targetWh * 3600;
    return Math.min(this.chargeW(), Math.max(0, target - this.socWs));
  }

  requests(): ApplianceRequest[] {
    return this.spec.sessions.map((s) => ({ kind: "energy", atS: s.plugS, appliance: this.name, earliestS: s.plugS, deadlineS: s.departS, wh: s.targetWh - s.arriveWh, maxW: this.ratedW }));
  }

  protected second(relayOn: boolean): number {
    const ws = relayOn ? this.onW() : 0;
    this.socWs += ws;
    return ws;
  }

  protected userEvents(t: number): void {
    const s = this.spec.sessions[this.session];
    if (s === undefined) return;
    if (!this.plugged && t >= s.plugS && t < s.departS) {
      this.plugged = true;
      this.socWs = s.arriveWh * 3600;
    }
    if (t >= s.departS) {
      const short = s.targetWh * 3600 - (this.plugged ? this.socWs : s.arriveWh * 3600);
      if (short <= 0) this.counters.deadlinesMet++;
      else {
        this.counters.deadlinesMissed++;
        this.shortWh += short / 3600;
      }
      this.plugged = false;
      this.session++;
      this.userEvents(t);
    }
  }

  protected working(): boolean {
    return this.onW() > 0;
  }

  /** The car's power limit at its state of charge. */
  private chargeW(): number {
    const { ratedW, minW, batteryWh, taperFromWh } = this.spec;
    const above = this.socWs - taperFromWh * 3600;
    if (above <= 0) return ratedW;
    const span = (batteryWh - taperFromWh) * 3600;
    return Math.max(minW, Math.floor(ratedW - ((ratedW - minW) * above) / span));
  }
}

// ---------------------------------------------------------------------------
// Water heater: a thermal band.

/** Hot water taken from the tank: litres over durationS from atS, replaced by cold water. */
export interface HotWaterDraw {
  atS: number;
  litres: number;
  durationS: number;
}

export interface WaterHeaterSpec {
  model: "water-heater";
  name: string;
  /** Heating element, e.g. 2,000 W. */
  ratedW: number;
  litres: number;
  /** The tank's own thermostat cuts the element at thermostatC ... */
  thermostatC: number;
  /** ... and lets it heat again below thermostatC - hysteresisK. */
  hysteresisK: number;
  /** The band the router should keep; water below minC is too cold to use. */
  minC: number;
  startC: number;
  coldC: number;
  ambientC: number;
  /** Standby loss per kelvin above ambient (a 150 l tank: about 1.6 W/K, 1.6 kWh a day at 60 degC). */
  lossWPerK: number;
  draws: HotWaterDraw[];
}

/** Heat capacity of water: 4,186 J per litre and kelvin. */
const WATER_J_PER_LK = 4186;

/**
 * A fully mixed tank: the element heats at ratedW while the relay is closed
 * and the thermostat calls for heat, never above thermostatC (the second
 * that reaches it takes only what is missing); the tank loses heat to the
 * ambient air; a draw replaces hot water with cold. The temperature stays
 * between the coldest of coldC, ambientC, startC and thermostatC.
 */
export class WaterHeater extends ApplianceModel {
  readonly kind = "thermal";
  tempC: number;
  minSeenC: number;
  maxSeenC: number;
  /** Seconds below the band's minC. */
  belowBandS = 0;
  /** Draws that began with the tank below minC: a cold shower. */
  coldDraws = 0;
  /** The thermostat's own state (closed: it calls for heat). */
  private thermostatClosed: boolean;
  private readonly capacityJPerK: number;

  constructor(
    readonly spec: WaterHeaterSpec,
    startS: number,
  ) {
    super(spec.name, spec.ratedW, startS);
    if (!(spec.litres > 0 && spec.coldC < spec.minC && spec.minC < spec.thermostatC && spec.startC <= spec.thermostatC && spec.hysteresisK >= 0))
      throw new RangeError(`${spec.name}: needs litres > 0, coldC < minC < thermostatC, startC <= thermostatC`);
    this.tempC = this.minSeenC = this.maxSeenC = spec.startC;
    this.capacityJPerK = spec.litres * WATER_J_PER_LK;
    this.thermostatClosed = spec.startC <= spec.thermostatC - spec.hysteresisK;
  }

  protected onW(): number {
    return this.thermostatClosed ? this.spec.ratedW : 0;
  }

  /**
   * One request for the day: the standby loss in the middle of the band and
   * the heat of the planned draws, spread evenly over hourly windows; the
   * router may shift it inside the tank's inertia.
   */
  requests(): ApplianceRequest[] {
    const s = this.spec;
    const windowS = 3600;
    const dayS = 86400;
    const midC = (s.minC + s.thermostatC) / 2;
    const lossWs = s.lossWPerK * (midC - s.ambientC) * dayS;
    const drawWs = s.draws.reduce((sum, d) => sum + d.litres * WATER_J_PER_LK * (midC - s.coldC), 0);
    const whPerWindow = Math.ceil((lossWs + drawWs) / 3600 / (dayS / windowS));
    return [{ kind: "thermal", atS: this.startS, appliance: this.name, earliestS: this.startS, endS: this.startS + dayS, whPerWindow, windowS, maxW: this.ratedW, minC: s.minC, maxC: s.thermostatC }];
  }

  protected second(relayOn: boolean): number {
    const s = this.spec;
    let ws = 0;
    if (relayOn && this.thermostatClosed) {
      ws = Math.min(s.ratedW, Math.floor((s.thermostatC - this.tempC) * this.capacityJPerK));
      this.tempC = Math.min(s.thermostatC, this.tempC + ws / this.capacityJPerK);
      if (ws < s.ratedW) this.thermostatClosed = false;
    }
    // Loss to the air around, then the draws of this second.
    this.tempC -= (s.lossWPerK * (this.tempC - s.ambientC)) / this.capacityJPerK;
    for (const d of s.draws) {
      if (this.tS < d.atS || this.tS >= d.atS + d.durationS) continue;
      if (this.tS === d.atS && this.tempC < s.minC) this.coldDraws++;
      const share = Math.min(1, d.litres / d.durationS / s.litres);
      this.tempC -= share * (this.tempC - s.coldC);
    }
    if (this.tempC <= s.thermostatC - s.hysteresisK) this.thermostatClosed = true;
    if (this.tempC < s.minC) this.belowBandS++;
    this.minSeenC = Math.min(this.minSeenC, this.tempC);
    this.maxSeenC = Math.max(this.maxSeenC, this.tempC);
    return ws;
  }

  protected userEvents(): void {
    // The draws act inside second(); nothing else happens at a given time.
  }

  protected working(): boolean {
    return this.thermostatClosed;
  }
}

export type ApplianceSpec = ProgramSpec | EvSpec | WaterHeaterSpec;

/** A fresh model of a spec, its time starting at startS. */
export function createAppliance(spec: ApplianceSpec, startS: number): ProgramMachine | EvCharger | WaterHeater {
  switch (spec.model) {
    case "program":
      return new ProgramMachine(spec, startS);
    case "ev":
      return new EvCharger(spec, startS);
    case "water-heater":
      return new WaterHeater(spec, startS);
  }
}
