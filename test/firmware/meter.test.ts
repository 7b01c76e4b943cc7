// S0 pulse metering (firmware/meter.ts) on virtual pins, a virtual clock and
// a flash that fails like Espruino Storage: pulse widths, exact Wh, the boot
// counter, and what survives a controlled restart and a power cut.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { METER_RECORD_VERSION, PulseMeter, type MeterInput } from "../../firmware/meter";
import { REC_FULL, Records } from "../../hal/records";
import { VirtualClock } from "../../hal/sim/clock";
import { crc32 } from "../../hal/sim/crc32";
import { PowerCut, SimFlash } from "../../hal/sim/flash";
import { VirtualPins } from "../../hal/sim/pins";

const RECORDS = "sden.mtr";
const RECORD_BYTES = 4096;

function input(pin: string, pulsesPerKwh = 1000, minWidthMs = 30, debounceMs = 5): MeterInput {
  return { name: "m-" + pin, pin, pulsesPerKwh, minWidthMs, debounceMs };
}

/** A board with the meter on it: boot() starts the firmware, powerCycle() cuts power. */
class World {
  readonly clock = new VirtualClock();
  readonly pins = new VirtualPins(this.clock);
  meter: PulseMeter | undefined;
  records: Records | undefined;
  /** Saves that failed since the last boot. */
  saveErrors = 0;

  constructor(
    readonly inputs: MeterInput[],
    readonly saveThresholdWh: number,
    readonly flash = new SimFlash(),
    readonly recordFileBytes = RECORD_BYTES,
  ) {}

  boot(): PulseMeter {
    const records = (this.records = new Records(this.flash, crc32, { name: RECORDS, fileBytes: this.recordFileBytes }));
    this.saveErrors = 0;
    this.meter = new PulseMeter({
      clock: this.clock.boardClock(),
      watch: (o) => this.pins.edgeInput(o),
      inputs: this.inputs,
      // Counting the saves that failed since boot.
      records: {
        load: () => records.load(),
        save: (d) => {
          const code = records.save(d);
          if (code) this.saveErrors++;
          return code;
        },
      },
      saveThresholdWh: this.saveThresholdWh,
    });
    return this.meter;
  }

  /** The board loses power: timers, watches and unsaved RAM are gone. */
  powerCycle(): void {
    this.meter = undefined;
    this.clock.powerCycle();
    this.pins.powerCycle();
    this.flash.powerCycle();
  }

  /** A high pulse of widthMs on input i, then low for gapMs. */
  pulse(i: number, widthMs = 50, gapMs = 100): void {
    this.pins.pulse(this.inputs[i].pin, widthMs);
    this.clock.advance(widthMs + gapMs);
  }

  /** Wh on input i that a power cut now would lose: the meter's count less the one in flash. */
  unsavedWh(i: number): number {
    const saved = new Uint32Array(new Uint8Array(this.records!.load()!).buffer);
    return this.meter!.wh(i) - saved[4 + 3 * i];
  }

  pulses(i: number, count: number): void {
    for (let k = 0; k < count; k++) this.pulse(i);
  }
}

const whOf = (pulses: number, pulsesPerKwh: number) => Math.floor((pulses * 1000) / pulsesPerKwh);

