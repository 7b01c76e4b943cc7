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
/** Number of codes, for the refusal counters (index = code). */
export const RELAY_CODES = 5;

/** retryAtMs for a refusal that no waiting can cure (an unknown channel). */
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
  /** Main fuse (the configuration's fuseLimitW): the ratedW of relays that are on never sums above it. */
  fuseW: number;
  onRefused?: RelayRefusedHandler;
}

export class Relays {
  private readonly clk: Clock;
  private readonly onRefused: RelayRefusedHandler | undefined;
  /** The fuse limit, W (read only). */
  readonly fuse: number;
  private readonly pins: DigitalOut[] = [];
  /** 1 for a channel that is on, 0 for one that is off; one per channel (read only). */
  readonly lvl: Uint8Array;
  private readonly watts: Uint32Array;
  /** Minimum ms before channel c may switch to level v: hold[2c + v] (on: minOffS, off: minOnS). */
  private readonly hold: Uint32Array;
  /** Clock ms of the last switching of each channel (boot counts as one). */
  private readonly lastSwitchMs: Float64Array;
  /** Switchings of each channel made through set() and allOff() since construction, boot not counted (read only). */
  readonly switchCount: Uint32Array;
  /** Refusals by code (index = RELAY_* code). */
  private readonly refusedCount: Uint32Array;
  /** Sum of ratedW of the channels that are on, kept as they switch (read only). */
  onW = 0;

  /**
   * The options are not checked here: the router builds Relays only from a
   * configuration validateConfig accepted (firmware/config.ts: whole ratedW,
   * minOnS and minOffS in range, pins valid and not used twice, and the
   * channels on at boot within fuseLimitW).
   */
  constructor(options: RelaysOptions) {
    const ch = options.channels;
    const n = ch.length;
    this.clk = options.clock;
    this.onRefused = options.onRefused;
    this.fuse = options.fuseW;
    this.lvl = new Uint8Array(n);
    this.watts = new Uint32Array(n);
    this.hold = new Uint32Array(2 * n);
    this.lastSwitchMs = new Float64Array(n).fill(this.clk.nowMs());
    this.switchCount = new Uint32Array(n);
    this.refusedCount = new Uint32Array(RELAY_CODES);
    for (let i = 0; i < n; i++) {
      const c = ch[i];
      const v = c.bootOn ? 1 : 0;
      this.lvl[i] = v;
      this.watts[i] = c.ratedW;
      this.hold[2 * i] = c.minOnS * 1000;
      this.hold[2 * i + 1] = c.minOffS * 1000;
      this.onW += v * c.ratedW;
      // The level is written before the pin becomes an output (DigitalOutOptions.value).
      this.pins.push(options.open({ pin: c.pin, value: v }));
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
    // (An unknown channel reads undefined: not 0.)
    if (this.lvl[channel] || this.switchCount[channel] !== 0) return false;
    this.lastSwitchMs[channel] = this.clk.nowMs() - this.hold[2 * channel + 1];
    return true;
  }

  /**
   * Keeps a channel as it is for ms more than its minimum time (R.identify's
   * click: the scheduler leaves it until then). Only delays switchings.
   */
  keep(channel: number, ms: number): void {
    this.lastSwitchMs[channel] += ms;
  }

  /** Whether a channel is on (false for an unknown channel). */
  isOn(channel: number): boolean {
    return this.lvl[channel] === 1;
  }

  /** How many switches were refused with a code (RELAY_UNKNOWN ... RELAY_FUSE). */
  refusals(code: number): number {
    return this.refusedCount[code];
  }

  /**
   * When the minimum on/off timers allow the channel to reach `on`, in clock
   * ms (now or earlier when they allow it already; RELAY_NEVER for an
   * unknown channel). The fuse is not a timer: it depends on the others.
   */
  retryAtMs(channel: number, on: boolean): number {
    const v = on ? 1 : 0;
    // A whole number in range (Espruino throws on a typed array index that is not).
    if (!(channel >>> 0 === channel && channel < this.lvl.length)) return RELAY_NEVER;
    return this.lastSwitchMs[channel] + (this.lvl[channel] === v ? 0 : this.hold[2 * channel + v]);
  }

  /**
   * Asks for a channel to be on or off. Returns RELAY_OK when it is (asking
   * for the state it already has writes nothing), else the refusal code,
   * which is also counted and passed to onRefused with its retry time.
   */
  set(channel: number, on: boolean): number {
    const v = on ? 1 : 0;
    const retry = this.retryAtMs(channel, on);
    const code = retry === RELAY_NEVER ? RELAY_UNKNOWN : this.lvl[channel] === v ? RELAY_OK : this.clk.nowMs() < retry ? (v ? RELAY_MIN_OFF : RELAY_MIN_ON) : v && this.onW + this.watts[channel] > this.fuse ? RELAY_FUSE : -1;
    if (code < 0) {
      this.pins[channel].write(v);
      this.lvl[channel] = v;
      this.lastSwitchMs[channel] = this.clk.nowMs();
      this.switchCount[channel]++;
      this.onW += (2 * v - 1) * this.watts[channel];
      return RELAY_OK;
    }
    if (code) {
      this.refusedCount[code]++;
      if (this.onRefused) this.onRefused(channel, on, code, retry);
    }
    return code;
  }

  /**
   * The safe state: switches off every channel that may switch off now.
   * Channels held on by their minOnS are reported (RELAY_MIN_ON) and stay
   * on; call again at their retry time. Returns how many are still on.
   */
  allOff(): number {
    let held = 0;
    for (let i = 0; i < this.lvl.length; i++) if (this.lvl[i] && this.set(i, false)) held++;
    return held;
  }
}
