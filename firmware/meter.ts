// S0 pulse metering (design section 2, "Metering"). An S0 output (IEC
// 62053-31) closes for at least 30 ms per impulse; the meter measures each
// pulse between its rising and falling edge and counts it only when it is at
// least minWidthMs wide (shorter ones are noise: a ghost edge, a spike on a
// long cable). Contact bounce shorter than debounceMs never reaches us: the
// HAL's edge input filters it.
//
// Energy is counted in integers, exactly: each pulse adds 1000 to a
// remainder, and whole Wh are carried out of it at pulsesPerKwh, so that
// Wh = floor(pulses * 1000 / pulsesPerKwh) at any moment, whatever the rate.
//
// Totals survive reboots through crash-safe records (hal/records.ts): they
// are saved synchronously, in the edge callback, before another pulse's
// energy could take the unsaved amount of an input past saveThresholdWh, so
// a power cut at any moment loses at most saveThresholdWh per input. (With
// fewer than 1000 pulses per kWh one pulse carries up to ceil(1000 /
// pulsesPerKwh) Wh, so the save comes that much before the threshold; a
// single pulse worth more than the threshold cannot be split, and then every
// pulse is saved.)

import type { Clock, EdgeInput, EdgeInputOptions, Level } from "../hal/types";
import type { RecordStore } from "../hal/records";

export interface MeterInput {
  /** The S0 input pin. */
  pin: string;
  /** Impulses per kWh, printed on the meter (e.g. 1000 or 800 imp/kWh). */
  pulsesPerKwh: number;
  /** Pulses shorter than this are noise (S0 pulses last at least 30 ms). */
  minWidthMs: number;
  /** Contact bounce filter, passed to the edge input. */
  debounceMs: number;
}


export interface PulseMeterOptions {
  clock: Clock;
  /** Opens an input pin that reports its debounced edges (Hal.edgeInput). */
  watch: (o: EdgeInputOptions) => EdgeInput;
  inputs: MeterInput[];
  records: RecordStore;
  /** Totals are saved before any input's unsaved energy passes this. */
  saveThresholdWh: number;
}

// Record layout, little-endian uint32 words:
//   | word      | field                                                  |
//   | 0         | layout version (METER_RECORD_VERSION)                  |
//   | 1         | input count n                                          |
//   | 2         | boot count                                             |
//   | 3 + 3i    | input i: pulses (a 32-bit counter, wraps at 2^32)      |
//   | 4 + 3i    | input i: Wh (the monotonic total)                      |
//   | 5 + 3i    | input i: remainder, Wh * pulsesPerKwh units (< ppk)    |
// Words 0-2 keep their meaning in every version, so the boot count carries
// over any layout change. What is restored from a record that does not fit
// the configuration:
//   - another version (a newer firmware's, or garbage): only the boot count;
//     the totals start again at 0 (the server sees the boot count go up and
//     the totals go back, and can tell a reset from a lost record);
//   - another input count: inputs are matched by position (config order);
//     inputs present in both are restored, added ones start at 0, the totals
//     of removed ones are dropped at the next save;
//   - words missing for the count it states: as another version;
//   - a remainder not below pulsesPerKwh (the meter on that input was
//     replaced by one with another constant): its whole Wh are carried, so
//     the total never goes back.
export const METER_RECORD_VERSION = 1;
const HEADER_WORDS = 3;
const WORDS_PER_INPUT = 3;
/** ms * W per Wh: P[W] = (1000 / ppk) Wh * 3600000 / dt[ms]. */
const MS_W_PER_KWH = 3600000000;

function check(ok: boolean, field: string, msg: string, got: unknown): void {
  if (!ok) throw new Error("PulseMeter: " + field + ": " + msg + "; got " + got);
}

function isWhole(v: unknown, min: number, max: number): boolean {
  return typeof v === "number" && Math.floor(v) === v && v >= min && v <= max;
}

export class PulseMeter {
  private boots = 0;
  private failedSaves = 0;
  private lastError = 0;
  private readonly clock: Clock;
  private readonly records: RecordStore;
  private readonly thresholdWh: number;
  private readonly n: number;
  private readonly watches: EdgeInput[] = [];
  private readonly ppk: Uint32Array;
  private readonly minWidthMs: Uint32Array;
  /** The most Wh one pulse can add: ceil(1000 / ppk). */
  private readonly stepWh: Uint32Array;
  private readonly pulseCount: Uint32Array;
  private readonly whTotal: Uint32Array;
  private readonly remainder: Uint32Array;
  private readonly noiseCount: Uint32Array;
  /** whTotal at the last successful save. */
  private readonly savedWh: Uint32Array;
  /** whTotal at the last save attempt, failed ones included (the next is a threshold later). */
  private readonly attemptWh: Uint32Array;
  /** 1 while the input is high and its rising edge time is known. */
  private readonly high: Uint8Array;
  private readonly riseMs: Float64Array;
  /** Rising edges of the last two counted pulses (-1: none yet). */
  private readonly lastPulseMs: Float64Array;
  private readonly prevPulseMs: Float64Array;
  /** One buffer for every save: no allocation per pulse. */
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  /** A pulse was counted since the last successful save. */
  private dirty = false;
  private closed = false;

