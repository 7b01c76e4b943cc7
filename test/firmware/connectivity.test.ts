// The connectivity states (firmware/connectivity.ts, design section 3): one
// test per transition, one per failure of EEBus LPC's open implementations
// in the field (shared/quality.md), and a model-based property test over
// random sequences of heartbeats, schedules, lost connections, reboots and
// clock jumps. Time is the board's seconds, given to each call: a virtual
// clock that the test moves, forward and back.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Connectivity, connName, CS_BOOT, CS_FAILSAFE, CS_LOCAL, CS_ONLINE, CW_BACK, CW_BOOT, CW_LOCAL_AFTER, CW_LOCAL_ONLY, CW_MISSED } from "../../firmware/connectivity";

const HB_S = 60;
/** failsafeMissed 2 x heartbeatS 60 (EEBus LPC: failsafe after 120 s without a heartbeat). */
const MISS_S = 2 * HB_S;
const LOCAL_S = 900;

const boot = (nowS = 0, only = false) => new Connectivity(MISS_S, LOCAL_S, only, nowS);
const state = (c: Connectivity) => connName(c.st);

/** The server there: a heartbeat every period from `from` to `to`, ticks every second. */
function serve(c: Connectivity, from: number, to: number): void {
  for (let t = from; t <= to; t++) {
    if ((t - from) % HB_S === 0) c.heartbeat(t);
    c.tick(t);
  }
}

/** Online at t = 10: a heartbeat, then a schedule. */
function online(): Connectivity {
  const c = boot();
  c.heartbeat(10);
  c.schedule(11);
  return c;
}

/** Failsafe: online, then the server gone from t = 10; failsafe at 131. */
function failsafe(): Connectivity {
  const c = online();
  for (let t = 12; t <= 131; t++) c.tick(t);
  expect(state(c)).toBe("failsafe");
  return c;
}

/** Local: failsafe for localAfterS, local at 131 + 900. */
function local(): Connectivity {
  const c = failsafe();
  for (let t = 132; t <= 131 + LOCAL_S; t++) c.tick(t);
  expect(state(c)).toBe("local");
  return c;
}

describe("connectivity transitions", () => {
  it("boots in boot, for reason power on", () => {
    const c = boot(42);
    expect([state(c), connName(c.why, true), c.sinceS, c.n]).toEqual(["boot", "power on", 42, 0]);
    expect(c.report(50)).toEqual([CS_BOOT, CW_BOOT, 8]);
  });

  it("boot -> online on a valid heartbeat and then a schedule", () => {
    const c = boot();
    c.heartbeat(10);
    expect(state(c)).toBe("boot");
    c.schedule(12);
    expect([c.st, c.why, c.sinceS, c.n]).toEqual([CS_ONLINE, CW_BACK, 12, 1]);
    expect(connName(c.why, true)).toBe("heartbeat+schedule");
  });

  it("boot -> failsafe when no heartbeat comes for failsafeMissed periods", () => {
    const c = boot(5);
    c.tick(5 + MISS_S);
    expect(state(c)).toBe("boot");
    c.tick(5 + MISS_S + 1);
    expect([c.st, c.why, c.sinceS]).toEqual([CS_FAILSAFE, CW_MISSED, 5 + MISS_S + 1]);
  });

  it("online -> failsafe when heartbeats are missed for failsafeMissed periods, not before", () => {
    const c = online();
    serve(c, 60, 3600);
    expect(state(c)).toBe("online");
    // The last heartbeat was at 3600: failsafe once 120 s have passed without another.
    for (let t = 3601; t <= 3600 + MISS_S; t++) c.tick(t);
    expect(state(c)).toBe("online");
    c.tick(3600 + MISS_S + 1);
    expect([c.st, c.why]).toEqual([CS_FAILSAFE, CW_MISSED]);
    expect(connName(c.why, true)).toBe("heartbeats missed");
  });

  it("failsafe -> online on a heartbeat and then a schedule", () => {
    const c = failsafe();
    c.heartbeat(200);
    c.schedule(201);
    expect([c.st, c.why, c.sinceS]).toEqual([CS_ONLINE, CW_BACK, 201]);
  });

  it("failsafe -> local after localAfterS in failsafe", () => {
    const c = failsafe();
    for (let t = 132; t < 131 + LOCAL_S; t++) c.tick(t);
    expect(state(c)).toBe("failsafe");
    c.tick(131 + LOCAL_S);
    expect([c.st, c.why, c.sinceS]).toEqual([CS_LOCAL, CW_LOCAL_AFTER, 131 + LOCAL_S]);
  });

  it("local -> online on a heartbeat and then a schedule", () => {
    const c = local();
    c.heartbeat(2000);
    expect(state(c)).toBe("local");
    c.schedule(2001);
    expect([c.st, c.why]).toEqual([CS_ONLINE, CW_BACK]);
  });

  it("boot, online or failsafe -> local when localOnly is switched on, and it stays local while the server is there", () => {
    for (const c of [boot(), online(), failsafe()]) {
      c.setLocal(true, 300);
      expect([c.st, c.why, c.sinceS]).toEqual([CS_LOCAL, CW_LOCAL_ONLY, 300]);
      serve(c, 301, 4000);
      c.schedule(4001);
      expect(state(c)).toBe("local");
    }
  });

  it("boots local when the config's localOnly is set", () => {
    const c = boot(0, true);
    expect([c.st, c.why]).toEqual([CS_LOCAL, CW_LOCAL_ONLY]);
  });

  it("localOnly off: back online on a heartbeat after it and a schedule, as from failsafe", () => {
    const c = online();
    c.setLocal(true, 20);
    c.heartbeat(60);
    c.setLocal(false, 70);
    // The heartbeat before the switch does not count.
    c.schedule(71);
    expect(state(c)).toBe("local");
    c.heartbeat(120);
    c.schedule(121);
    expect(state(c)).toBe("online");
  });

  it("heartbeat() says which heartbeat ends an outage (the router then asks for a fresh schedule)", () => {
    const c = failsafe();
    expect(c.heartbeat(200)).toBe(true);
    expect(c.heartbeat(260)).toBe(false);
    c.schedule(261);
    expect(c.heartbeat(320)).toBe(false);
    // Not while local only: the router does not ask the server to take over.
    c.setLocal(true, 330);
    expect(c.heartbeat(380)).toBe(false);
  });
});

