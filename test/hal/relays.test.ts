// Relay safety (hal/relays.ts): boot states, minimum on/off times, the fuse
// limit and the reporting of every refused switch, checked on virtual pins.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  RELAY_FUSE,
  RELAY_MIN_OFF,
  RELAY_MIN_ON,
  RELAY_NEVER,
  RELAY_OK,
  RELAY_UNKNOWN,
  Relays,
  type RelayChannel,
} from "../../hal/relays";
import { readFileSync } from "node:fs";
import { validateConfig } from "../../firmware/config";
import { VirtualClock } from "../../hal/sim/clock";
import { VirtualPins } from "../../hal/sim/pins";

interface Refusal {
  channel: number;
  on: boolean;
  code: number;
  retryAtMs: number;
}

function ch(pin: string, ratedW: number, minOnS = 0, minOffS = 0, bootOn = false): RelayChannel {
  return { pin, ratedW, bootOn, minOnS, minOffS };
}

/** A relay as the configuration has it. */
function relay(pin: string, ratedW: number, bootOn = false) {
  return { name: "r" + pin, pin, ratedW, bootOn, minOnS: 0, minOffS: 0 };
}

/** The shipped configuration with these relays and fuse, and no clients. */
function configWith(relays: object[], fuseLimitW: number): object {
  const c = JSON.parse(readFileSync(new URL("../../flash.config.json", import.meta.url), "utf8"));
  return { ...c, relays, fuseLimitW: Math.max(fuseLimitW, 100), clients: [] };
}

function rig(channels: RelayChannel[], fuseLimitW: number) {
  const clock = new VirtualClock();
  const pins = new VirtualPins(clock);
  const refused: Refusal[] = [];
  const relays = new Relays({
    clock: clock.boardClock(),
    open: (o) => pins.digitalOut(o),
    channels,
    fuseW: fuseLimitW,
    onRefused: (channel, on, code, retryAtMs) => refused.push({ channel, on, code, retryAtMs }),
  });
  return { clock, pins, relays, refused };
}