  constructor(options: PulseMeterOptions) {
    const inputs = options.inputs;
    const n = inputs.length;
    check(isWhole(options.saveThresholdWh, 1, 1000000), "saveThresholdWh", "must be a whole number of Wh from 1 to 1000000", options.saveThresholdWh);
    for (let i = 0; i < n; i++) {
      const m = inputs[i];
      const f = "inputs[" + i + "].";
      check(isWhole(m.pulsesPerKwh, 1, 1000000), f + "pulsesPerKwh", "must be a whole number of impulses per kWh from 1 to 1000000", m.pulsesPerKwh);
      check(isWhole(m.minWidthMs, 0, 60000), f + "minWidthMs", "must be a whole number of ms from 0 to 60000", m.minWidthMs);
      check(isWhole(m.debounceMs, 0, 60000), f + "debounceMs", "must be a whole number of ms from 0 to 60000", m.debounceMs);
    }
    this.clock = options.clock;
    this.records = options.records;
    this.thresholdWh = options.saveThresholdWh;
    this.n = n;
    this.ppk = new Uint32Array(n);
    this.minWidthMs = new Uint32Array(n);
    this.stepWh = new Uint32Array(n);
    this.pulseCount = new Uint32Array(n);
    this.whTotal = new Uint32Array(n);
    this.remainder = new Uint32Array(n);
    this.noiseCount = new Uint32Array(n);
    this.savedWh = new Uint32Array(n);
    this.attemptWh = new Uint32Array(n);
    this.high = new Uint8Array(n);
    this.riseMs = new Float64Array(n);
    this.lastPulseMs = new Float64Array(n);
    this.prevPulseMs = new Float64Array(n);
    this.buf = new Uint8Array((HEADER_WORDS + WORDS_PER_INPUT * n) * 4);
    this.view = new DataView(this.buf.buffer);
    for (let i = 0; i < n; i++) {
      this.ppk[i] = inputs[i].pulsesPerKwh;
      this.minWidthMs[i] = inputs[i].minWidthMs;
      this.stepWh[i] = Math.ceil(1000 / inputs[i].pulsesPerKwh);
      this.lastPulseMs[i] = -1;
      this.prevPulseMs[i] = -1;
    }
    this.restore(this.records.load());
    this.boots++;
    this.save();
    const now = this.clock.nowMs();
    for (let i = 0; i < n; i++) {
      const w = options.watch({ pin: inputs[i].pin, debounceMs: inputs[i].debounceMs, onEdge: this.edgeHandler(i) });
      this.watches.push(w);
      // A pulse already under way at boot is at least this wide from now on.
      if (w.read() === 1) {
        this.high[i] = 1;
        this.riseMs[i] = now;
      }
    }
  }

  /** Starts of this firmware since the record began (this one included). */
  get bootCount(): number {
    return this.boots;
  }

  /** Saves that failed since boot (the records' code is in lastSaveError). */
  get saveErrors(): number {
    return this.failedSaves;
  }

  /** The code of the latest save when it failed (such as REC_FULL), 0 when it succeeded. */
  get lastSaveError(): number {
    return this.lastError;
  }

  /** Pulses counted on input i (a 32-bit counter; energy is in wh()). */
  pulses(i: number): number {
    return this.pulseCount[i] || 0;
  }

  /** Energy counted on input i since the record began, in whole Wh. */
  wh(i: number): number {
    return this.whTotal[i] || 0;
  }

  /** Pulses on input i shorter than its minWidthMs, since boot. */
  noise(i: number): number {
    return this.noiseCount[i] || 0;
  }

  /** Wh on input i that a power cut now would lose. */
  unsavedWh(i: number): number {
    return i >= 0 && i < this.n ? this.whTotal[i] - this.savedWh[i] : 0;
  }