describe("the failures of fail-safe state machines in the field", () => {
  it("no failsafe right after connecting: the period starts at boot and at each heartbeat, whatever the clock reads", () => {
    // A board up for days (the period is not measured from 0)...
    const c = boot(500_000);
    c.tick(500_001);
    expect(state(c)).toBe("boot");
    // ...that connects late in the period and gets its first heartbeat then.
    c.heartbeat(500_000 + MISS_S);
    c.schedule(500_000 + MISS_S);
    serve(c, 500_000 + MISS_S + HB_S, 500_000 + 86_400);
    expect(state(c)).toBe("online");
    expect(c.n).toBe(1);
    // Back from an outage: the heartbeat that ended it starts a new period.
    const d = failsafe();
    d.heartbeat(1000);
    d.schedule(1001);
    d.tick(1002);
    d.tick(1000 + MISS_S);
    expect(state(d)).toBe("online");
  });

  it("never stuck in failsafe or local: a heartbeat and a schedule always bring it back, after any number of outages", () => {
    const c = boot();
    let t = 0;
    for (let outage = 0; outage < 20; outage++) {
      // A short outage (failsafe) or a long one (local).
      const lenS = outage % 2 ? 300 : 5000;
      for (let k = 1; k <= lenS; k += 7) c.tick(t + k);
      t += lenS;
      expect(state(c)).toBe(outage % 2 ? "failsafe" : "local");
      // The connection flaps on the way back: a heartbeat, a drop, then a heartbeat and a schedule.
      c.heartbeat(t);
      c.linkDown();
      c.heartbeat(t + 5);
      c.schedule(t + 6);
      expect(state(c)).toBe("online");
      t += 6;
    }
  });

  it("never leaves failsafe or local on a heartbeat alone", () => {
    for (const c of [failsafe(), local()]) {
      const was = c.st;
      serve(c, 2100, 2100 + 3 * 3600);
      expect(c.st === CS_LOCAL || c.st === was).toBe(true);
      expect(c.st).not.toBe(CS_ONLINE);
    }
    // Nor from boot.
    const b = boot();
    serve(b, 1, 3600);
    expect(state(b)).toBe("boot");
  });

  it("a schedule does not bring it back without a heartbeat after the outage began, nor after the connection dropped, nor once that heartbeat is stale", () => {
    // A schedule before the heartbeat.
    const a = failsafe();
    a.schedule(200);
    a.heartbeat(201);
    expect(state(a)).toBe("failsafe");
    // A heartbeat, the connection lost, a schedule (an old one, delivered late).
    const b = failsafe();
    b.heartbeat(200);
    b.linkDown();
    b.schedule(202);
    expect(state(b)).toBe("failsafe");
    // A heartbeat, then silence for failsafeMissed periods, then a schedule.
    const c = failsafe();
    c.heartbeat(200);
    c.tick(200 + MISS_S + 1);
    c.schedule(200 + MISS_S + 2);
    expect(state(c)).toBe("failsafe");
  });

  it("does not hold failsafe or local for their whole time once the server is back", () => {
    const f = failsafe();
    // 10 s into failsafe, of its 900.
    f.heartbeat(141);
    f.schedule(141);
    expect([f.st, f.sinceS]).toEqual([CS_ONLINE, 141]);
    const l = local();
    l.heartbeat(1040);
    l.schedule(1040);
    expect([l.st, l.sinceS]).toEqual([CS_ONLINE, 1040]);
  });

  it("a clock that jumps back restarts the periods from then; one that jumps ahead ends them (never waits out the jump)", () => {
    const c = online();
    c.tick(100_000);
    expect(state(c)).toBe("failsafe");
    // Back by a day: still failsafe, and local after localAfterS from the jump, not a day later.
    c.tick(10);
    c.tick(10 + LOCAL_S);
    expect(state(c)).toBe("local");
    // Back online, then the clock goes back: the heartbeat period restarts; the jump itself fails nothing.
    c.heartbeat(20 + LOCAL_S);
    c.schedule(20 + LOCAL_S);
    c.tick(5);
    c.tick(5 + MISS_S);
    expect(state(c)).toBe("online");
    c.tick(5 + MISS_S + 1);
    expect(state(c)).toBe("failsafe");
  });
});

