// Relay safety, in one place below the scheduler (design section 2,
// "Executing"; style habit 6): whatever the caller asks, no relay switches
// faster than its minimum on/off times and the rated power of the relays
// that are on never sums above the main fuse. A switch that is not allowed
// is refused with a code, counted and reported through onRefused, never
// dropped silently.
//
// Timing rules, per channel (times from the Clock, ms since boot):
//   | state | request | allowed when                                  | else          |
//   | off   | on      | now >= lastSwitch + minOffS, load + ratedW <= fuse | MIN_OFF, FUSE |
//   | on    | off     | now >= lastSwitch + minOnS                     | MIN_ON        |
//   | x     | x       | always (nothing is written)                    |               |
// Boot counts as a switching: after a reboot a compressor that was just cut
// off is not started again within its minOffS, and a relay on at boot stays
// on for its minOnS.

import type { Clock, DigitalOut, DigitalOutOptions } from "./types";

/** The switch was made, or the channel already was in the asked state. */
export const RELAY_OK = 0;
/** No channel with that index. */
export const RELAY_UNKNOWN = 1;
/** The channel is on and has not been on for its minOnS yet. */
export const RELAY_MIN_ON = 2;
/** The channel is off and has not been off for its minOffS yet. */
export const RELAY_MIN_OFF = 3;
/** Switching on would take the load of the relays that are on above fuseLimitW. */
export const RELAY_FUSE = 4;
/** close() was called; the pins are no longer driven. */
export const RELAY_CLOSED = 5;
/** Number of codes, for the refusal counters (index = code). */
export const RELAY_CODES = 6;

/** retryAtMs for a refusal that no waiting can cure (unknown channel, closed). */
export const RELAY_NEVER = -1;

export interface RelayChannel {
  /** The pin that drives the relay coil, e.g. "D25". */
  pin: string;
  /** Rated power of what the relay switches; counts against the fuse. */
  ratedW: number;
  /** The state written before the pin becomes an output. */
  bootOn: boolean;
  /** Minimum time on once switched on, and off once switched off. */
  minOnS: number;
  minOffS: number;
}

/** Called for every refused switch; retryAtMs is in clock ms (RELAY_NEVER: never). */
export type RelayRefusedHandler = (channel: number, on: boolean, code: number, retryAtMs: number) => void;

export interface RelaysOptions {
  clock: Clock;
  /** Opens a pin as an output with its first level (Hal.digitalOut). */
  open: (o: DigitalOutOptions) => DigitalOut;
  channels: RelayChannel[];
  /** Main fuse: the ratedW of relays that are on never sums above it. */
  fuseLimitW: number;
  onRefused?: RelayRefusedHandler;
}

function isWhole(v: unknown, max: number): boolean {
  return typeof v === "number" && Math.floor(v) === v && v >= 0 && v <= max;
}

/** Every problem with the options, "field: message"; thrown before any pin is touched. */
function checkOptions(o: RelaysOptions): string[] {
  const problems: string[] = [];
  if (!isWhole(o.fuseLimitW, 1000000)) problems.push("fuseLimitW: must be a whole number of W from 0 to 1000000; got " + o.fuseLimitW);
  const ch = o.channels;
  let bootW = 0;
  for (let i = 0; i < ch.length; i++) {
    const c = ch[i];
    const f = "channels[" + i + "].";
    if (typeof c.pin !== "string" || c.pin.length === 0) problems.push(f + "pin: must be a pin name; got " + c.pin);
    if (!isWhole(c.ratedW, 1000000)) problems.push(f + "ratedW: must be a whole number of W from 0 to 1000000; got " + c.ratedW);
    if (!isWhole(c.minOnS, 86400)) problems.push(f + "minOnS: must be a whole number of s from 0 to 86400; got " + c.minOnS);
    if (!isWhole(c.minOffS, 86400)) problems.push(f + "minOffS: must be a whole number of s from 0 to 86400; got " + c.minOffS);
    for (let j = 0; j < i; j++) {
      if (ch[j].pin === c.pin) problems.push(f + "pin: " + c.pin + " is already used by channels[" + j + "]");
    }
    if (c.bootOn === true) bootW += c.ratedW;
  }
  if (problems.length === 0 && bootW > o.fuseLimitW) {
    problems.push("channels[].bootOn: channels on at boot draw " + bootW + " W, above fuseLimitW " + o.fuseLimitW + " W; set bootOn false on some");
  }
  return problems;
}

export class Relays {
  private readonly clock: Clock;
  private readonly onRefused: RelayRefusedHandler | undefined;
  private readonly fuseLimitW: number;
  private readonly pins: DigitalOut[] = [];
  private readonly on: Uint8Array;
  private readonly ratedW: Uint32Array;
  private readonly minOnMs: Uint32Array;
  private readonly minOffMs: Uint32Array;
  /** Clock ms of the last switching of each channel (boot counts as one). */
  private readonly lastSwitchMs: Float64Array;
  private readonly switchCount: Uint32Array;
  /** Refusals by code (index = RELAY_* code). */
  private readonly refusedCount: Uint32Array;
  /** Sum of ratedW of the channels that are on, kept as they switch. */
  private load = 0;
  private closed = false;