  /**
   * Live power on input i, in whole W, from the interval between the rising
   * edges of its last two pulses; when the next pulse is later than that
   * interval, the time since the last pulse bounds it, so the figure falls
   * towards 0 when the load stops. 0 before two pulses were seen.
   */
  powerW(i: number): number {
    if (!(i >= 0 && i < this.n) || this.prevPulseMs[i] < 0) return 0;
    let dtMs = this.lastPulseMs[i] - this.prevPulseMs[i];
    const sinceMs = this.clock.nowMs() - this.lastPulseMs[i];
    if (sinceMs > dtMs) dtMs = sinceMs;
    if (!(dtMs > 0)) return 0;
    return Math.round(MS_W_PER_KWH / (this.ppk[i] * dtMs));
  }

  /**
   * Saves the totals now if anything was counted since the last save (before
   * a controlled restart). Returns 0, or the records' error code.
   */
  flush(): number {
    return this.dirty ? this.save() : 0;
  }

  /**
   * Takes the boot count and totals the server kept for this router, after
   * its flash was wiped: the boot count continues above the server's, and
   * no total goes back. Returns 0, or the records' error code.
   */
  adopt(bootCount: number, totalsWh: number[]): number {
    if (bootCount >= this.boots) this.boots = bootCount + 1;
    for (let i = 0; i < this.n && i < totalsWh.length; i++) if (totalsWh[i] > this.whTotal[i]) this.whTotal[i] = totalsWh[i];
    return this.save();
  }

  /** Stops watching the inputs; no edge is counted afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = 0; i < this.watches.length; i++) this.watches[i].close();
  }

  /** One handler per input, made once (not per edge). */
  private edgeHandler(i: number): (level: Level, timeMs: number) => void {
    return (level, timeMs) => this.edge(i, level, timeMs);
  }

  private edge(i: number, level: Level, timeMs: number): void {
    if (this.closed) return;
    if (level === 1) {
      this.high[i] = 1;
      this.riseMs[i] = timeMs;
      return;
    }
    if (this.high[i] === 0) return;
    this.high[i] = 0;
    if (timeMs - this.riseMs[i] < this.minWidthMs[i]) {
      this.noiseCount[i]++;
      return;
    }
    this.count(i, this.riseMs[i]);
  }

  private count(i: number, riseMs: number): void {
    const ppk = this.ppk[i];
    this.pulseCount[i]++;
    let rem = this.remainder[i] + 1000;
    if (rem >= ppk) {
      const whole = Math.floor(rem / ppk);
      this.whTotal[i] += whole;
      rem -= whole * ppk;
    }
    this.remainder[i] = rem;
    this.prevPulseMs[i] = this.lastPulseMs[i];
    this.lastPulseMs[i] = riseMs;
    this.dirty = true;
    // Save before the next pulse could take the unsaved energy past the threshold.
    if (this.whTotal[i] - this.attemptWh[i] + this.stepWh[i] > this.thresholdWh) this.save();
  }

  /** Writes every total; on failure counting goes on and the next threshold retries. */
  private save(): number {
    const v = this.view;
    v.setUint32(0, METER_RECORD_VERSION, true);
    v.setUint32(4, this.n, true);
    v.setUint32(8, this.boots, true);
    for (let i = 0; i < this.n; i++) {
      const at = (HEADER_WORDS + WORDS_PER_INPUT * i) * 4;
      v.setUint32(at, this.pulseCount[i], true);
      v.setUint32(at + 4, this.whTotal[i], true);
      v.setUint32(at + 8, this.remainder[i], true);
    }
    this.attemptWh.set(this.whTotal);
    const code = this.records.save(this.buf);
    if (code !== 0) {
      this.failedSaves++;
      this.lastError = code;
      return code;
    }
    this.savedWh.set(this.whTotal);
    this.dirty = false;
    this.lastError = 0;
    return 0;
  }

  /** Takes the totals from a record; see the layout above for what does not fit. */
  private restore(data: Uint8Array | undefined): void {
    if (!data || data.length < HEADER_WORDS * 4) return;
    const v = new DataView(data.buffer, data.byteOffset, data.length);
    this.boots = v.getUint32(8, true);
    const stored = v.getUint32(4, true);
    if (v.getUint32(0, true) !== METER_RECORD_VERSION || data.length < (HEADER_WORDS + WORDS_PER_INPUT * stored) * 4) return;
    const k = stored < this.n ? stored : this.n;
    for (let i = 0; i < k; i++) {
      const at = (HEADER_WORDS + WORDS_PER_INPUT * i) * 4;
      const ppk = this.ppk[i];
      let wh = v.getUint32(at + 4, true);
      let rem = v.getUint32(at + 8, true);
      if (rem >= ppk) {
        wh += Math.floor(rem / ppk);
        rem = rem % ppk;
      }
      this.pulseCount[i] = v.getUint32(at, true);
      this.whTotal[i] = wh;
      this.remainder[i] = rem;
    }
    this.savedWh.set(this.whTotal);
    this.attemptWh.set(this.whTotal);
  }
}