describe("Relays at boot", () => {
  it("writes each channel's boot level as the pin's first write, before it is an output", () => {
    const clock = new VirtualClock();
    const pins = new VirtualPins(clock);
    const opened: { pin: string; value: number }[] = [];
    new Relays({
      clock: clock.boardClock(),
      open: (o) => {
        opened.push({ pin: o.pin, value: o.value });
        return pins.digitalOut(o);
      },
      channels: [ch("D1", 100, 0, 0, true), ch("D2", 100), ch("D3", 100, 0, 0, true)],
      fuseW: 1000,
    });
    expect(opened).toEqual([
      { pin: "D1", value: 1 },
      { pin: "D2", value: 0 },
      { pin: "D3", value: 1 },
    ]);
    expect(pins.writes("D1").map((w) => w.level)).toEqual([1]);
    expect(pins.writes("D2").map((w) => w.level)).toEqual([0]);
    expect(pins.writes("D3").map((w) => w.level)).toEqual([1]);
  });

  it("counts boot as a switching: an off channel stays off for minOffS after boot", () => {
    const { clock, pins, relays } = rig([ch("D1", 100, 0, 30)], 1000);
    clock.advance(29_999);
    expect(relays.set(0, true)).toBe(RELAY_MIN_OFF);
    expect(pins.level("D1")).toBe(0);
    clock.advance(1);
    expect(relays.set(0, true)).toBe(RELAY_OK);
    expect(pins.level("D1")).toBe(1);
  });

  it("resume() lets a channel that was running before a reboot on at once, only before it has switched, the fuse still holding", () => {
    const { pins, relays } = rig([ch("D1", 600, 0, 30), ch("D2", 600, 0, 30)], 1000);
    expect(relays.resume(0)).toBe(true);
    expect(relays.set(0, true)).toBe(RELAY_OK);
    expect(pins.level("D1")).toBe(1);
    // The fuse is not a timer: a resumed channel above it stays off.
    expect(relays.resume(1)).toBe(true);
    expect(relays.set(1, true)).toBe(RELAY_FUSE);
    // Once switched, the minimum times rule again; an unknown channel is refused.
    expect(relays.resume(0)).toBe(false);
    expect(relays.set(0, false)).toBe(RELAY_OK);
    expect(relays.resume(0)).toBe(false);
    expect(relays.set(0, true)).toBe(RELAY_MIN_OFF);
    expect(relays.resume(7)).toBe(false);
  });

  it("counts boot as a switching: a channel on at boot stays on for minOnS", () => {
    const { clock, relays } = rig([ch("D1", 100, 20, 0, true)], 1000);
    expect(relays.isOn(0)).toBe(true);
    expect(relays.onW).toBe(100);
    expect(relays.set(0, false)).toBe(RELAY_MIN_ON);
    clock.advance(20_000);
    expect(relays.set(0, false)).toBe(RELAY_OK);
    expect(relays.onW).toBe(0);
  });

  // Relays does not check its options: the router builds it only from a
  // configuration validateConfig accepted, and holds every relay off
  // otherwise (test/firmware/router.test.ts). These are the refusals it
  // relies on, with the channels the checks inside Relays once refused.
  it("a configuration whose boot-on channels exceed the fuse never reaches Relays: validateConfig refuses it", () => {
    const c = configWith([relay("D1", 3000, true), relay("D2", 2000, true), relay("D3", 5000)], 4000);
    expect(validateConfig(c)).toContainEqual(expect.stringMatching(/^relays\[\]\.bootOn: .*5000 W.*fuseLimitW 4000 W/));
  });

  it("a channel with a bad field never reaches Relays: validateConfig refuses it and names the field", () => {
    const says = (c: object) => validateConfig(configWith([relay("D1", 10), { ...relay("D2", 5), ...c }], 100));
    expect(says({ ratedW: -5 })).toContainEqual(expect.stringMatching(/^relays\[1\]\.ratedW: .*1 to 50000 W.*-5/));
    expect(says({ minOnS: 1.5 })).toContainEqual(expect.stringMatching(/^relays\[1\]\.minOnS: /));
    expect(says({ pin: "D1" })).toContainEqual(expect.stringMatching(/^relays\[1\]\.pin: .*D1.*relays\[0\]/));
    expect(says({})).toEqual([]);
  });
});