describe("PulseMeter pulse widths", () => {
  it("counts a pulse at least minWidthMs wide as energy", () => {
    const w = new World([input("D34", 1000, 30, 5)], 10);
    const m = w.boot();
    w.pulse(0, 30);
    w.pulse(0, 90);
    expect(m.readings()[0].pulses).toBe(2);
    expect(m.wh(0)).toBe(2);
    expect(m.readings()[0].noise).toBe(0);
  });

  it("counts a pulse shorter than minWidthMs as noise, not energy", () => {
    const w = new World([input("D34", 1000, 30, 5)], 10);
    const m = w.boot();
    w.pulse(0, 29);
    w.pulse(0, 10);
    expect(m.readings()[0].pulses).toBe(0);
    expect(m.wh(0)).toBe(0);
    expect(m.readings()[0].noise).toBe(2);
  });

  it("does not see a spike shorter than debounceMs at all", () => {
    const w = new World([input("D34", 1000, 30, 5)], 10);
    const m = w.boot();
    w.pulse(0, 4);
    w.pulse(0, 1);
    expect(m.readings()[0].pulses).toBe(0);
    expect(m.readings()[0].noise).toBe(0);
  });

  it("counts a pulse with contact bounce on both edges once", () => {
    const w = new World([input("D34", 1000, 30, 5)], 10);
    const m = w.boot();
    const chatter = (levels: (0 | 1)[]) => {
      for (const l of levels) {
        w.pins.drive("D34", l);
        w.clock.advance(1);
      }
    };
    chatter([1, 0, 1, 0, 1]);
    w.clock.advance(50);
    chatter([0, 1, 0, 1, 0]);
    w.clock.advance(100);
    expect(m.readings()[0].pulses).toBe(1);
    expect(m.readings()[0].noise).toBe(0);
  });

  it("counts a pulse already under way at boot when it lasts minWidthMs after boot", () => {
    const w = new World([input("D34", 1000, 30, 5), input("D35", 1000, 30, 5)], 10);
    w.pins.drive("D34", 1);
    w.pins.drive("D35", 1);
    const m = w.boot();
    w.clock.advance(10);
    w.pins.drive("D35", 0);
    w.clock.advance(30);
    w.pins.drive("D34", 0);
    w.clock.advance(100);
    expect([m.readings()[0].pulses, m.readings()[0].noise]).toEqual([1, 0]);
    expect([m.readings()[1].pulses, m.readings()[1].noise]).toEqual([0, 1]);
  });

  it("counts each input on its own", () => {
    const w = new World([input("D34"), input("D35", 800)], 10);
    const m = w.boot();
    w.pulses(0, 3);
    w.pulses(1, 5);
    expect([m.readings()[0].pulses, m.wh(0), m.readings()[1].pulses, m.wh(1)]).toEqual([3, 3, 5, 6]);
  });

});

