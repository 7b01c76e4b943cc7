// Power cuts: at every flash operation of the first half hour of a day
// (boot, restore, the first request, its schedule, slots metered and
// acked; torn writes included), and at random instants of a whole day, one
// of them in the middle of a Storage compaction, which can wipe every file.
// Each time the router must come back with nothing accepted lost: its open
// requests and the schedules it holds, restoring them from the server
// after a wipe, and run on.

import { afterAll, describe, expect, it } from "vitest";
import { World } from "../../tools/sim/world";
import { F_ID, F_STATE, MAX_REQUESTS, RQ_FREE } from "../../firmware/requests";

const MIN = 60_000;

/** The open requests the router holds: id -> state. */
function openRequests(w: World): Map<number, number> {
  const out = new Map<number, number>();
  const rq = w.router?.agent?.requests;
  if (!rq) return out;
  for (let i = 0; i < MAX_REQUESTS; i++) if (rq.get(i, F_STATE) !== RQ_FREE) out.set(rq.get(i, F_ID), rq.get(i, F_STATE));
  return out;
}

/** Every request the router held before is held now, or the server says it is finished. */
function checkNoRequestLost(w: World, before: Map<number, number>, when: string): void {
  const now = openRequests(w);
  const server = w.server.router(w.config.gridId, w.config.routerId);
  for (const id of before.keys()) {
    if (now.has(id)) continue;
    const st = server?.requests.get(id)?.status;
    expect(st === "done" || st === "expired", `${when}: request ${id} lost (server: ${st})`).toBe(true);
  }
  // And what the household was told was taken is known to the router or the server.
  for (const u of w.userRequests) if (u.ok) expect(now.has(u.id) || server?.requests.has(u.id), `${when}: ${u.request.appliance} request ${u.id}`).toBe(true);
}

/** The router's plan for the next slots is the server's: no schedule lost. */
function checkPlan(w: World, when: string): void {
  const a = w.router?.agent;
  if (!a) throw new Error("no agent");
  const s = a.currentSlot() + 1;
  (w.config.clients ?? []).forEach((c, i) => {
    const lease = a.plan.lease[i];
    const n = Math.max(0, Math.min(6, lease - s));
    if (n === 0) return;
    const mine: number[] = [];
    for (let k = 0; k < n; k++) mine.push(a.plan.at(i + 1, s + k));
    expect(mine, `${when}: ${c.name}'s plan`).toEqual(w.server.planOf(w.config.gridId, w.config.routerId, i + 1, s, n));
  });
}

describe("a power cut at every flash operation of the first half hour", () => {
  const STRETCH_MS = 30 * MIN;
  const worlds: World[] = [];
  afterAll(async () => {
    for (const w of worlds) await w.close();
  });

  it("comes back each time with its requests and schedules, and runs on", async () => {
    // How many flash operations the stretch takes without a cut.
    let opsAtBoot = 0;
    const ref = await World.create({ beforeStart: (w) => (opsAtBoot = w.board.flash.ops) });
    worlds.push(ref);
    await ref.run(STRETCH_MS);
    const ops = ref.board.flash.ops - opsAtBoot;
    await ref.close();
    worlds.pop();
    expect(ops).toBeGreaterThan(20);
    let struck = 0;
    for (let k = 0; k < ops; k++) {
      const w = await World.create({ beforeStart: (x) => x.board.flash.cutAt(k, { tornBytes: k % 3 === 1 ? 1 + (k % 7) : 0 }) });
      worlds.push(w);
      await w.run(STRETCH_MS + 20 * MIN);
      const when = `cut at flash operation ${k} of ${ops}`;
      if (w.board.boots.length > 1) struck++;
      expect(w.R.status().link, when).toBe("online");
      expect(w.router?.agent?.flashFull, when).toBe(false);
      checkNoRequestLost(w, openRequests(w), when);
      expect(w.userRequests.filter((u) => u.ok).length, when).toBeGreaterThanOrEqual(1);
      checkPlan(w, when);
      await w.close();
      worlds.pop();
    }
    // The stretch's flash operations vary a little from run to run (real
    // sockets carry the protocol), so a cut near the end may find none left.
    expect(struck).toBeGreaterThanOrEqual(Math.min(20, ops));
    expect(struck).toBeGreaterThan(ops * 0.7);
  }, 600_000);
});

