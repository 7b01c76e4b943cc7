import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VirtualClock } from "../../hal/sim/clock";

describe("virtual clock", () => {
  it("runs a simulated day of one-second ticks without real waiting", () => {
    const clock = new VirtualClock();
    const board = clock.boardClock();
    let ticks = 0;
    let last = -1;
    board.setInterval(() => {
      expect(board.nowMs()).toBe(last < 0 ? 1000 : last + 1000);
      last = board.nowMs();
      ticks++;
    }, 1000);
    clock.advance(86_400_000);
    expect(ticks).toBe(86_400);
    expect(board.nowMs()).toBe(86_400_000);
  });

  it("fires timers in time order, and same-time timers in the order they were set", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000 }), { maxLength: 200 }), (delays) => {
        const clock = new VirtualClock();
        const fired: [number, number][] = [];
        delays.forEach((d, i) => clock.boardClock().setTimeout(() => fired.push([clock.sinceBootMs(), i]), d));
        clock.advance(10_000);
        const expected = delays.map((d, i) => [d, i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(fired).toEqual(expected);
      }),
    );
  });

  it("a timer set from a timer runs in the same advance when it is due", () => {
    const clock = new VirtualClock();
    const c = clock.boardClock();
    const at: number[] = [];
    c.setTimeout(() => c.setTimeout(() => at.push(c.nowMs()), 50), 100);
    clock.advance(200);
    expect(at).toEqual([150]);
  });

  it("clearing an interval from its own callback stops it", () => {
    const clock = new VirtualClock();
    const c = clock.boardClock();
    let n = 0;
    const id = c.setInterval(() => {
      if (++n === 3) c.clearInterval(id);
    }, 10);
    clock.advance(1000);
    expect(n).toBe(3);
  });

  it("a power cycle drops the board's timers, restarts its time at zero and keeps world timers", () => {
    const clock = new VirtualClock();
    let board = 0;
    let world = 0;
    clock.boardClock().setInterval(() => board++, 100);
    clock.worldClock().setInterval(() => world++, 100);
    clock.advance(1000);
    clock.powerCycle();
    expect(clock.boardClock().nowMs()).toBe(0);
    clock.advance(1000);
    expect(board).toBe(10);
    expect(world).toBe(20);
    expect(clock.worldMs()).toBe(2000);
  });

  it("refuses to go back in time", () => {
    expect(() => new VirtualClock().advance(-1)).toThrow(RangeError);
  });
});
