// firmware/seq.ts: a sent seq is never used twice, power cuts included, and
// a receive seq is in flash before the caller acts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { REC_FULL, Records } from "../../hal/records";
import type { RecordStore } from "../../hal/records";
import { crc32 } from "../../hal/sim/crc32";
import { PowerCut, SimFlash } from "../../hal/sim/flash";
import { SeqStore } from "../../firmware/seq";

const STEP = 8;

function records(flash: SimFlash): Records {
  return new Records(flash, crc32, { name: "seq", fileBytes: 256 });
}

/** Sends n seqs, collecting them, until done or a power cut. */
function sendUntilCut(store: SeqStore, n: number, used: number[]): boolean {
  try {
    for (let i = 0; i < n; i++) {
      const s = store.nextSend();
      if (s > 0) used.push(s);
    }
    return false;
  } catch (e) {
    if (e instanceof PowerCut) return true;
    throw e;
  }
}

describe("SeqStore", () => {
  it("a fresh router sends 1, 2, 3 ... and saves a bound once per step", () => {
    const saves: Uint8Array[] = [];
    const store = new SeqStore({ load: () => undefined, save: (d) => (saves.push(d.slice()), 0) }, STEP);
    const seqs = Array.from({ length: 20 }, () => store.nextSend());
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(saves.length).toBe(3);
  });

  it("after a restart it starts above every seq it may have used", () => {
    const flash = new SimFlash();
    const a = new SeqStore(records(flash), STEP);
    for (let i = 0; i < 13; i++) a.nextSend();
    flash.powerCycle();
    const b = new SeqStore(records(flash), STEP);
    expect(b.nextSend()).toBe(2 * STEP + 1);
  });

  it("a power cut at any flash operation never makes a seq repeat", () => {
    const base = new SimFlash();
    const warm = new SeqStore(records(base), STEP);
    for (let i = 0; i < 100; i++) warm.nextSend();
    const probe = base.clone();
    const before = probe.ops;
    sendUntilCut(new SeqStore(records(probe), STEP), 200, []);
    const ops = probe.ops - before;
    expect(ops).toBeGreaterThan(20);
    for (let k = 0; k < ops; k++) {
      for (const torn of [0, 3, 9]) {
        const flash = base.clone();
        const used = Array.from({ length: 100 }, (_, i) => i + 1);
        flash.cutAt(k, { tornBytes: torn });
        expect(sendUntilCut(new SeqStore(records(flash), STEP), 200, used)).toBe(true);
        flash.powerCycle();
        sendUntilCut(new SeqStore(records(flash), STEP), 50, used);
        expect(new Set(used).size, `cut at op ${k}, torn ${torn}`).toBe(used.length);
      }
    }
  });

  it("when a new bound cannot be saved it gives 0 and changes nothing", () => {
    let full = false;
    let saved: Uint8Array | undefined;
    const store: RecordStore = { load: () => saved, save: (d) => (full ? REC_FULL : ((saved = d.slice()), 0)) };
    const s = new SeqStore(store, STEP);
    for (let i = 0; i < STEP; i++) s.nextSend();
    full = true;
    expect(s.nextSend()).toBe(0);
    expect(s.lastSaveError).toBe(REC_FULL);
    full = false;
    expect(s.nextSend()).toBe(STEP + 1);
  });

  it("a persisted receive seq is in flash before acceptRecv returns, and survives a power cut", () => {
    const flash = new SimFlash();
    const a = new SeqStore(records(flash), STEP);
    expect(a.acceptRecv(41, true)).toBe(true);
    expect(a.acceptRecv(42, false)).toBe(true);
    expect(a.recvLast).toBe(42);
    flash.powerCycle();
    const b = new SeqStore(records(flash), STEP);
    expect(b.recvLast).toBe(41);
  });

  it("a receive seq not above the highest accepted is refused and changes nothing", () => {
    const s = new SeqStore(records(new SimFlash()), STEP);
    expect(s.acceptRecv(10, true)).toBe(true);
    expect(s.acceptRecv(10, true)).toBe(false);
    expect(s.acceptRecv(3, false)).toBe(false);
    expect(s.recvLast).toBe(10);
  });

  it("a failed persist refuses the message and keeps the old highest", () => {
    let full = false;
    const s = new SeqStore({ load: () => undefined, save: () => (full ? REC_FULL : 0) }, STEP);
    s.acceptRecv(5, true);
    full = true;
    expect(s.acceptRecv(6, true)).toBe(false);
    expect(s.recvLast).toBe(5);
    expect(s.recvSaved).toBe(5);
  });

  it("seqs and receive seqs beyond 2^32 survive the record", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 53 - 2 ** 20 }), fc.integer({ min: 1, max: 2 ** 53 - 1 }), (sent, recv) => {
        let saved: Uint8Array | undefined;
        const store: RecordStore = { load: () => saved, save: (d) => ((saved = d.slice()), 0) };
        const a = new SeqStore(store, STEP);
        // Jump the counter by accepting a reservation as if it had been saved by an earlier life.
        (a as unknown as { nextSeq: number }).nextSeq = sent;
        a.nextSend();
        a.acceptRecv(recv, true);
        const b = new SeqStore(store, STEP);
        expect(b.recvLast).toBe(recv);
        expect(b.nextSend()).toBe(sent + STEP);
      }),
    );
  });
});