describe("power cuts at random instants of a day, one in the middle of a compaction", () => {
  let w: World;
  afterAll(async () => {
    await w?.close();
  });

  it("each time: nothing accepted lost, the plan back, online again; after a wipe, restored from the server", async () => {
    w = await World.create({ scenario: "sunny-summer", seed: 5 });
    const world = w.board.clock.worldClock();
    let x = 12345;
    const rnd = () => (x = (x * 48271) % 2147483647) / 2147483647;
    const cuts = 40;
    for (let i = 0; i < cuts; i++) {
      const at = Math.floor(rnd() * 24 * 60) * MIN + Math.floor(rnd() * MIN);
      world.setTimeout(() => (i % 2 === 0 ? w.board.powerCut() : w.board.flash.cutAt(0, { tornBytes: Math.floor(rnd() * 12) })), at);
    }
    // The first compaction the router starts is cut at its second flash
    // operation, which leaves Storage corrupt: the next boot erases every
    // file (../shared/espruino.md), the key included, so the board is
    // flashed again and the router restores from the server.
    const flash = w.board.flash;
    const compact = flash.compact.bind(flash);
    let compactionCut = false;
    flash.compact = () => {
      if (!compactionCut) {
        compactionCut = true;
        flash.cutAt(1);
      }
      compact();
    };
    let boots = w.board.boots.length;
    let before = new Map<number, number>();
    let pending: { before: Map<number, number>; at: string } | undefined;
    let checked = 0;
    let wipedAndRestored = 0;
    await w.run(24 * 60 * MIN, () => {
      if (w.board.boots.length !== boots) {
        boots = w.board.boots.length;
        pending = { before, at: new Date(w.nowS() * 1000).toISOString() };
        return;
      }
      const a = w.router?.agent;
      if (pending && a && a.summary().link === "online" && a.summary().pendingAcks === 0) {
        checkNoRequestLost(w, pending.before, `after the cut at ${pending.at}`);
        checked++;
        if (a.counters.restores > 0) wipedAndRestored++;
        pending = undefined;
      }
      before = openRequests(w);
    });
    expect(compactionCut).toBe(true);
    expect(flash.wipes).toBe(1);
    expect(w.reflashes).toBe(2);
    expect(wipedAndRestored).toBeGreaterThanOrEqual(1);
    expect(w.board.boots.length).toBeGreaterThan(cuts / 2);
    expect(checked).toBeGreaterThanOrEqual(w.board.boots.length - 3);
    expect(w.R.status().link).toBe("online");
    for (const u of w.userRequests) expect(u.ok, u.request.appliance).toBe(true);
    // A washing machine or dishwasher running when power went went on at once: never paused.
    for (const a of w.household.appliances) if (a.kind === "profile") expect(a.counters.interruptions, a.name).toBe(0);
  }, 300_000);
});

describe("a store that went back to an older state after a compaction", () => {
  let w: World;
  afterAll(async () => {
    await w?.close();
  });

  it("is found out by the server's backup mark after the next HELLO, erased and restored from the server", async () => {
    w = await World.create({ scenario: "sunny-summer", seed: 1 });
    // The flash as it is at 6:00, before the day's compactions.
    await w.run(6 * 60 * MIN);
    const older = w.board.flash.clone();
    const a0 = w.router?.agent;
    const compactions = () => w.router?.agent?.counters.compactions ?? 0;
    let done = 0;
    await w.run(12 * 60 * MIN, () => (done = Math.max(done, compactions())));
    expect(done + (a0 === w.router?.agent ? 0 : 1)).toBeGreaterThanOrEqual(1);
    const open = openRequests(w);
    expect(open.size).toBeGreaterThan(0);
    // Power goes, and the store comes back as it was at 6:00, unnoticed by Storage.
    (w.board.flash as unknown as { image: Uint8Array }).image.set(older.bytes());
    w.board.powerCut();
    await w.run(10 * MIN);
    expect(w.board.lines.some((l) => /older than the server's backup/.test(l))).toBe(true);
    expect(w.router?.agent?.counters.restores).toBe(1);
    expect(w.R.status().link).toBe("online");
    checkNoRequestLost(w, open, "after the store went back");
  }, 120_000);
});

describe("a power cut while the washing machine runs its program", () => {
  let w: World;
  afterAll(async () => {
    await w?.close();
  });

  it("resumes the program at once after the reboot: the machine never pauses and finishes by its deadline", async () => {
    w = await World.create({ scenario: "sunny-summer", seed: 1 });
    await w.run(9 * 60 * MIN + 15 * MIN);
    const washer = w.household.appliances.find((a) => a.name === "washer");
    expect(w.R.requests().some((r) => r.client === 1 && r.state === "running")).toBe(true);
    w.board.powerCut();
    await w.run(3 * 60 * MIN);
    expect(w.board.boots.length).toBe(2);
    expect(washer?.counters.interruptions).toBe(0);
    expect(washer?.counters.deadlinesMet).toBe(1);
  }, 120_000);
});