// ---- model-based: random sequences against a model that keeps only what the rules speak of

/**
 * What the rules need, kept apart from the machine. Two measures of time:
 * the clock t, whose periods restart from now when it goes back below
 * their start (the rule the machine follows), and prog, the sum of the
 * clock's forward steps, the time that really passed: no period may end
 * before that much really passed.
 */
interface Model {
  t: number;
  prog: number;
  /** The start of the heartbeat period and of the current state, on the clock and in prog. */
  hbT: number;
  hbProg: number;
  inT: number;
  inProg: number;
  /** A heartbeat came since the last drop, localOnly off or boot, and has not gone stale. */
  armed: boolean;
  only: boolean;
  /** The machine's state and transition count before the command. */
  st: number;
  n: number;
}

interface Real {
  c: Connectivity;
}

type Cmd = fc.Command<Model, Real>;
type How = "heartbeat" | "schedule" | "drop" | "tick" | "only" | "boot";

/** The clock moves by dt; then, as every call but linkDown does, the periods are looked at. */
function step(m: Model, dt: number): void {
  m.t += dt;
  if (dt > 0) m.prog += dt;
  m.hbT = Math.min(m.hbT, m.t);
  m.inT = Math.min(m.inT, m.t);
  if (m.t - m.hbT > MISS_S) m.armed = false;
}

/** The rules, after a command. */
function check(m: Model, r: Real, how: How): void {
  const c = r.c;
  const rep = c.report(m.t);
  expect(rep).toEqual([c.st, c.why, m.t - c.sinceS]);
  expect(rep[2]).toBeGreaterThanOrEqual(0);
  if (m.only) expect(c.st).toBe(CS_LOCAL);
  if (c.n !== m.n) {
    // Never online without a fresh schedule: only a schedule, after a heartbeat that came since the last drop and is not stale.
    if (c.st === CS_ONLINE) {
      expect(how).toBe("schedule");
      expect(m.armed && !m.only).toBe(true);
      expect(m.st).not.toBe(CS_ONLINE);
    }
    // Failsafe only when heartbeats were missed for failsafeMissed periods, on the clock and in time that really passed.
    if (c.st === CS_FAILSAFE) {
      expect([c.why, m.st === CS_BOOT || m.st === CS_ONLINE]).toEqual([CW_MISSED, true]);
      expect(m.t - m.hbT).toBeGreaterThan(MISS_S);
      expect(m.prog - m.hbProg).toBeGreaterThan(MISS_S);
    }
    // Local only when switched on, or after localAfterS in failsafe.
    if (c.st === CS_LOCAL && c.why === CW_LOCAL_ONLY) expect(m.only).toBe(true);
    if (c.st === CS_LOCAL && c.why !== CW_LOCAL_ONLY) {
      expect([c.why, m.st]).toEqual([CW_LOCAL_AFTER, CS_FAILSAFE]);
      expect(m.t - m.inT).toBeGreaterThanOrEqual(LOCAL_S);
      expect(m.prog - m.inProg).toBeGreaterThanOrEqual(LOCAL_S);
    }
    // At most one transition per call, except boot/online -> failsafe -> local in one tick when localAfterS is 0 (it is not here).
    expect(c.n - m.n).toBe(1);
    m.inT = m.t;
    m.inProg = m.prog;
  }
  // The periods end when they should: nothing waits out a stale heartbeat, or failsafe beyond localAfterS.
  if (how !== "drop") {
    if (m.t - m.hbT > MISS_S) expect(c.st).toBeGreaterThanOrEqual(CS_FAILSAFE);
    if (c.st === CS_FAILSAFE) expect(m.t - m.inT).toBeLessThan(LOCAL_S);
  }
  m.st = c.st;
  m.n = c.n;
}

