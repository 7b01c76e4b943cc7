// tools/server/server.ts without a broker: the plan shared by several
// routers, leases, closing requests, frame limits and the slice history,
// driven through receive() and tick() with a Transport that keeps what is
// published. Every down frame is opened with the device codec.
import { describe, expect, it } from "vitest";
import type { CborValue } from "../../protocol/cbor";
import { open, seal } from "../../protocol/envelope";
import * as M from "../../protocol/messages";
import { topicStatus, topicUp } from "../../protocol/topics";
import { EXAMPLE_TIME, sha256 } from "../../tools/protocol/examples";
import { EnergyServer, maxPerSlotOf, type ServerOptions } from "../../tools/server/server";
import { slotOf } from "../../tools/server/wire";

const SLOT_S = 600;
const T0 = Math.floor(EXAMPLE_TIME / SLOT_S) * SLOT_S + 5;

interface Down {
  topic: string;
  frame: Uint8Array;
  qos: number;
  type: number;
  seq: number;
  body: CborValue;
}

/** A server on a clock the test moves, with routers r0, r1, ... each with its own key. */
class World {
  now = T0;
  out: Down[] = [];
  readonly seqs: number[];
  readonly keys: Uint8Array[];
  readonly server: EnergyServer;
  /** Every client id 1..16 known: the device's view for opening frames. */
  readonly lim = { horizonSlots: 144, maxPerSlot: new Uint16Array(17).fill(0xffff) };

