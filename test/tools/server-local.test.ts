// tools/server/server.ts: a router coming back from acting as local server
// (docs/protocol.md, "Local server and reconciliation"): its LOCAL_REPORT is
// recorded, what it delivered locally is closed, clients with nothing
// resubmitted get a fresh schedule at once, and a program it reports running
// is fixed where it runs, whatever the capacity, through later re-plans.
// Driven through receive() and tick() on a clock the test moves; every down
// frame is opened with the device codec.
import { describe, expect, it } from "vitest";
import type { CborValue } from "../../protocol/cbor";
import { open, seal } from "../../protocol/envelope";
import * as M from "../../protocol/messages";
import { topicUp } from "../../protocol/topics";
import { EXAMPLE_TIME, sha256 } from "../../tools/protocol/examples";
import { EnergyServer, type RouterState } from "../../tools/server/server";
import { slotOf } from "../../tools/server/wire";

const SLOT_S = 600;
const T0 = Math.floor(EXAMPLE_TIME / SLOT_S) * SLOT_S + 5;
const KEY = new Uint8Array(32).fill(7);
const WASHER = 1;
const EV = 2;
const HEATER = 3;
const WASH = [20, 36, 8, 4, 4, 6];

/** One router and a server whose supply the test sets (packets a slot = supplyWh / 10). */
class Home {
  now = T0;
  seq = 0;
  supplyWh = 1000;
  down: { type: number; body: CborValue; time: number }[] = [];
  readonly lim = { horizonSlots: 144, maxPerSlot: new Uint16Array(17).fill(0xffff) };
  readonly server = new EnergyServer(
    {
      routers: [{ gridId: "g1", routerId: "r1", key: KEY }],
      supply: () => ({ pvWh: this.supplyWh, windWh: 0, importWh: 0 }),
      now: () => this.now,
      leaseSlots: 12,
    },
    {
      publish: (_topic, frame) => {
        const o = open(frame, KEY, sha256, false, 0, this.lim);
        if (!o.env) throw new Error(`a down frame the device refuses: ${o.e}`);
        this.down.push({ type: o.env.type, body: o.env.body, time: o.env.time });
      },
    },
  );

  constructor() {
    this.up(M.HELLO, ["0.2.0", 1, 0, 1024]);
    this.up(M.PAIRING, [WASHER, M.KIND_PROFILE, 0, null, 2200, 1, "washer"]);
    this.up(M.PAIRING, [EV, M.KIND_ENERGY, 1, null, 3700, 2, "ev"]);
    this.up(M.PAIRING, [HEATER, M.KIND_THERMAL, 2, null, 2000, 0, "heater"]);
    this.down = [];
  }

  up(type: number, body: CborValue): void {
    const f = seal(type, ++this.seq, this.now, body, KEY, sha256, new Uint8Array(2048)) as Uint8Array;
    this.server.receive(topicUp("g1", "r1"), f);
  }

  take(type: number): CborValue[][] {
    const mine = this.down.filter((d) => d.type === type);
    this.down = this.down.filter((d) => d.type !== type);
    return mine.map((d) => d.body as CborValue[]);
  }

  state(): RouterState {
    return this.server.router("g1", "r1") as RouterState;
  }

  slot(): number {
    return slotOf(this.now, 10);
  }

  /** The server's plan for a client over the next n slots. */
  planOf(client: number, n: number): number[] {
    return this.server.planOf("g1", "r1", client, this.slot(), n);
  }
}