  constructor(options: RelaysOptions) {
    const problems = checkOptions(options);
    if (problems.length > 0) throw new Error("Relays: " + problems.join("; "));
    const ch = options.channels;
    const n = ch.length;
    this.clock = options.clock;
    this.onRefused = options.onRefused;
    this.fuseLimitW = options.fuseLimitW;
    this.on = new Uint8Array(n);
    this.ratedW = new Uint32Array(n);
    this.minOnMs = new Uint32Array(n);
    this.minOffMs = new Uint32Array(n);
    this.lastSwitchMs = new Float64Array(n);
    this.switchCount = new Uint32Array(n);
    this.refusedCount = new Uint32Array(RELAY_CODES);
    const bootMs = this.clock.nowMs();
    for (let i = 0; i < n; i++) {
      const c = ch[i];
      const level = c.bootOn === true ? 1 : 0;
      this.on[i] = level;
      this.ratedW[i] = c.ratedW;
      this.minOnMs[i] = c.minOnS * 1000;
      this.minOffMs[i] = c.minOffS * 1000;
      this.lastSwitchMs[i] = bootMs;
      if (level) this.load += c.ratedW;
      // The level is written before the pin becomes an output (DigitalOutOptions.value).
      this.pins.push(options.open({ pin: c.pin, value: level }));
    }
  }

  /**
   * After a reboot, lets a channel that was on when power went back on at
   * once: a non-interruptible program (a washing machine) must not wait out
   * a minimum off time that guarded no switching of ours. Only for a channel
   * not switched since boot; the fuse still applies when it is set().
   * Returns whether the channel may now be switched on.
   */
  resume(channel: number): boolean {
    if (!this.known(channel) || this.on[channel] === 1 || this.switchCount[channel] !== 0) return false;
    this.lastSwitchMs[channel] = this.clock.nowMs() - this.minOffMs[channel];
    return true;
  }

  /** Number of channels. */
  count(): number {
    return this.on.length;
  }

  /** Whether a channel is on (false for an unknown channel). */
  isOn(channel: number): boolean {
    return this.known(channel) && this.on[channel] === 1;
  }

  /** Sum of ratedW of the channels that are on. */
  loadW(): number {
    return this.load;
  }

  /** Switchings made through set() and allOff() since construction (boot not counted). */
  switchings(channel: number): number {
    return this.known(channel) ? this.switchCount[channel] : 0;
  }

  /** How many switches were refused with a code (RELAY_UNKNOWN ... RELAY_CLOSED). */
  refusals(code: number): number {
    return code >= 0 && code < RELAY_CODES ? this.refusedCount[code] : 0;
  }

  /**
   * When the minimum on/off timers allow the channel to reach `on`, in clock
   * ms (now or earlier when they allow it already; RELAY_NEVER for an
   * unknown channel). The fuse is not a timer: it depends on the others.
   */
  retryAtMs(channel: number, on: boolean): number {
    if (!this.known(channel)) return RELAY_NEVER;
    const want = on ? 1 : 0;
    if (this.on[channel] === want) return this.lastSwitchMs[channel];
    return this.lastSwitchMs[channel] + (want ? this.minOffMs[channel] : this.minOnMs[channel]);
  }

  /**
   * Asks for a channel to be on or off. Returns RELAY_OK when it is (asking
   * for the state it already has writes nothing), else the refusal code,
   * which is also counted and passed to onRefused with its retry time.
   */
  set(channel: number, on: boolean): number {
    if (this.closed) return this.refuse(channel, on, RELAY_CLOSED, RELAY_NEVER);
    if (!this.known(channel)) return this.refuse(channel, on, RELAY_UNKNOWN, RELAY_NEVER);
    const want = on ? 1 : 0;
    if (this.on[channel] === want) return RELAY_OK;
    const retryMs = this.retryAtMs(channel, on);
    if (this.clock.nowMs() < retryMs) return this.refuse(channel, on, want ? RELAY_MIN_OFF : RELAY_MIN_ON, retryMs);
    if (want && this.load + this.ratedW[channel] > this.fuseLimitW) return this.refuse(channel, on, RELAY_FUSE, retryMs);
    this.apply(channel, want);
    return RELAY_OK;
  }

  /**
   * The safe state: switches off every channel that may switch off now.
   * Channels held on by their minOnS are reported (RELAY_MIN_ON) and stay
   * on; call again at their retry time. Returns how many are still on.
   */
  allOff(): number {
    let held = 0;
    for (let i = 0; i < this.on.length; i++) {
      if (this.on[i] === 1 && this.set(i, false) !== RELAY_OK) held++;
    }
    return held;
  }

  /** Releases the pins; they keep their last level. No callback fires afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = 0; i < this.pins.length; i++) this.pins[i].close();
  }

  private known(channel: number): boolean {
    return typeof channel === "number" && Math.floor(channel) === channel && channel >= 0 && channel < this.on.length;
  }

  private apply(channel: number, want: number): void {
    this.pins[channel].write(want ? 1 : 0);
    this.on[channel] = want;
    this.lastSwitchMs[channel] = this.clock.nowMs();
    this.switchCount[channel]++;
    this.load += want ? this.ratedW[channel] : -this.ratedW[channel];
  }

  private refuse(channel: number, on: boolean, code: number, retryAtMs: number): number {
    this.refusedCount[code]++;
    if (!this.closed && this.onRefused) this.onRefused(channel, on, code, retryAtMs);
    return code;
  }
}