  constructor(n: number, opts: Partial<ServerOptions> = {}) {
    this.seqs = new Array<number>(n).fill(0);
    this.keys = Array.from({ length: n }, (_, i) => new Uint8Array(32).fill(i + 1));
    this.server = new EnergyServer(
      {
        routers: this.keys.map((key, i) => ({ gridId: "g1", routerId: "r" + i, key })),
        supply: () => ({ pvWh: 1500, windWh: 0, importWh: 500 }),
        now: () => this.now,
        ...opts,
      },
      {
        publish: (topic, frame, qos) => {
          const i = Number(/\/r(\d+)\//.exec(topic)?.[1]);
          const o = open(frame, this.keys[i], sha256, false, 0, this.lim);
          if (!o.env) throw new Error(`a down frame the device refuses: ${o.e}`);
          this.out.push({ topic, frame, qos, type: o.env.type, seq: o.env.seq, body: o.env.body });
        },
      },
    );
  }

  up(i: number, type: number, body: CborValue, time = this.now): void {
    const f = seal(type, ++this.seqs[i], time, body, this.keys[i], sha256, new Uint8Array(2048)) as Uint8Array;
    this.server.receive(topicUp("g1", "r" + i), f);
  }

  /** Down messages of a type to router i since the last call (taken). */
  take(i: number, type: number): Down[] {
    const mine = this.out.filter((d) => d.topic === `sden/v1/g1/r${i}/down` && d.type === type);
    this.out = this.out.filter((d) => !mine.includes(d));
    return mine;
  }

  pair(i: number, client: number, kind: number, ratedW: number, priority: number): void {
    this.up(i, M.PAIRING, [client, kind, client, null, ratedW, priority, "c" + client]);
  }

  slot(): number {
    return slotOf(this.now, 10);
  }

  /** A request's plan, from its earliest slot. */
  plan(i: number, id: number): number[] {
    return Array.from(this.server.router("g1", "r" + i)?.requests.get(id)?.plan ?? []);
  }
}

function world(n: number, opts: Partial<ServerOptions> = {}): World {
  return new World(n, opts);
}

describe("the server's plan", () => {
  it("serves two routers from one supply: the second gets what the first leaves", () => {
    const w = world(2);
    w.pair(0, 1, M.KIND_ENERGY, 11000, 4);
    w.pair(1, 1, M.KIND_ENERGY, 11000, 4);
    w.up(0, M.REQUEST, [[1, 1, M.KIND_ENERGY, 0, 10, 366, 183]]);
    w.up(1, M.REQUEST, [[1, 1, M.KIND_ENERGY, 0, 10, 100, 183]]);
    expect(w.take(1, M.ACCEPT).map((d) => d.body)).toEqual([[1]]);
    expect(w.plan(0, 1).slice(0, 3)).toEqual([183, 183, 0]);
    expect(w.plan(1, 1).slice(0, 4)).toEqual([17, 17, 66, 0]);
    expect(w.take(1, M.SCHEDULE).map((d) => d.body)).toEqual([[1, 0, [17, 17, 66], 12]]);
    expect(w.server.stats().sendErrors).toBe(0);
  });

  it("moves a lower class's packets beyond its lease to make room for a higher class, never those under the lease", () => {
    const w = world(2);
    w.pair(0, 1, M.KIND_ENERGY, 11000, 0);
    w.pair(1, 1, M.KIND_ENERGY, 11000, 7);
    w.up(0, M.REQUEST, [[1, 1, M.KIND_ENERGY, 0, 40, 20 * 183, 183]]);
    expect(w.plan(0, 1).slice(0, 21)).toEqual([...new Array(20).fill(183), 0]);
    // Slots 12-15 hold 17 free packets each: the quick way fails, the priorities decide.
    w.up(1, M.REQUEST, [[1, 1, M.KIND_ENERGY, 12, 16, 400, 100]]);
    expect(w.take(1, M.ACCEPT).map((d) => d.body)).toEqual([[1]]);
    // Plans start at the request's earliest slot: 12 slots on.
    const b = w.plan(1, 1);
    expect(b).toEqual([100, 100, 100, 100]);
    const a = w.plan(0, 1);
    expect(a.slice(0, 12)).toEqual(new Array(12).fill(183));
    expect(a.slice(12, 16)).toEqual([100, 100, 100, 100]);
    expect(a.reduce((x, y) => x + y, 0)).toBe(20 * 183);
    for (let s = 0; s < 40; s++) expect(a[s] + (s >= 12 && s < 16 ? b[s - 12] : 0)).toBeLessThanOrEqual(200);
  });

  it("rejects for policy beyond the open requests a router may have, for deadline a request whose time is over", () => {
    const w = world(1, { maxOpenRequests: 2 });
    w.pair(0, 1, M.KIND_ENERGY, 11000, 4);
    w.up(0, M.REQUEST, [
      [1, 1, M.KIND_ENERGY, 0, 40, 10, 10],
      [2, 1, M.KIND_ENERGY, 0, 40, 10, 10],
      [3, 1, M.KIND_ENERGY, 0, 40, 10, 10],
    ]);
    // Made two hours ago and queued: its deadline (6 slots on) has passed.
    w.up(0, M.REQUEST, [[4, 1, M.KIND_ENERGY, 0, 6, 10, 10]], w.now - 7200);
    const rej = w.take(0, M.REJECT).map((d) => d.body);
    expect(rej[0]).toEqual([3, M.REJ_POLICY, expect.any(Number)]);
    expect((rej[0] as number[])[2]).toBeGreaterThan(0);
    expect(rej[1]).toEqual([4, M.REJ_POLICY, expect.any(Number)]);
    const w2 = world(1);
    w2.pair(0, 1, M.KIND_ENERGY, 11000, 4);
    w2.up(0, M.REQUEST, [[4, 1, M.KIND_ENERGY, 0, 6, 10, 10]], w2.now - 7200);
    expect(w2.take(0, M.REJECT).map((d) => d.body)).toEqual([[4, M.REJ_DEADLINE, 0]]);
  });

  it("voids what was planned in slots no lease covered: the packets are owed again", () => {
    const w = world(1);
    w.pair(0, 1, M.KIND_ENERGY, 11000, 4);
    w.up(0, M.HELLO, ["0.2.0", 1, 0, 512]);
    // The HELLO's answer: an empty schedule for the client, which has nothing planned yet.
    expect(w.take(0, M.SCHEDULE).map((d) => (d.body as unknown[]).slice(0, 3))).toEqual([[1, 0, [0]]]);
    w.up(0, M.REQUEST, [[1, 1, M.KIND_ENERGY, 0, 60, 30 * 100, 100]]);
    const first = w.slot();
    w.server.receive(topicStatus("g1", "r0"), new TextEncoder().encode("offline"));
    for (let k = 0; k < 20; k++) {
      w.now += SLOT_S;
      w.server.tick();
    }
    const p = w.plan(0, 1);
    expect(p.slice(0, 12)).toEqual(new Array(12).fill(100));
    expect(p.slice(12, 20)).toEqual(new Array(8).fill(0));
    expect(p.slice(20).reduce((x, y) => x + y, 0)).toBe(30 * 100 - 12 * 100);
    expect(w.slot()).toBe(first + 20);
    expect(w.take(0, M.SCHEDULE).length).toBe(1);
  });

  it("closes an energy request as done once its packets are acknowledged, a thermal band at its end", () => {
    const w = world(1);
    w.pair(0, 1, M.KIND_ENERGY, 11000, 4);
    w.pair(0, 2, M.KIND_THERMAL, 3000, 4);
    w.up(0, M.REQUEST, [
      [1, 1, M.KIND_ENERGY, 0, 10, 150, 100],
      [2, 2, M.KIND_THERMAL, 0, 4, 10, 2, 50],
    ]);
    expect(w.plan(0, 2)).toEqual([10, 0, 10, 0]);
    w.now += SLOT_S;
    w.server.tick();
    w.up(0, M.ACK, [1, 100, 1000, 2, 10, 100]);
    w.now += SLOT_S;
    w.server.tick();
    w.up(0, M.ACK, [1, 50, 500]);
    w.now += SLOT_S;
    w.server.tick();
    const q = w.server.router("g1", "r0")?.requests;
    expect(q?.get(1)).toMatchObject({ status: "done", delivered: 150 });
    expect(q?.get(2)?.status).toBe("open");
    w.now += SLOT_S;
    w.server.tick();
    expect(q?.get(2)).toMatchObject({ status: "done", delivered: 10 });
  });

  it("fits a schedule into the router's frame limit: counts beyond it are cut and the lease ends with them", () => {
    const w = world(1, { leaseSlots: 144 });
    w.pair(0, 1, M.KIND_ENERGY, 11000, 4);
    w.up(0, M.HELLO, ["0.2.0", 1, 0, 100]);
    expect(w.take(0, M.SCHEDULE)).toHaveLength(1);
    w.up(0, M.REQUEST, [[1, 1, M.KIND_ENERGY, 0, 144, 144 * 150, 150]]);
    const [s] = w.take(0, M.SCHEDULE);
    // The MQTT PUBLISH: fixed header (2), topic (2 + length), packet id (2), payload.
    expect(2 + 2 + s.topic.length + 2 + s.frame.length).toBeLessThanOrEqual(100);
    const [, first, counts, lease] = s.body as [number, number, number[], number];
    expect(first).toBe(0);
    expect(counts.every((n) => n === 150)).toBe(true);
    expect(lease).toBe(counts.length);
    expect(w.server.router("g1", "r0")?.clients.get(1)?.leaseEnd).toBe(w.slot() + lease);
    expect(w.server.stats().trimmed).toBe(144 - counts.length);
  });

  it("fits a RESTORE into the frame limit of the HELLO that asks for it, leaving the latest requests out", () => {
    const w = world(1);
    for (let c = 1; c <= 3; c++) w.pair(0, c, M.KIND_ENERGY, 11000, 4);
    w.up(0, M.REQUEST, [1, 2, 3, 4, 5, 6].map((id) => [id, 1 + (id % 3), M.KIND_ENERGY, 0, 100, 10, 5]));
    w.up(0, M.HELLO, ["0.2.0", 0, M.CAP_RESTORE, 160]);
    const [r] = w.take(0, M.RESTORE);
    expect(2 + 2 + r.topic.length + 2 + r.frame.length).toBeLessThanOrEqual(160);
    const [, , , , , clients, items] = r.body as CborValue[][];
    expect(clients.length).toBe(3);
    expect(items.length).toBeGreaterThan(0);
    expect(items.map((i) => (i as number[])[0])).toEqual([1, 2, 3, 4, 5, 6].slice(0, items.length));
    expect(w.server.stats().trimmed).toBe(6 - items.length);
  });

  it("keeps the packets of passed slots by class for the slicing chart, beside each slot's capacity", () => {
    const w = world(1);
    w.pair(0, 1, M.KIND_ENERGY, 11000, 0);
    w.pair(0, 2, M.KIND_ENERGY, 11000, 7);
    w.up(0, M.REQUEST, [
      [1, 1, M.KIND_ENERGY, 0, 3, 150, 50],
      [2, 2, M.KIND_ENERGY, 0, 30, 30, 10],
    ]);
    const s0 = w.slot();
    w.now += 2 * SLOT_S;
    w.server.tick();
    const rows = w.server.slices(s0, s0 + 4);
    expect(rows.map((r) => r.slot)).toEqual([s0, s0 + 1, s0 + 2, s0 + 3]);
    expect(rows.every((r) => r.capacity === 200)).toBe(true);
    // Class 1 (priority 0) 50 a slot, class 3 (priority 7) 10 a slot; the slot after is only planned.
    expect(rows.map((r) => r.packets)).toEqual([
      [0, 50, 0, 10],
      [0, 50, 0, 10],
      [0, 50, 0, 10],
      [0, 0, 0, 0],
    ]);
    expect(maxPerSlotOf(11000, 10, 10)).toBe(183);
    expect(maxPerSlotOf(20, 10, 10)).toBe(1);
  });
});