describe("Relays.set", () => {
  it("switches a channel when its timers and the fuse allow it, and counts the switching", () => {
    const { pins, relays } = rig([ch("D1", 500)], 1000);
    expect(relays.set(0, true)).toBe(RELAY_OK);
    expect(relays.isOn(0)).toBe(true);
    expect(relays.onW).toBe(500);
    expect(relays.switchCount[0]).toBe(1);
    expect(pins.transitions("D1").map((w) => w.level)).toEqual([0, 1]);
  });

  it("accepts a request for the state a channel already has without touching the pin", () => {
    const { pins, relays, refused } = rig([ch("D1", 500, 60, 60)], 1000);
    expect(relays.set(0, false)).toBe(RELAY_OK);
    expect(pins.writes("D1")).toHaveLength(1);
    expect(relays.switchCount[0]).toBe(0);
    expect(refused).toEqual([]);
  });

  it("holds a channel on for its minOnS", () => {
    const { clock, pins, relays } = rig([ch("D1", 500, 60, 0)], 1000);
    relays.set(0, true);
    clock.advance(59_999);
    expect(relays.set(0, false)).toBe(RELAY_MIN_ON);
    expect(pins.level("D1")).toBe(1);
    clock.advance(1);
    expect(relays.set(0, false)).toBe(RELAY_OK);
    expect(pins.level("D1")).toBe(0);
  });

  it("holds a channel off for its minOffS", () => {
    const { clock, pins, relays } = rig([ch("D1", 500, 0, 90)], 1000);
    clock.advance(90_000);
    relays.set(0, true);
    relays.set(0, false);
    clock.advance(89_999);
    expect(relays.set(0, true)).toBe(RELAY_MIN_OFF);
    expect(pins.level("D1")).toBe(0);
    clock.advance(1);
    expect(relays.set(0, true)).toBe(RELAY_OK);
  });

  it("refuses a switch-on that would take the load above the fuse limit", () => {
    const { pins, relays } = rig([ch("D1", 3000), ch("D2", 2500), ch("D3", 1000)], 5000);
    expect(relays.set(0, true)).toBe(RELAY_OK);
    expect(relays.set(1, true)).toBe(RELAY_FUSE);
    expect(pins.level("D2")).toBe(0);
    expect(relays.set(2, true)).toBe(RELAY_OK);
    expect(relays.onW).toBe(4000);
    expect(relays.set(0, false)).toBe(RELAY_OK);
    expect(relays.set(1, true)).toBe(RELAY_OK);
    expect(relays.onW).toBe(3500);
  });

  it("allows a load exactly at the fuse limit", () => {
    const { relays } = rig([ch("D1", 3000), ch("D2", 2000)], 5000);
    expect(relays.set(0, true)).toBe(RELAY_OK);
    expect(relays.set(1, true)).toBe(RELAY_OK);
    expect(relays.onW).toBe(5000);
  });

  it("reports a refused switch with its code and retry time, and counts it by code", () => {
    const { clock, relays, refused } = rig([ch("D1", 3000, 60, 30), ch("D2", 2500)], 5000);
    clock.advance(30_000);
    relays.set(0, true);
    clock.advance(10_000);
    expect(relays.set(0, false)).toBe(RELAY_MIN_ON);
    expect(relays.set(1, true)).toBe(RELAY_FUSE);
    expect(refused).toEqual([
      { channel: 0, on: false, code: RELAY_MIN_ON, retryAtMs: 90_000 },
      { channel: 1, on: true, code: RELAY_FUSE, retryAtMs: 0 },
    ]);
    expect(relays.retryAtMs(0, false)).toBe(90_000);
    expect(relays.refusals(RELAY_MIN_ON)).toBe(1);
    expect(relays.refusals(RELAY_FUSE)).toBe(1);
    expect(relays.refusals(RELAY_MIN_OFF)).toBe(0);
  });

  it("refuses an unknown channel, reports it with no retry time and touches no pin", () => {
    const { pins, relays, refused } = rig([ch("D1", 100)], 1000);
    expect(relays.set(1, true)).toBe(RELAY_UNKNOWN);
    expect(relays.set(-1, true)).toBe(RELAY_UNKNOWN);
    expect(relays.set(0.5, false)).toBe(RELAY_UNKNOWN);
    expect(refused.map((r) => [r.channel, r.code, r.retryAtMs])).toEqual([
      [1, RELAY_UNKNOWN, RELAY_NEVER],
      [-1, RELAY_UNKNOWN, RELAY_NEVER],
      [0.5, RELAY_UNKNOWN, RELAY_NEVER],
    ]);
    expect(relays.refusals(RELAY_UNKNOWN)).toBe(3);
    expect(relays.isOn(1)).toBe(false);
    expect(relays.retryAtMs(1, true)).toBe(RELAY_NEVER);
    expect(pins.writes("D1")).toHaveLength(1);
  });
});

describe("Relays.allOff", () => {
  it("allOff switches off every channel that may, and reports those held by minOnS", () => {
    const { clock, pins, relays, refused } = rig([ch("D1", 100, 10), ch("D2", 100, 120), ch("D3", 100)], 1000);
    relays.set(0, true);
    relays.set(1, true);
    relays.set(2, true);
    clock.advance(60_000);
    expect(relays.allOff()).toBe(1);
    expect([pins.level("D1"), pins.level("D2"), pins.level("D3")]).toEqual([0, 1, 0]);
    expect(refused).toEqual([{ channel: 1, on: false, code: RELAY_MIN_ON, retryAtMs: 120_000 }]);
    clock.advance(60_000);
    expect(relays.allOff()).toBe(0);
    expect(relays.onW).toBe(0);
  });
});