describe("PulseMeter energy", () => {
  it("keeps Wh = floor(pulses * 1000 / pulsesPerKwh) exactly, for 1000, 800, 2000, 10000 and other constants (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(1000, 800, 2000, 10000), fc.integer({ min: 250, max: 100000 })),
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 5 }),
        (pulsesPerKwh, bursts) => {
          const w = new World([input("D34", pulsesPerKwh)], 10);
          const m = w.boot();
          let n = 0;
          for (const b of bursts) {
            w.pulses(0, b);
            n += b;
            expect(m.readings()[0].pulses).toBe(n);
            expect(m.wh(0)).toBe(whOf(n, pulsesPerKwh));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("shows the power from the interval between the last two pulses, falling when pulses stop", () => {
    const w = new World([input("D34", 1000)], 10);
    const m = w.boot();
    w.pulse(0, 50, 950);
    expect(m.readings()[0].powerW).toBe(0);
    // 1 Wh every 2 s is 1800 W.
    w.pulse(0, 50, 1950);
    w.pulse(0, 50, 10);
    expect(m.readings()[0].powerW).toBe(1800);
    w.clock.advance(4000 - 60);
    expect(m.readings()[0].powerW).toBe(900);
  });
});

describe("PulseMeter persistence", () => {
  it("increments and saves the boot counter at every start", () => {
    const w = new World([input("D34")], 10);
    expect(w.boot().bootCount).toBe(1);
    w.powerCycle();
    expect(w.boot().bootCount).toBe(2);
    w.powerCycle();
    expect(w.boot().bootCount).toBe(3);
  });

  it("keeps pulses, Wh and the remainder exactly over a controlled restart (flush)", () => {
    const w = new World([input("D34", 10000), input("D35", 800)], 10);
    let m = w.boot();
    w.pulses(0, 7);
    w.pulses(1, 3);
    expect(w.unsavedWh(1)).toBe(3);
    expect(m.flush()).toBe(0);
    expect(w.unsavedWh(1)).toBe(0);
    w.powerCycle();
    m = w.boot();
    expect([m.readings()[0].pulses, m.wh(0), m.readings()[1].pulses, m.wh(1)]).toEqual([7, 0, 3, 3]);
    // The remainders came back too: 3 more pulses make 1 Wh at 10000/kWh, 1 more 5 Wh at 800/kWh.
    w.pulses(0, 3);
    w.pulses(1, 1);
    expect([m.wh(0), m.wh(1)]).toEqual([1, 5]);
  });

  it("saves as soon as an input's unsaved energy reaches the threshold", () => {
    const w = new World([input("D34"), input("D35")], 10);
    w.boot();
    w.pulses(0, 9);
    w.pulses(1, 4);
    expect([w.unsavedWh(0), w.unsavedWh(1)]).toEqual([9, 4]);
    w.pulse(0);
    expect([w.unsavedWh(0), w.unsavedWh(1)]).toEqual([0, 0]);
    w.powerCycle();
    const again = w.boot();
    expect([again.wh(0), again.wh(1)]).toEqual([10, 4]);
  });

  it("saves before one pulse of a meter under 1000/kWh could take the loss past the threshold", () => {
    // At 800/kWh a pulse adds 1 or 2 Wh: the save comes when 9 Wh are unsaved.
    const w = new World([input("D34", 800)], 10);
    w.boot();
    let most = 0;
    for (let k = 0; k < 200; k++) {
      w.pulse(0);
      most = Math.max(most, w.unsavedWh(0));
    }
    expect(most).toBeLessThan(10);
  });

  it("keeps counting when a save fails with REC_FULL, remembers it and retries at the next threshold", () => {
    // A small flash where the other record file cannot be created: the
    // rotation after the first file fills up fails with REC_FULL.
    const flash = new SimFlash({ sizeBytes: 4096, pageBytes: 1024 });
    const w = new World([input("D34")], 10, flash, 256);
    const m = w.boot();
    flash.write("filler", new Uint8Array(flash.getFree() - 32 - 100));
    // The boot's record and 5 more fill the 256-byte file (40 bytes each).
    w.pulses(0, 59);
    expect(w.saveErrors).toBe(0);
    w.pulse(0);
    expect([w.saveErrors, m.lastSaveError, w.unsavedWh(0)]).toEqual([1, REC_FULL, 10]);
    w.pulses(0, 9);
    expect(w.saveErrors).toBe(1);
    w.pulses(0, 16);
    // Retried at 70 and 80 Wh, not at every pulse.
    expect([m.readings()[0].pulses, m.wh(0), w.unsavedWh(0), w.saveErrors]).toEqual([85, 85, 35, 3]);
    // Space comes back (the router compacts at a moment it chooses).
    flash.erase("filler");
    expect(w.records?.needsCompaction()).toBe(true);
    flash.compact();
    w.pulses(0, 5);
    expect([m.wh(0), w.unsavedWh(0), w.saveErrors]).toEqual([90, 0, 3]);
    w.powerCycle();
    expect(w.boot().wh(0)).toBe(90);
  });

  it("restores inputs by position when the configuration has more or fewer inputs", () => {
    const w = new World([input("D34"), input("D35")], 10);
    let m = w.boot();
    w.pulses(0, 3);
    w.pulses(1, 4);
    m.flush();
    w.powerCycle();
    const more = new World([input("D34"), input("D35"), input("D32")], 10, w.flash);
    m = more.boot();
    expect([m.wh(0), m.wh(1), m.wh(2), m.bootCount]).toEqual([3, 4, 0, 2]);
    more.powerCycle();
    const fewer = new World([input("D34")], 10, w.flash);
    m = fewer.boot();
    expect([m.wh(0), m.bootCount]).toEqual([3, 3]);
  });

  it("keeps only the boot count from a record of another layout version", () => {
    const flash = new SimFlash();
    const records = new Records(flash, crc32, { name: RECORDS, fileBytes: RECORD_BYTES });
    const words = new Uint32Array([METER_RECORD_VERSION + 1, 1, 41, 500, 500, 0]);
    expect(records.save(new Uint8Array(words.buffer))).toBe(0);
    const m = new World([input("D34")], 10, flash).boot();
    expect([m.bootCount, m.readings()[0].pulses, m.wh(0)]).toEqual([42, 0, 0]);
  });

  it("carries whole Wh out of a remainder left by a meter with another constant", () => {
    const w = new World([input("D34", 10000)], 10);
    let m = w.boot();
    w.pulses(0, 7); // 0 Wh, remainder 7000 of 10000
    m.flush();
    w.powerCycle();
    const replaced = new World([input("D34", 3000)], 10, w.flash);
    m = replaced.boot();
    expect(m.wh(0)).toBe(2); // 7000 = 2 * 3000 + 1000
    replaced.pulses(0, 2); // 1000 + 2000 = 3000: one more Wh
    expect(m.wh(0)).toBe(3);
  });
});

// Power cuts at random flash operations (torn writes, cuts inside a save and
// inside the boot's own save included) and at random quiet moments. After
// each, a new meter is built from the same flash: it must never claim more
// than was counted, and never lose more than one save threshold.
describe("PulseMeter under power cuts (property)", () => {
  const cutArb = fc.oneof(
    fc.record({
      kind: fc.constant("op" as const),
      n: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 20 })),
      tornBytes: fc.integer({ min: 0, max: 48 }),
    }),
    fc.record({ kind: fc.constant("moment" as const) }),
  );
  const segmentArb = fc.record({
    pulses: fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 80, size: "max" }),
    cut: cutArb,
  });

  it("restores at most the counted Wh and at least the counted Wh minus one threshold, whatever the cut", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1000, 800, 2000, 10000, 500),
        fc.constantFrom(1000, 10000),
        fc.integer({ min: 2, max: 12 }),
        // Small record files rotate every few saves, so cuts strike rotations too.
        fc.constantFrom(256, RECORD_BYTES),
        fc.array(segmentArb, { minLength: 1, maxLength: 10 }),
        (ppk0, ppk1, threshold, recordFileBytes, segments) => {
          const inputs = [input("D34", ppk0), input("D35", ppk1)];
          const w = new World(inputs, threshold, new SimFlash(), recordFileBytes);
          /** Pulses the meter counted in all boots that a restore must account for. */
          const counted = [0, 0];
          let boots = 0;
          const bootAfterCuts = (): PulseMeter => {
            for (;;) {
              try {
                return w.boot();
              } catch (e) {
                if (!(e instanceof PowerCut)) throw e;
                w.powerCycle();
              }
            }
          };
          let m = bootAfterCuts();
          let lastBoot = m.bootCount;
          for (const seg of segments) {
            if (seg.cut.kind === "op") w.flash.cutAt(seg.cut.n, { tornBytes: seg.cut.tornBytes });
            try {
              for (const i of seg.pulses) {
                // Counted on its falling edge, before the save that a cut may strike.
                counted[i]++;
                w.pulse(i);
              }
            } catch (e) {
              if (!(e instanceof PowerCut)) throw e;
            }
            // A cut not reached yet may strike the next boot's own save.
            w.powerCycle();
            m = bootAfterCuts();
            w.flash.cancelCut();
            boots++;
            expect(w.saveErrors).toBe(0);
            expect(m.bootCount).toBeGreaterThan(lastBoot);
            lastBoot = m.bootCount;
            for (let i = 0; i < 2; i++) {
              const restored = m.readings()[i].pulses;
              const ppk = inputs[i].pulsesPerKwh;
              expect(restored).toBeLessThanOrEqual(counted[i]);
              expect(m.wh(i)).toBe(whOf(restored, ppk));
              expect(m.wh(i)).toBeLessThanOrEqual(whOf(counted[i], ppk));
              expect(m.wh(i)).toBeGreaterThanOrEqual(whOf(counted[i], ppk) - threshold);
              // The meter goes on from what it restored.
              counted[i] = restored;
            }
          }
          expect(boots).toBe(segments.length);
        },
      ),
      { numRuns: 500 },
    );
  });
});
