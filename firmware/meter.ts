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
  /** Shown by R.status(). */
  name: string;
  /** The S0 input pin. */
  pin: string;
  /** Impulses per kWh, printed on the meter (e.g. 1000 or 800 imp/kWh). */
  pulsesPerKwh: number;
  /** Pulses shorter than this are noise (S0 pulses last at least 30 ms). */
  minWidthMs: number;
  /** Contact bounce filter, passed to the edge input. */
  debounceMs: number;
}


/** An input's figures, as R.status() shows them. */
export interface MeterReading {
  name: string;
  /** Pulses counted (a 32-bit counter; energy is in wh). */
  pulses: number;
  /** Energy counted since the record began, in whole Wh. */
  wh: number;
  /** Pulses shorter than minWidthMs, since boot. */
  noise: number;
  /** Live power, whole W (see readings()). */
  powerW: number;
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

// Record layout, uint32 words in the board's byte order (little-endian on
// every Espruino board, as on the hosts the tests run on):
//   | word      | field                                                  |
//   | 0         | layout version (METER_RECORD_VERSION)                  |
//   | 1         | input count n                                          |
//   | 2         | boot count                                             |
//   | 3 + 3i    | input i: pulses (a 32-bit counter, wraps at 2^32)      |
//   | 4 + 3i    | input i: Wh (the monotonic total)                      |
//   | 5 + 3i    | input i: remainder, Wh * pulsesPerKwh units (< ppk)    |
// The meter counts in the record itself: a save writes it as it is.
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
/** ms * W per Wh: P[W] = (1000 / ppk) Wh * 3600000 / dt[ms]. */
const MS_W_PER_KWH = 3600000000;

/**
 * The options are not checked here: the router builds the meter only from a
 * configuration validateConfig accepted (firmware/config.ts: whole
 * pulsesPerKwh, minWidthMs, debounceMs and meterSaveWh in range).
 */
export class PulseMeter {
  /** The code of the latest save when it failed (such as REC_FULL), 0 when it succeeded. */
  lastSaveError = 0;
  private readonly clk: Clock;
  private readonly names: string[];
  private readonly records: RecordStore;
  private readonly thresholdWh: number;
  private readonly ppk: Uint32Array;
  private readonly minMs: Uint32Array;
  private readonly noiseCount: Uint32Array;
  /** The record (layout above), counted in; its bytes are what a save writes. */
  private readonly rec: Uint32Array;
  private readonly bytes: Uint8Array;
  /** The record at the last save attempt, failed ones included (the next is a threshold later). */
  private readonly tried: Uint32Array;
  /** Rising edge of the pulse under way on each input (-1: the input is low, or its rise unknown). */
  private readonly riseMs: Float64Array;
  /** Rising edges of the last two counted pulses of input i at 2i and 2i + 1 (-1: none yet). */
  private readonly pulseMs: Float64Array;

  constructor(options: PulseMeterOptions) {
    const inputs = options.inputs;
    const n = inputs.length;
    const words = 3 + 3 * n;
    this.clk = options.clock;
    this.names = inputs.map((m) => m.name);
    this.records = options.records;
    this.thresholdWh = options.saveThresholdWh;
    this.ppk = new Uint32Array(n);
    this.minMs = new Uint32Array(n);
    this.noiseCount = new Uint32Array(n);
    const rec = (this.rec = new Uint32Array(words));
    const bytes = (this.bytes = new Uint8Array(rec.buffer));
    this.tried = new Uint32Array(words);
    this.riseMs = new Float64Array(n).fill(-1);
    this.pulseMs = new Float64Array(2 * n).fill(-1);
    // Restore: the boot count from any record, the totals from one that fits.
    const r = this.records.load();
    if (r && r.length >= 12) {
      bytes.set(r.subarray(0, 12));
      const stored = rec[1];
      if (rec[0] === METER_RECORD_VERSION && r.length >= 12 + 12 * stored) bytes.set(r.subarray(0, 12 + 12 * (stored < n ? stored : n)));
    }
    for (let i = 0; i < n; i++) {
      this.ppk[i] = inputs[i].pulsesPerKwh;
      this.minMs[i] = inputs[i].minWidthMs;
      // (Nothing to carry on an input that was not restored.)
      this.carry(i);
    }
    rec[0] = METER_RECORD_VERSION;
    rec[1] = n;
    rec[2]++;
    this.flush();
    const now = this.clk.nowMs();
    for (let i = 0; i < n; i++) {
      // A pulse already under way at boot is at least this wide from now on.
      if (options.watch({ pin: inputs[i].pin, debounceMs: inputs[i].debounceMs, onEdge: this.edgeHandler(i) }).read() === 1) this.riseMs[i] = now;
    }
  }

