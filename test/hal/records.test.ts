// Crash-safe records over the simulated Storage: a power cut at any flash
// operation of a save leaves the saved value or the one before it, never
// neither, never a torn or 0xFF value; Storage never compacts on its own.

import fc from "fast-check";
import { losingFile } from "../support/losing-flash";
import { describe, expect, it } from "vitest";
import { REC_FULL, REC_OK, REC_TOO_BIG, Records, recordBytes } from "../../hal/records";
import { crc32 } from "../../hal/sim/crc32";
import { PowerCut, SimFlash } from "../../hal/sim/flash";
import type { Flash } from "../../hal/types";

const NAME = "rec";
const FILE_BYTES = 128;
/** Storage's cost of one record file: 32-byte header + data. */
const FILE_COST = 32 + FILE_BYTES;
/** Data bytes of the records most tests save: 32 bytes each, 4 to a file. */
const DATA = 16;

function open(flash: Flash, fileBytes = FILE_BYTES): Records {
  return new Records(flash, crc32, { name: NAME, fileBytes });
}

/** n bytes that differ from one value to the next. */
function value(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (seed * 37 + i * 11) & 0xff;
  return out;
}

function same(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Saves, expecting the armed cut to strike; true when it did. */
function saveUntilCut(rec: Records, data: Uint8Array): boolean {
  try {
    expect(rec.save(data)).toBe(REC_OK);
    return false;
  } catch (e) {
    if (!(e instanceof PowerCut)) throw e;
    return true;
  }
}

/** Flash operations of one save, run on a copy. */
function opsOfSave(flash: SimFlash, data: Uint8Array): number {
  const g = flash.clone();
  const rec = open(g);
  const before = g.ops;
  expect(rec.save(data)).toBe(REC_OK);
  return g.ops - before;
}

/** A flash holding `saves` records of DATA bytes, values 1..saves. */
function withSaves(saves: number): SimFlash {
  const flash = new SimFlash({ sizeBytes: 64 * 1024, pageBytes: 4096 });
  const rec = open(flash);
  for (let i = 1; i <= saves; i++) expect(rec.save(value(DATA, i))).toBe(REC_OK);
  return flash;
}

/**
 * Cuts power at every operation of a save of `next` on copies of `base`,
 * whole and torn at several byte counts; after each reboot the record is
 * the old value or the new one, and the next save works.
 */
function survivesEveryCut(base: SimFlash, old: Uint8Array | undefined, next: Uint8Array): number {
  const ops = opsOfSave(base, next);
  const total = recordBytes(next.length);
  const tornCounts = [0, 1, 3, 4, 7, 8, 12, total - 4, total - 1, total];
  for (let k = 0; k < ops; k++) {
    for (const torn of tornCounts) {
      const flash = base.clone();
      flash.cutAt(k, { tornBytes: torn });
      expect(saveUntilCut(open(flash), next)).toBe(true);
      flash.powerCycle();
      const rec = open(flash);
      const got = rec.load();
      // The last operation of a save completed in full is the only way to the new value.
      const expected = k === ops - 1 && torn >= total ? next : old;
      expect(same(got, expected), `cut at op ${k} of ${ops}, torn ${torn}`).toBe(true);
      // The writer goes on from there.
      const after = value(30, 99);
      expect(rec.save(after)).toBe(REC_OK);
      flash.powerCycle();
      expect(open(flash).load()).toEqual(after);
      expect(flash.wipes).toBe(0);
    }
  }
  return ops;
}

describe("Records: format and operations", () => {
  it("load on an empty flash is undefined and seq is 0", () => {
    const rec = open(new SimFlash());
    expect(rec.load()).toBeUndefined();
    expect(rec.seq).toBe(0);
  });

  it("a saved record loads back, after a reboot too", () => {
    const flash = new SimFlash();
    const rec = open(flash);
    expect(rec.save(value(10, 1))).toBe(REC_OK);
    expect(rec.load()).toEqual(value(10, 1));
    flash.powerCycle();
    expect(open(flash).load()).toEqual(value(10, 1));
  });

  it("an empty record is a value, not a missing one", () => {
    const flash = new SimFlash();
    expect(open(flash).save(new Uint8Array(0))).toBe(REC_OK);
    expect(open(flash).load()).toEqual(new Uint8Array(0));
  });

  it("the first save pre-allocates <name>.0 with the record first, the rest 0xFF", () => {
    const flash = new SimFlash();
    open(flash).save(value(10, 1));
    expect(flash.list()).toEqual(["rec.0"]);
    const file = flash.read("rec.0") as Uint8Array;
    expect(file.length).toBe(FILE_BYTES);
    expect(file[0]).toBe(0xa5);
    expect(file.subarray(recordBytes(10)).every((b) => b === 0xff)).toBe(true);
  });

  it("a record is laid out as magic, format, length, sequence, data, CRC-32 and zero padding", () => {
    const flash = new SimFlash();
    open(flash).save(new Uint8Array([1, 2, 3]));
    const file = flash.read("rec.0") as Uint8Array;
    const crc = crc32(file.subarray(0, 11));
    expect([...file.subarray(0, recordBytes(3))]).toEqual([
      0xa5, 0x00, // magic, format
      3, 0, // data length
      1, 0, 0, 0, // sequence number
      1, 2, 3, // data
      crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24, // CRC-32 of the 11 bytes before
      0, // padding to 16
    ]);
  });

  it("an append takes 1 flash operation", () => {
    expect(opsOfSave(withSaves(2), value(DATA, 3))).toBe(1);
  });

  it("the first rotation takes 2 flash operations: header and data of <name>.1", () => {
    const flash = withSaves(4); // 4 x 32 bytes fill the 128-byte file
    expect(opsOfSave(flash, value(DATA, 5))).toBe(2);
  });

  it("a later rotation takes 3 flash operations: erase the other file, its header, its data", () => {
    const flash = withSaves(8);
    expect(opsOfSave(flash, value(DATA, 9))).toBe(3);
    open(flash).save(value(DATA, 9));
    expect(flash.list().sort()).toEqual(["rec.0", "rec.1"]);
  });

  it("the sequence number grows by one per save, across rotations and reboots", () => {
    const flash = new SimFlash();
    for (let i = 1; i <= 20; i++) {
      const rec = open(flash);
      expect(rec.seq).toBe(i - 1);
      expect(rec.save(value(i, i))).toBe(REC_OK);
      expect(rec.seq).toBe(i);
      if (i % 3 === 0) flash.powerCycle();
    }
    expect(open(flash).load()).toEqual(value(20, 20));
  });

  it("a record too big for one file is refused with REC_TOO_BIG and nothing written", () => {
    const flash = new SimFlash();
    const rec = open(flash);
    // 8-byte header, 4-byte CRC and at least 1 byte of padding.
    expect(rec.save(new Uint8Array(FILE_BYTES - 12))).toBe(REC_TOO_BIG);
    expect(flash.ops).toBe(0);
    expect(rec.save(new Uint8Array(FILE_BYTES - 13))).toBe(REC_OK);
  });
});

describe("Records: invalid records", () => {
  it("an all-0xFF record is invalid", () => {
    const flash = new SimFlash();
    flash.write("rec.0", new Uint8Array(FILE_BYTES).fill(0xff));
    const rec = open(flash);
    expect(rec.load()).toBeUndefined();
    expect(rec.seq).toBe(0);
  });

  it("a record with a bad CRC is invalid and the one before it is loaded", () => {
    const good = new SimFlash();
    const r = open(good);
    r.save(value(20, 1));
    r.save(value(20, 2));
    const file = good.read("rec.0") as Uint8Array;
    file[recordBytes(20) + 8] ^= 0x01; // a data bit of the second record
    const flash = new SimFlash();
    flash.write("rec.0", file);
    expect(open(flash).load()).toEqual(value(20, 1));
  });

  it("a short record, whose length runs past the end of its file, is invalid", () => {
    const good = new SimFlash();
    open(good).save(value(20, 1));
    const file = (good.read("rec.0") as Uint8Array).slice(0, recordBytes(20) - 1);
    const flash = new SimFlash();
    flash.write("rec.0", file);
    expect(open(flash).load()).toBeUndefined();
  });

  it("a record without its zero padding is invalid", () => {
    const good = new SimFlash();
    open(good).save(value(20, 1));
    const file = good.read("rec.0") as Uint8Array;
    file[recordBytes(20) - 1] = 0xff;
    const flash = new SimFlash();
    flash.write("rec.0", file);
    expect(open(flash).load()).toBeUndefined();
  });
});

describe("Records: power cuts", () => {
  it("the first save survives a cut at every operation (nothing or the new value)", () => {
    expect(survivesEveryCut(new SimFlash({ sizeBytes: 64 * 1024 }), undefined, value(DATA, 1))).toBe(2);
  });

  it("an append survives a cut at every operation, whole or torn", () => {
    expect(survivesEveryCut(withSaves(2), value(DATA, 2), value(DATA, 3))).toBe(1);
  });

  it("an append of a bigger record survives a cut at every operation, whole or torn", () => {
    expect(survivesEveryCut(withSaves(1), value(DATA, 1), value(60, 2))).toBe(1);
  });

  it("the first rotation survives a cut at every operation, whole or torn", () => {
    expect(survivesEveryCut(withSaves(4), value(DATA, 4), value(DATA, 5))).toBe(2);
  });

  it("a later rotation survives a cut at every operation, whole or torn", () => {
    expect(survivesEveryCut(withSaves(8), value(DATA, 8), value(DATA, 9))).toBe(3);
  });

  it("a record whose data ends in 0xFF bytes stays intact after a reboot and another save", () => {
    const flash = new SimFlash();
    const ff = new Uint8Array(20).fill(0xff);
    expect(open(flash).save(ff)).toBe(REC_OK);
    flash.powerCycle();
    const rec = open(flash);
    expect(rec.load()).toEqual(ff);
    expect(rec.save(value(8, 2))).toBe(REC_OK);
    flash.powerCycle();
    expect(open(flash).load()).toEqual(value(8, 2));
    const file = flash.read("rec.0") as Uint8Array;
    expect(file.subarray(8, 28)).toEqual(ff);
  });

  it("after a torn append the next save goes after the last programmed byte, leaving the leftovers", () => {
    const flash = withSaves(1);
    flash.cutAt(0, { tornBytes: 10 });
    expect(saveUntilCut(open(flash), value(DATA, 2))).toBe(true);
    flash.powerCycle();
    const leftovers = (flash.read("rec.0") as Uint8Array).slice(0, 42);
    const rec = open(flash);
    expect(rec.load()).toEqual(value(DATA, 1));
    expect(rec.save(value(20, 3))).toBe(REC_OK);
    const file = flash.read("rec.0") as Uint8Array;
    expect(file.subarray(0, 42)).toEqual(leftovers);
    // 32 + 10 torn bytes, rounded up to 4.
    expect(file[44]).toBe(0xa5);
    expect(open(flash).load()).toEqual(value(20, 3));
    expect(open(flash).seq).toBe(2);
  });

  it("a rotation whose file Storage does not give back (after a cut compaction) returns REC_FULL and keeps the record before", () => {
    const flash = withSaves(4); // rec.0 is full: the next save starts rec.1
    const losing = losingFile(flash, "rec.1");
    const rec = open(losing);
    expect(rec.save(value(DATA, 5))).toBe(REC_FULL);
    expect(rec.load()).toEqual(value(DATA, 4));
    expect(rec.seq).toBe(4);
    expect(open(flash).load()).toEqual(value(DATA, 4));
  });

  it("records after a wipe start fresh", () => {
    // Trash on the first page, records after it: a compaction cut at a
    // vulnerable op makes the next boot wipe Storage.
    const base = new SimFlash({ sizeBytes: 64 * 1024, pageBytes: 4096 });
    base.write("pad", new Uint8Array(5000).fill(1));
    const rec = open(base);
    for (let i = 1; i <= 10; i++) rec.save(value(DATA, i));
    base.erase("pad");
    let flash: SimFlash | undefined;
    for (let k = 0; !flash; k++) {
      const f = base.clone();
      f.cutAt(k);
      expect(() => f.compact()).toThrow(PowerCut);
      f.powerCycle();
      if (f.wipes === 1) flash = f;
    }
    const fresh = open(flash);
    expect(fresh.load()).toBeUndefined();
    expect(fresh.seq).toBe(0);
    expect(fresh.save(value(DATA, 11))).toBe(REC_OK);
    expect(fresh.seq).toBe(1);
    flash.powerCycle();
    expect(open(flash).load()).toEqual(value(DATA, 11));
  });
});

describe("Records: space and compaction", () => {
  /** A 16 KiB flash whose free space at the end is `free` bytes, the rest a live file and trash. */
  function nearlyFull(free: number, trash: number): SimFlash {
    const flash = new SimFlash({ sizeBytes: 16 * 1024, pageBytes: 1024 });
    if (trash > 0) {
      flash.write("old", new Uint8Array(trash - 32).fill(1));
      flash.erase("old");
    }
    flash.write("big", new Uint8Array(flash.getFree() - free - 32).fill(2));
    expect(flash.getFree()).toBe(free);
    return flash;
  }

  it("leaves the free space it is told to leave: a file that would eat into it is refused, and compaction is asked for first", () => {
    const leave = 2 * FILE_COST;
    const flash = nearlyFull(FILE_COST + leave - 8, 4096);
    const rec = new Records(flash, crc32, { name: NAME, fileBytes: FILE_BYTES, leave });
    const before = flash.bytes();
    expect(rec.needsCompaction()).toBe(true);
    expect(rec.save(value(10, 1))).toBe(REC_FULL);
    expect(Buffer.compare(flash.bytes(), before)).toBe(0);
    // Without the room to leave, the same flash takes the file.
    expect(open(flash).save(value(10, 1))).toBe(REC_OK);
    // And with enough free space, the one that leaves room takes it too.
    const roomy = nearlyFull(FILE_COST + leave, 0);
    expect(new Records(roomy, crc32, { name: NAME, fileBytes: FILE_BYTES, leave }).save(value(10, 1))).toBe(REC_OK);
  });

  it("the first save returns REC_FULL and changes nothing when its file does not fit", () => {
    const flash = nearlyFull(FILE_COST - 4, 0);
    const before = flash.bytes();
    expect(open(flash).save(value(10, 1))).toBe(REC_FULL);
    expect(Buffer.compare(flash.bytes(), before)).toBe(0);
    expect(flash.ops).toBeGreaterThan(0); // the setup's ops only
  });

  it("a rotation returns REC_FULL, changes nothing and never lets Storage compact, when only compaction would make room", () => {
    // Room for the first file only; trash that Storage would compact away by itself.
    const flash = nearlyFull(FILE_COST + 8, 4096);
    const rec = open(flash);
    for (let i = 1; i <= 4; i++) expect(rec.save(value(DATA, i))).toBe(REC_OK);
    const before = flash.bytes();
    const ops = flash.ops;
    expect(rec.save(value(DATA, 5))).toBe(REC_FULL);
    expect(Buffer.compare(flash.bytes(), before)).toBe(0);
    expect(flash.ops).toBe(ops);
    expect(flash.compactions).toBe(0);
    expect(rec.load()).toEqual(value(DATA, 4));
    expect(rec.seq).toBe(4);
    // Storage would have compacted: the same file written directly does.
    flash.write("other", new Uint8Array(FILE_BYTES), 0, FILE_BYTES);
    expect(flash.compactions).toBe(1);
  });

  it("needsCompaction tells the owner when compaction would make room for the next file", () => {
    const flash = nearlyFull(FILE_COST + 8, 4096);
    const rec = open(flash);
    expect(rec.needsCompaction()).toBe(false);
    for (let i = 1; i <= 4; i++) rec.save(value(DATA, i));
    expect(rec.needsCompaction()).toBe(true);
  });

  it("after the owner compacts, the refused save goes through", () => {
    const flash = nearlyFull(FILE_COST + 8, 4096);
    const rec = open(flash);
    for (let i = 1; i <= 4; i++) expect(rec.save(value(DATA, i))).toBe(REC_OK);
    expect(rec.save(value(DATA, 5))).toBe(REC_FULL);
    flash.compact();
    expect(rec.needsCompaction()).toBe(false);
    expect(rec.save(value(DATA, 5))).toBe(REC_OK);
    flash.powerCycle();
    expect(open(flash).load()).toEqual(value(DATA, 5));
    expect(open(flash).seq).toBe(5);
  });

  it("needsCompaction is false when even compaction would not make room", () => {
    expect(open(nearlyFull(FILE_COST - 40, 36)).needsCompaction()).toBe(false);
    expect(open(nearlyFull(FILE_COST - 40, 64)).needsCompaction()).toBe(true);
  });
});

describe("Records under random saves, cuts and reboots (property)", () => {
  const step = fc.record({
    data: fc.oneof(
      fc.uint8Array({ maxLength: FILE_BYTES, size: "max" }),
      // Values that end in 0xFF, like erased flash.
      fc.uint8Array({ maxLength: FILE_BYTES - 16 }).map((a) => {
        const out = new Uint8Array(a.length + 4).fill(0xff);
        out.set(a);
        return out;
      }),
    ),
    // Half the saves have a cut armed at one of their (up to 3) operations.
    cut: fc.option(fc.record({ at: fc.nat(3), torn: fc.nat(FILE_BYTES) }), { nil: undefined, freq: 2 }),
    reboot: fc.boolean(),
  });

  it("load returns the last saved value, or the one before when a cut hit the save, and seq never goes back", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 20, maxLength: 120 }), (steps) => {
        // 2 KiB holds a dozen record files: it fills up with trash, save
        // returns REC_FULL, and the owner compacts.
        const flash = new SimFlash({ sizeBytes: 2048, pageBytes: 512 });
        let rec = open(flash);
        let last: Uint8Array | undefined = undefined;
        let seq = 0;
        for (const s of steps) {
          const prev: Uint8Array | undefined = last;
          if (s.cut) flash.cutAt(s.cut.at, { tornBytes: s.cut.torn });
          let cut = false;
          try {
            let rc = rec.save(s.data);
            if (rc === REC_FULL) {
              expect(rec.load()).toEqual(last);
              expect(rec.needsCompaction()).toBe(true);
              flash.cancelCut();
              flash.compact();
              rc = rec.save(s.data);
            }
            if (s.data.length > FILE_BYTES - 13) expect(rc).toBe(REC_TOO_BIG);
            else {
              expect(rc).toBe(REC_OK);
              last = s.data;
            }
          } catch (e) {
            if (!(e instanceof PowerCut)) throw e;
            cut = true;
          }
          flash.cancelCut();
          if (cut || s.reboot) {
            flash.powerCycle();
            rec = open(flash);
          }
          const got = rec.load();
          if (cut) {
            expect(same(got, s.data) || same(got, prev)).toBe(true);
            last = same(got, s.data) ? s.data : prev;
          } else {
            expect(got).toEqual(last);
          }
          expect(rec.seq).toBeGreaterThanOrEqual(seq);
          expect(rec.seq - seq).toBeLessThanOrEqual(1);
          seq = rec.seq;
        }
        expect(flash.wipes).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