class Heartbeat implements Cmd {
  constructor(readonly dt: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    step(m, this.dt);
    const ends = r.c.heartbeat(m.t);
    // It ends an outage when the router is not online (or heartbeats were just found missed) and none did since the outage began (a HELLO then asks for schedules).
    expect(ends).toBe((m.st !== CS_ONLINE || m.t - m.hbT > MISS_S) && !m.armed && !m.only);
    // The rules as of before it (its own look at the periods may have found them missed).
    check(m, r, "heartbeat");
    m.hbT = m.t;
    m.hbProg = m.prog;
    m.armed = true;
  }
  toString = () => `heartbeat(+${this.dt})`;
}

class Schedule implements Cmd {
  constructor(readonly dt: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    step(m, this.dt);
    r.c.schedule(m.t);
    check(m, r, "schedule");
    // Armed, not local only: the schedule takes it online, whatever state it was in.
    if (m.armed && !m.only) expect(r.c.st).toBe(CS_ONLINE);
  }
  toString = () => `schedule(+${this.dt})`;
}

class Drop implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    r.c.linkDown();
    m.armed = false;
    check(m, r, "drop");
  }
  toString = () => "linkDown";
}

class Tick implements Cmd {
  constructor(readonly dt: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    step(m, this.dt);
    r.c.tick(m.t);
    check(m, r, "tick");
  }
  toString = () => `tick(${this.dt >= 0 ? "+" : ""}${this.dt})`;
}

class Only implements Cmd {
  constructor(readonly on: boolean) {}
  check = () => true;
  run(m: Model, r: Real): void {
    m.only = this.on;
    if (!this.on) m.armed = false;
    step(m, 0);
    r.c.setLocal(this.on, m.t);
    check(m, r, "only");
  }
  toString = () => `localOnly(${this.on})`;
}

class Reboot implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    // The state lives in RAM: a reboot starts again in boot (localOnly from the config: off here).
    r.c = boot(m.t);
    expect([r.c.st, r.c.why, r.c.n]).toEqual([CS_BOOT, CW_BOOT, 0]);
    Object.assign(m, { hbT: m.t, hbProg: m.prog, inT: m.t, inProg: m.prog, armed: false, only: false, st: CS_BOOT, n: 0 });
    check(m, r, "boot");
  }
  toString = () => "reboot";
}

const commands = [
  fc.integer({ min: 0, max: 90 }).map((dt) => new Heartbeat(dt)),
  fc.integer({ min: 0, max: 90 }).map((dt) => new Schedule(dt)),
  fc.constant(new Drop()),
  fc.integer({ min: 0, max: 200 }).map((dt) => new Tick(dt)),
  // Clock jumps: back by up to a day, ahead by up to a day.
  fc.integer({ min: -86_400, max: -1 }).map((dt) => new Tick(dt)),
  fc.integer({ min: 1000, max: 86_400 }).map((dt) => new Tick(dt)),
  fc.boolean().map((on) => new Only(on)),
  fc.constant(new Reboot()),
];

describe("connectivity, model-based", () => {
  it("random heartbeats, schedules, drops, reboots and clock jumps keep the rules after every step", () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 300 }), fc.integer({ min: 0, max: 1e6 }), (cmds, t0) => {
        const m: Model = { t: t0, prog: 0, hbT: t0, hbProg: 0, inT: t0, inProg: 0, armed: false, only: false, st: CS_BOOT, n: 0 };
        fc.modelRun(() => ({ model: m, real: { c: boot(t0) } }), cmds);
      }),
      { numRuns: 500 },
    );
  });
});