  /** Starts of this firmware since the record began (this one included). */
  get bootCount(): number {
    return this.rec[2];
  }

  /** Clock ms of the rising edge of input i's last counted pulse, -1 when none since boot (R.pulses). */
  lastPulseMs(i: number): number {
    return this.pulseMs[2 * i];
  }

  /** Energy counted on input i since the record began, in whole Wh. */
  wh(i: number): number {
    return this.rec[4 + 3 * i];
  }

  /**
   * Every input's figures, in config order, for R.status(). Live power
   * comes from the interval between the rising edges of the input's last
   * two pulses; when the next pulse is later than that interval, the time
   * since the last pulse bounds it, so the figure falls towards 0 when the
   * load stops. 0 before two pulses were seen.
   */
  readings(): MeterReading[] {
    const rec = this.rec;
    const ms = this.pulseMs;
    const now = this.clk.nowMs();
    return this.names.map((n, i) => {
      const last = ms[2 * i];
      const prev = ms[2 * i + 1];
      const dtMs = Math.max(last - prev, now - last);
      return { name: n, pulses: rec[3 + 3 * i], wh: rec[4 + 3 * i], noise: this.noiseCount[i], powerW: prev < 0 || !(dtMs > 0) ? 0 : Math.round(MS_W_PER_KWH / (this.ppk[i] * dtMs)) };
    });
  }

  /**
   * Takes the boot count and totals the server kept for this router, after
   * its flash was wiped: the boot count continues above the server's, and
   * no total goes back. Returns 0, or the records' error code.
   */
  adopt(bootCount: number, totalsWh: number[]): number {
    const rec = this.rec;
    if (bootCount >= rec[2]) rec[2] = bootCount + 1;
    // (Past the end of totalsWh, undefined > n is false.)
    for (let i = 0; i < this.ppk.length; i++) if (totalsWh[i] > rec[4 + 3 * i]) rec[4 + 3 * i] = totalsWh[i];
    return this.flush();
  }

  /**
   * One handler per input, made once (not per edge): a pulse ends on its
   * falling edge, and counts when it was at least minWidthMs wide.
   */
  private edgeHandler(i: number): (level: Level, timeMs: number) => void {
    return (level, timeMs) => {
      const rise = this.riseMs[i];
      this.riseMs[i] = level ? timeMs : -1;
      if (level || rise < 0) return;
      if (timeMs - rise < this.minMs[i]) {
        this.noiseCount[i]++;
        return;
      }
      const rec = this.rec;
      const at = 3 + 3 * i;
      rec[at]++;
      rec[at + 2] += 1000;
      this.carry(i);
      this.pulseMs[2 * i + 1] = this.pulseMs[2 * i];
      this.pulseMs[2 * i] = rise;
      // Save before the next pulse could take the unsaved energy past the
      // threshold: one pulse adds at most ceil(1000 / ppk) Wh.
      if (rec[at + 1] - this.tried[at + 1] + Math.ceil(1000 / this.ppk[i]) > this.thresholdWh) this.flush();
    };
  }

  /** Carries the whole Wh out of input i's remainder. */
  private carry(i: number): void {
    const rec = this.rec;
    const at = 4 + 3 * i;
    const ppk = this.ppk[i];
    rec[at] += Math.floor(rec[at + 1] / ppk);
    rec[at + 1] %= ppk;
  }

  /**
   * Saves the totals now (at every threshold, and before a controlled
   * restart). Returns 0, or the records' error code; on failure counting
   * goes on and the next threshold retries.
   */
  flush(): number {
    this.tried.set(this.rec);
    return (this.lastSaveError = this.records.save(this.bytes));
  }
}