// Random channel configurations and random switch requests at random times:
// whatever is asked, the pins never switch faster than the minimum times and
// the load never exceeds the fuse, and everything not done was reported.
const channelArb = fc.record({
  ratedW: fc.integer({ min: 0, max: 4000 }),
  minOnS: fc.integer({ min: 0, max: 30 }),
  minOffS: fc.integer({ min: 0, max: 30 }),
  bootOn: fc.boolean(),
});

const stepArb = fc.record({
  dtMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 40_000 })),
  op: fc.constantFrom("set", "set", "set", "set", "allOff"),
  channel: fc.integer({ min: -1, max: 6 }),
  on: fc.boolean(),
});

const scenarioArb = fc
  .record({
    channels: fc.array(channelArb, { minLength: 1, maxLength: 6 }),
    fuseLimitW: fc.integer({ min: 0, max: 10_000 }),
    steps: fc.array(stepArb, { minLength: 1, maxLength: 80 }),
  })
  .map((s) => {
    // Boot-on channels that would exceed the fuse are refused at construction
    // (tested above); here the fuse is raised to fit them.
    const bootW = s.channels.reduce((sum, c) => sum + (c.bootOn ? c.ratedW : 0), 0);
    return { ...s, fuseLimitW: Math.max(s.fuseLimitW, bootW) };
  });

describe("Relays under random requests (property)", () => {
  it("never switches a pin faster than its minimum times, never exceeds the fuse, and reports every request it did not apply", () => {
    fc.assert(
      fc.property(scenarioArb, ({ channels, fuseLimitW, steps }) => {
        const config = channels.map((c, i) => ch("D" + i, c.ratedW, c.minOnS, c.minOffS, c.bootOn));
        const { clock, pins, relays, refused } = rig(config, fuseLimitW);
        const pinOf = (i: number) => "D" + i;

        const checkPins = () => {
          let highW = 0;
          for (let i = 0; i < config.length; i++) {
            const t = pins.transitions(pinOf(i));
            for (let k = 1; k < t.length; k++) {
              const heldMs = t[k].atMs - t[k - 1].atMs;
              const minMs = (t[k - 1].level === 1 ? config[i].minOnS : config[i].minOffS) * 1000;
              expect(heldMs).toBeGreaterThanOrEqual(minMs);
            }
            if (pins.level(pinOf(i)) === 1) highW += config[i].ratedW;
          }
          expect(highW).toBeLessThanOrEqual(fuseLimitW);
          expect(relays.onW).toBe(highW);
        };

        checkPins();
        for (const step of steps) {
          clock.advance(step.dtMs);
          const before = refused.length;
          if (step.op === "allOff") {
            const wasOn = config.map((_, i) => pins.level(pinOf(i)) === 1);
            const held = relays.allOff();
            const stillOn = config.map((_, i) => i).filter((i) => pins.level(pinOf(i)) === 1);
            expect(stillOn).toHaveLength(held);
            // Every channel still on was on before and was reported as held by minOnS.
            expect(refused.slice(before)).toEqual(
              stillOn.map((i) => ({ channel: i, on: false, code: RELAY_MIN_ON, retryAtMs: relays.retryAtMs(i, false) })),
            );
            for (const i of stillOn) expect(wasOn[i]).toBe(true);
          } else {
            const code = relays.set(step.channel, step.on);
            const known = step.channel >= 0 && step.channel < config.length;
            const applied = known && pins.level(pinOf(step.channel)) === (step.on ? 1 : 0);
            if (code === RELAY_OK) {
              expect(applied).toBe(true);
              expect(refused).toHaveLength(before);
            } else {
              expect(applied).toBe(false);
              expect(refused.slice(before)).toEqual([
                { channel: step.channel, on: step.on, code, retryAtMs: relays.retryAtMs(step.channel, step.on) },
              ]);
              if (code === RELAY_MIN_ON || code === RELAY_MIN_OFF) {
                expect(refused[before].retryAtMs).toBeGreaterThan(clock.sinceBootMs());
              }
            }
          }
          checkPins();
        }
      }),
      { numRuns: 300 },
    );
  });
});