describe("a router back from acting as local server", () => {
  it("its LOCAL_REPORT is recorded by request: outcome and packets delivered locally", () => {
    const h = new Home();
    h.up(M.LOCAL_REPORT, [301, EV, M.LR_DELIVERED, 120, 302, WASHER, M.LR_EXPIRED, 0, 303, HEATER, M.LR_REFUSED, 0]);
    const r = h.state();
    expect([...r.local.values()].map((d) => [d.id, d.client, d.outcome, d.packets])).toEqual([
      [301, EV, M.LR_DELIVERED, 120],
      [302, WASHER, M.LR_EXPIRED, 0],
      [303, HEATER, M.LR_REFUSED, 0],
    ]);
    expect(h.server.stats()).toMatchObject({ localReports: 1, localDecisions: 3 });
    // Its request ids count as used: a RESTORE would tell the router to go on above them.
    expect(r.lastReqId).toBe(303);
  });

  it("a request the server held open that the router delivered locally is closed, and nothing more is planned for it", () => {
    const h = new Home();
    h.up(M.REQUEST, [[40, EV, M.KIND_ENERGY, 0, 60, 200, 61]]);
    expect(h.take(M.ACCEPT)).toEqual([[40]]);
    expect(h.planOf(EV, 60).reduce((a, b) => a + b, 0)).toBe(200);
    h.down = [];
    h.now += 6 * 3600;
    h.up(M.LOCAL_REPORT, [40, EV, M.LR_DELIVERED, 200]);
    expect(h.state().requests.get(40)?.status).toBe("done");
    expect(h.planOf(EV, 60).every((n) => n === 0)).toBe(true);
    // Nothing resubmitted for the EV: its fresh schedule comes at once, all zeros.
    const ev = h.take(M.SCHEDULE).filter((s) => s[0] === EV);
    expect(ev).toHaveLength(1);
    expect((ev[0][2] as number[]).every((n) => n === 0)).toBe(true);
  });

  it("every client with nothing resubmitted gets a fresh schedule at once; one with a request resubmitted gets it with the answer", () => {
    const h = new Home();
    h.up(M.LOCAL_REPORT, [301, EV, M.LR_ADMITTED, 30, 302, HEATER, M.LR_DELIVERED, 12]);
    expect(h.take(M.SCHEDULE).map((s) => s[0])).toEqual([WASHER, HEATER]);
    h.up(M.REQUEST, [[301, EV, M.KIND_ENERGY, 0, 36, 90, 61]]);
    expect(h.take(M.ACCEPT)).toEqual([[301]]);
    const ev = h.take(M.SCHEDULE);
    expect(ev.map((s) => s[0])).toEqual([EV]);
    expect((ev[0][2] as number[]).reduce((a, b) => a + b, 0)).toBe(90);
  });

  it("a program reported running is admitted where it runs even with no capacity left, and the schedule sent says so", () => {
    const h = new Home();
    h.supplyWh = 0;
    h.up(M.LOCAL_REPORT, [302, WASHER, M.LR_RUNNING, 56]);
    // The rest of the program from the current slot (two slots of it ran locally).
    h.up(M.REQUEST, [[302, WASHER, M.KIND_PROFILE, 0, 10, WASH.slice(2)]]);
    expect(h.take(M.ACCEPT)).toEqual([[302]]);
    const q = h.state().requests.get(302);
    expect(q).toMatchObject({ status: "open", start: h.slot(), pinned: true });
    expect(h.planOf(WASHER, 6)).toEqual([...WASH.slice(2), 0, 0]);
    const s = h.take(M.SCHEDULE).filter((x) => x[0] === WASHER);
    expect(s).toHaveLength(1);
    expect(s[0][1]).toBe(0);
    expect((s[0][2] as number[]).slice(0, 4)).toEqual(WASH.slice(2));
  });

  it("without the report, the same resubmitted program finds no capacity and is rejected: the report is what keeps it", () => {
    const h = new Home();
    h.supplyWh = 0;
    h.up(M.REQUEST, [[302, WASHER, M.KIND_PROFILE, 0, 10, WASH.slice(2)]]);
    expect(h.take(M.ACCEPT)).toEqual([]);
    expect(h.take(M.REJECT)[0][0]).toBe(302);
  });

  it("a running program is never moved by later decisions: an emergency elsewhere and the re-plan of every new slot", () => {
    const h = new Home();
    h.supplyWh = 400;
    h.up(M.LOCAL_REPORT, [302, WASHER, M.LR_RUNNING, 56]);
    h.up(M.REQUEST, [[302, WASHER, M.KIND_PROFILE, 0, 10, WASH.slice(2)]]);
    const start = h.slot();
    h.up(M.REQUEST, [[303, HEATER, M.KIND_THERMAL, 0, 12, 40, 4, 33]]);
    h.up(M.EMERGENCY, [303, HEATER, M.EMG_NOW]);
    for (let k = 1; k <= 3; k++) {
      h.now += SLOT_S;
      h.server.tick();
      const q = h.state().requests.get(302);
      expect(q?.start, `slot +${k}`).toBe(start);
      expect(Array.from(q?.plan ?? []).slice(0, 4)).toEqual(WASH.slice(2));
    }
  });

  it("a report about a client the server does not know is refused (NACK E_CLIENT) and changes nothing", () => {
    const h = new Home();
    h.up(M.LOCAL_REPORT, [301, 9, M.LR_DELIVERED, 5]);
    expect(h.take(M.NACK_DOWN)[0][2]).toBe(M.E_CLIENT);
    expect(h.state().local.size).toBe(0);
    expect(h.server.stats().localReports).toBe(0);
  });
});
