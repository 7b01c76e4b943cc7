// Virtual pins for Node: a test drives inputs (a level, a pulse of a given
// width) and reads what the firmware wrote to outputs, with the time of every
// write, so a relay's clicks can be counted and timed.

import type { DigitalOut, DigitalOutOptions, EdgeInput, EdgeInputOptions, Level } from "../types";
import type { VirtualClock } from "./clock";

/** One write to an output pin, in world ms. */
export interface PinWrite {
  atMs: number;
  level: Level;
}

interface Watch {
  debounceMs: number;
  onEdge: (level: Level, timeMs: number) => void;
  /** The last level reported to the firmware. */
  reported: Level;
  /** A pending debounce check, if the raw level changed recently. */
  timer: number;
  closed: boolean;
}

export class VirtualPins {
  private levels = new Map<string, Level>();
  private outputs = new Map<string, PinWrite[]>();
  private watches = new Map<string, Watch[]>();

  constructor(private readonly clock: VirtualClock) {}

  /** The pin's level now (input as driven, output as written). */
  level(pin: string): Level {
    return this.levels.get(pin) ?? 0;
  }

  /** Every write to an output pin since it was first opened. */
  writes(pin: string): PinWrite[] {
    return this.outputs.get(pin) ?? [];
  }

  /** Writes that changed the level (a relay click each). */
  transitions(pin: string): PinWrite[] {
    const out: PinWrite[] = [];
    let last: Level | undefined;
    for (const w of this.writes(pin)) {
      if (w.level !== last) out.push(w);
      last = w.level;
    }
    return out;
  }

  /** Drives an input pin to a level now. */
  drive(pin: string, level: Level): void {
    if (this.level(pin) === level) return;
    this.levels.set(pin, level);
    const at = this.clock.sinceBootMs();
    for (const w of this.watches.get(pin) ?? []) this.bounce(w, pin, at);
  }

  /** A high pulse of widthMs on an input pin, starting now. */
  pulse(pin: string, widthMs: number): void {
    this.drive(pin, 1);
    this.clock.worldClock().setTimeout(() => this.drive(pin, 0), widthMs);
  }

  /** The board loses power: outputs drop to 0 and watches are gone. */
  powerCycle(): void {
    for (const [pin, log] of this.outputs) {
      if (this.level(pin) !== 0) log.push({ atMs: this.clock.worldMs(), level: 0 });
      this.levels.set(pin, 0);
    }
    for (const list of this.watches.values()) for (const w of list) w.closed = true;
    this.watches.clear();
  }

  digitalOut(options: DigitalOutOptions): DigitalOut {
    const pin = options.pin;
    const log = this.outputs.get(pin) ?? [];
    this.outputs.set(pin, log);
    let closed = false;
    const set = (level: Level) => {
      if (closed) throw new Error(`digitalOut ${pin}: used after close()`);
      this.levels.set(pin, level);
      log.push({ atMs: this.clock.worldMs(), level });
    };
    set(options.value);
    return {
      write: set,
      read: () => this.level(pin),
      close: () => {
        closed = true;
      },
    };
  }

  edgeInput(options: EdgeInputOptions): EdgeInput {
    const w: Watch = {
      debounceMs: Math.max(0, options.debounceMs),
      onEdge: options.onEdge,
      reported: this.level(options.pin),
      timer: 0,
      closed: false,
    };
    const list = this.watches.get(options.pin) ?? [];
    list.push(w);
    this.watches.set(options.pin, list);
    return {
      read: () => this.level(options.pin),
      close: () => {
        w.closed = true;
        if (w.timer) this.clock.boardClock().clearTimeout(w.timer);
      },
    };
  }

  /**
   * Debounce as Espruino's setWatch does it: an edge is reported only when
   * the new level has held for debounceMs, stamped with the time it began.
   */
  private bounce(w: Watch, pin: string, changedAtMs: number): void {
    if (w.closed) return;
    const board = this.clock.boardClock();
    if (w.timer) board.clearTimeout(w.timer);
    w.timer = 0;
    const check = () => {
      w.timer = 0;
      const level = this.level(pin);
      if (w.closed || level === w.reported) return;
      w.reported = level;
      w.onEdge(level, changedAtMs);
    };
    if (w.debounceMs === 0) check();
    else w.timer = board.setTimeout(check, w.debounceMs);
  }
}
