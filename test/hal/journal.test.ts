// The journal over the simulated Storage: a power cut at any flash
// operation of append() or fold(), whole or torn, leaves every entry and
// snapshot whose call returned, plus perhaps the one the cut hit (all of it
// or none), never a mix; Storage never compacts on its own. A cut
// compaction (outside those guarantees) never makes load() throw, shows as
// a lower seq or a start mark, and the owner restores on an erased Storage.

import fc from "fast-check";
import { losingFile } from "../support/losing-flash";
import { describe, expect, it } from "vitest";
import { J_FOLD, J_FULL, J_OK, J_TOO_BIG, Journal } from "../../hal/journal";
import { recordBytes } from "../../hal/records";
import { crc32 } from "../../hal/sim/crc32";
import { PowerCut, SimFlash } from "../../hal/sim/flash";
import type { Flash } from "../../hal/types";

const NAME = "jnl";
const FILE_BYTES = 256;
/** Storage's cost of one journal file: 32-byte header + data. */
const FILE_COST = 32 + FILE_BYTES;

function open(flash: Flash, fileBytes = FILE_BYTES): Journal {
  return new Journal(flash, crc32, { name: NAME, fileBytes });
}

// Read from the journal's public fields (the firmware needs none of these).
/** Entries appended after the current snapshot. */
const entryCount = (j: Journal) => j.load().entries.length;
/** Bytes free in the current file (0 when the journal is empty). */
const freeBytes = (j: Journal) => j.curBytes - j.wpos;
/** Whether an entry of n bytes goes in now, without a fold. */
const fits = (j: Journal, n: number) => recordBytes(n) <= freeBytes(j);
/** Folds that still fit in the free space at the end of flash. */
const foldsLeft = (j: Journal, flash: Flash) => Math.floor(flash.getFree() / j.cost);

/** n bytes that differ from one value to the next. */
function value(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (seed * 37 + i * 11) & 0xff;
  return out;
}

/** What load() should return. */
interface Model {
  snapshot: Uint8Array | undefined;
  entries: Uint8Array[];
}

const EMPTY: Model = { snapshot: undefined, entries: [] };

function appended(m: Model, entry: Uint8Array): Model {
  return { snapshot: m.snapshot, entries: m.entries.concat([entry]) };
}

function folded(snapshot: Uint8Array): Model {
  return { snapshot, entries: [] };
}

/** A form toEqual compares by content (views and copies alike). */
function plain(m: Model): { snapshot: number[] | undefined; entries: number[][] } {
  return { snapshot: m.snapshot && [...m.snapshot], entries: m.entries.map((e) => [...e]) };
}

function same(a: Model, b: Model): boolean {
  return JSON.stringify(plain(a)) === JSON.stringify(plain(b));
}

/** A flash big enough that nothing here runs out of space. */
function roomy(): SimFlash {
  return new SimFlash({ sizeBytes: 64 * 1024, pageBytes: 4096 });
}

/** Flash operations one call takes, run on a copy. */
function opsOf(flash: SimFlash, call: (j: Journal) => number): number {
  const g = flash.clone();
  const j = open(g);
  const before = g.ops;
  expect(call(j)).toBe(J_OK);
  return g.ops - before;
}

describe("Journal: format and operations", () => {
  it("an empty flash loads as an empty journal, seq 0", () => {
    const j = open(new SimFlash());
    expect(j.load()).toEqual({ snapshot: undefined, entries: [] });
    expect(j.seq).toBe(0);
    expect(entryCount(j)).toBe(0);
    expect(freeBytes(j)).toBe(0);
  });

  it("append on an empty journal asks for a snapshot first (J_FOLD) and writes nothing", () => {
    const flash = new SimFlash();
    const j = open(flash);
    expect(fits(j, 1)).toBe(false);
    expect(j.append(value(4, 1))).toBe(J_FOLD);
    expect(flash.ops).toBe(0);
    expect(flash.list()).toEqual([]);
  });

  it("a snapshot and the entries after it load back, oldest first, after a reboot too", () => {
    const flash = new SimFlash();
    const j = open(flash);
    expect(j.fold(value(30, 1))).toBe(J_OK);
    for (let i = 2; i <= 5; i++) expect(j.append(value(i * 3, i))).toBe(J_OK);
    const want: Model = { snapshot: value(30, 1), entries: [value(6, 2), value(9, 3), value(12, 4), value(15, 5)] };
    expect(plain(j.load())).toEqual(plain(want));
    flash.powerCycle();
    const again = open(flash);
    expect(plain(again.load())).toEqual(plain(want));
    expect(again.seq).toBe(5);
    expect(entryCount(again)).toBe(4);
  });

  it("empty entries and an empty snapshot are values, not missing ones", () => {
    const flash = new SimFlash();
    const j = open(flash);
    expect(j.fold(new Uint8Array(0))).toBe(J_OK);
    expect(j.append(new Uint8Array(0))).toBe(J_OK);
    expect(plain(open(flash).load())).toEqual({ snapshot: [], entries: [[]] });
  });

  it("after a fold, load gives the new snapshot and no entries", () => {
    const flash = new SimFlash();
    const j = open(flash);
    j.fold(value(20, 1));
    j.append(value(8, 2));
    j.append(value(8, 3));
    expect(j.fold(value(24, 4))).toBe(J_OK);
    expect(entryCount(j)).toBe(0);
    expect(plain(j.load())).toEqual({ snapshot: [...value(24, 4)], entries: [] });
    expect(plain(open(flash).load())).toEqual({ snapshot: [...value(24, 4)], entries: [] });
  });

  it("the current file starts with the snapshot, the entries follow, the rest is 0xFF", () => {
    const flash = new SimFlash();
    const j = open(flash);
    j.fold(new Uint8Array([9, 8, 7]));
    j.append(new Uint8Array([1, 2]));
    const file = flash.read("jnl.0") as Uint8Array;
    expect(file.length).toBe(FILE_BYTES);
    const crcS = crc32(file.subarray(0, 11));
    const crcE = crc32(file.subarray(16, 26));
    expect([...file.subarray(0, 32)]).toEqual([
      0xa5, 0x01, // magic, kind: snapshot
      3, 0, // data length
      1, 0, 0, 0, // sequence number 1
      9, 8, 7, // snapshot
      crcS & 0xff, (crcS >>> 8) & 0xff, (crcS >>> 16) & 0xff, crcS >>> 24, // CRC-32 of the 11 bytes before
      0, // padding to 16
      0xa5, 0x02, // magic, kind: entry
      2, 0, // data length
      2, 0, 0, 0, // sequence number 2
      1, 2, // entry
      crcE & 0xff, (crcE >>> 8) & 0xff, (crcE >>> 16) & 0xff, crcE >>> 24, // CRC-32 of the 10 bytes before
      0, 0, // padding to 16
    ]);
    expect(file.subarray(32).every((b) => b === 0xff)).toBe(true);
  });

  it("the snapshot and entries load as views of one read of the file, not copies", () => {
    const flash = new SimFlash();
    const j = open(flash);
    j.fold(value(10, 1));
    j.append(value(5, 2));
    const got = j.load();
    expect(got.snapshot?.buffer).toBe(got.entries[0].buffer);
    expect(got.snapshot?.byteOffset).toBe(8);
    expect(got.entries[0].byteOffset).toBe(recordBytes(10) + 8);
  });

  it("an append takes 1 flash operation", () => {
    const flash = roomy();
    const j = open(flash);
    j.fold(value(20, 1));
    j.append(value(10, 2));
    expect(opsOf(flash, (g) => g.append(value(10, 3)))).toBe(1);
  });

  it("the first fold takes 2 flash operations (header and data of <name>.0), and so does the second (<name>.1)", () => {
    const flash = roomy();
    expect(opsOf(flash, (g) => g.fold(value(20, 1)))).toBe(2);
    open(flash).fold(value(20, 1));
    expect(opsOf(flash, (g) => g.fold(value(20, 2)))).toBe(2);
  });

  it("a later fold takes 3 flash operations: erase the other file, its header, its data", () => {
    const flash = roomy();
    const j = open(flash);
    j.fold(value(20, 1));
    j.append(value(10, 2));
    j.fold(value(20, 3));
    j.append(value(10, 4));
    expect(opsOf(flash, (g) => g.fold(value(20, 5)))).toBe(3);
    open(flash).fold(value(20, 5));
    expect(flash.list().sort()).toEqual(["jnl.0", "jnl.1"]);
  });

  it("sequence numbers count every record, across folds and reboots", () => {
    const flash = new SimFlash();
    let j = open(flash);
    let seq = 0;
    for (let i = 1; i <= 30; i++) {
      const rc = i % 7 === 1 ? j.fold(value(12, i)) : j.append(value(12, i));
      expect(rc).toBe(J_OK);
      expect(j.seq).toBe(++seq);
      if (i % 4 === 0) {
        flash.powerCycle();
        j = open(flash);
        expect(j.seq).toBe(seq);
      }
    }
  });

  it("an entry goes in without a fold while the current file has room for it; J_FOLD changes nothing", () => {
    const flash = new SimFlash();
    const j = open(flash);
    j.fold(value(40 - 13, 1)); // a 40-byte record
    expect(freeBytes(j)).toBe(FILE_BYTES - 40);
    // 216 bytes left: one 200-byte record, then 16 bytes: one empty entry.
    expect(fits(j, 216 - 13)).toBe(true);
    expect(fits(j, 216 - 12)).toBe(false);
    expect(j.append(value(200 - 13, 2))).toBe(J_OK);
    expect(freeBytes(j)).toBe(16);
    expect(fits(j, 3)).toBe(true);
    expect(fits(j, 4)).toBe(false);
    const before = flash.bytes();
    const ops = flash.ops;
    expect(j.append(value(4, 3))).toBe(J_FOLD);
    expect(flash.ops).toBe(ops);
    expect(Buffer.compare(flash.bytes(), before)).toBe(0);
    expect(j.append(value(3, 3))).toBe(J_OK);
    expect(freeBytes(j)).toBe(0);
    expect(entryCount(j)).toBe(2);
  });

  it("a snapshot too big for a file is refused with J_TOO_BIG and nothing written", () => {
    const flash = new SimFlash();
    const j = open(flash);
    expect(j.fold(new Uint8Array(FILE_BYTES - 12))).toBe(J_TOO_BIG);
    expect(flash.ops).toBe(0);
    expect(j.fold(new Uint8Array(FILE_BYTES - 13))).toBe(J_OK);
  });

  it("an entry that would not fit even right after the current snapshot is J_TOO_BIG, not J_FOLD", () => {
    const flash = new SimFlash();
    const j = open(flash);
    // With no snapshot yet, the smallest (16 bytes) is assumed.
    expect(j.append(new Uint8Array(FILE_BYTES - 16 - 12))).toBe(J_TOO_BIG);
    expect(j.append(new Uint8Array(FILE_BYTES - 16 - 13))).toBe(J_FOLD);
    j.fold(value(100 - 13, 1)); // a 100-byte record
    const ops = flash.ops;
    expect(j.append(new Uint8Array(FILE_BYTES - 100 - 12))).toBe(J_TOO_BIG);
    expect(flash.ops).toBe(ops);
    expect(j.append(new Uint8Array(FILE_BYTES - 100 - 13))).toBe(J_OK);
    // Full now; an entry that fits after a snapshot this size asks for a fold.
    expect(j.append(new Uint8Array(1))).toBe(J_FOLD);
  });
});

describe("Journal: invalid records", () => {
  /** The bytes of a journal file after a snapshot and three 20-byte entries. */
  function fileWithThree(): Uint8Array {
    const good = new SimFlash();
    const j = open(good);
    j.fold(value(20, 1));
    for (let i = 2; i <= 4; i++) j.append(value(20, i));
    return good.read("jnl.0") as Uint8Array;
  }

  function loadFile(file: Uint8Array): Journal {
    const flash = new SimFlash();
    flash.write("jnl.0", file);
    return open(flash);
  }

  const R = recordBytes(20);

  it("an all-0xFF file is no journal", () => {
    const j = loadFile(new Uint8Array(FILE_BYTES).fill(0xff));
    expect(j.load()).toEqual({ snapshot: undefined, entries: [] });
    expect(j.seq).toBe(0);
  });

  it("a file whose first record is not a valid snapshot is ignored, entries and all", () => {
    const file = fileWithThree();
    file[10] ^= 0x01; // a bit of the snapshot
    const j = loadFile(file);
    expect(j.load()).toEqual({ snapshot: undefined, entries: [] });
    expect(j.append(value(4, 9))).toBe(J_FOLD);
  });

  it("a bad-CRC entry ends the history: the entries after it are not returned either (no hole)", () => {
    const file = fileWithThree();
    file[2 * R + 12] ^= 0x01; // a data bit of the second entry
    const flash = new SimFlash();
    flash.write("jnl.0", file);
    const j = open(flash);
    expect(plain(j.load())).toEqual(plain({ snapshot: value(20, 1), entries: [value(20, 2)] }));
    expect(j.seq).toBe(2);
    // The next entry takes the lost one's number and goes after every programmed byte.
    expect(j.append(value(20, 9))).toBe(J_OK);
    expect(plain(open(flash).load())).toEqual(plain({ snapshot: value(20, 1), entries: [value(20, 2), value(20, 9)] }));
    expect((flash.read("jnl.0") as Uint8Array)[4 * R]).toBe(0xa5);
  });

  it("a short entry, whose length runs past the end of its file, is invalid", () => {
    const file = fileWithThree().slice(0, 4 * R - 1);
    expect(plain(loadFile(file).load())).toEqual(plain({ snapshot: value(20, 1), entries: [value(20, 2), value(20, 3)] }));
  });

  it("an entry without its zero padding is invalid", () => {
    const file = fileWithThree();
    file[4 * R - 1] = 0xff;
    expect(plain(loadFile(file).load())).toEqual(plain({ snapshot: value(20, 1), entries: [value(20, 2), value(20, 3)] }));
  });

  it("a Records record is not a snapshot: the two formats never mix", () => {
    const file = fileWithThree();
    file[1] = 0x00; // kind of a hal/records.ts record, CRC fixed up
    const crc = crc32(file.subarray(0, 28));
    file.set([crc & 0xff, (crc >>> 8) & 0xff, (crc >>> 16) & 0xff, crc >>> 24], 28);
    expect(loadFile(file).load()).toEqual({ snapshot: undefined, entries: [] });
  });

  it("of two files with valid snapshots, the one with the higher sequence number is current", () => {
    const flash = new SimFlash();
    const j = open(flash);
    j.fold(value(20, 1));
    j.append(value(20, 2));
    j.fold(value(20, 3)); // into jnl.1, seq 3
    j.append(value(20, 4));
    j.fold(value(20, 5)); // back into jnl.0, seq 5
    j.append(value(20, 6));
    expect(plain(open(flash).load())).toEqual(plain({ snapshot: value(20, 5), entries: [value(20, 6)] }));
    flash.erase("jnl.0");
    expect(plain(open(flash).load())).toEqual(plain({ snapshot: value(20, 3), entries: [value(20, 4)] }));
  });
});

/** Runs a call expecting the armed cut to strike; true when it did. */
function struck(call: () => number): boolean {
  try {
    expect(call()).toBe(J_OK);
    return false;
  } catch (e) {
    if (!(e instanceof PowerCut)) throw e;
    return true;
  }
}

/** A journal with a snapshot and `entries` entries of 20 bytes; `folds` folds first. */
function withJournal(folds: number, entries: number): { flash: SimFlash; model: Model } {
  const flash = roomy();
  const j = open(flash);
  let model = EMPTY;
  for (let f = 0; f <= folds; f++) {
    expect(j.fold(value(24, 100 + f))).toBe(J_OK);
    model = folded(value(24, 100 + f));
  }
  for (let i = 1; i <= entries; i++) {
    expect(j.append(value(20, i))).toBe(J_OK);
    model = appended(model, value(20, i));
  }
  return { flash, model };
}

/**
 * Cuts power at every operation of one call on copies of `base`, whole
 * and torn at several byte counts; after the reboot load() gives `old`, or
 * `next` exactly when the call's last write was programmed in full; then
 * the journal goes on: an append and a fold work and load back.
 */
function survivesEveryCut(base: SimFlash, old: Model, call: (j: Journal) => number, next: Model, recordLen: number): number {
  const ops = opsOf(base, call);
  const tornCounts = [0, 1, 3, 4, 8, 12, recordLen - 4, recordLen - 1, recordLen, recordLen + 50];
  for (let k = 0; k < ops; k++) {
    for (const torn of tornCounts) {
      const flash = base.clone();
      flash.cutAt(k, { tornBytes: torn });
      expect(struck(() => call(open(flash)))).toBe(true);
      flash.powerCycle();
      const j = open(flash);
      const expected = k === ops - 1 && torn >= recordLen ? next : old;
      expect(plain(j.load()), `cut at op ${k} of ${ops}, torn ${torn}`).toEqual(plain(expected));
      let model = expected;
      if (model.snapshot !== undefined) {
        expect(j.append(value(16, 77))).toBe(J_OK);
        model = appended(model, value(16, 77));
        flash.powerCycle();
        expect(plain(open(flash).load())).toEqual(plain(model));
      }
      expect(open(flash).fold(value(30, 78))).toBe(J_OK);
      flash.powerCycle();
      expect(plain(open(flash).load())).toEqual(plain(folded(value(30, 78))));
      expect(flash.wipes).toBe(0);
    }
  }
  return ops;
}

describe("Journal: power cuts in one call", () => {
  it("the first fold survives a cut at every operation (empty, or the snapshot)", () => {
    const s = value(24, 1);
    expect(survivesEveryCut(roomy(), EMPTY, (j) => j.fold(s), folded(s), recordBytes(24))).toBe(2);
  });

  it("an append survives a cut at every operation, whole or torn", () => {
    const { flash, model } = withJournal(0, 3);
    const e = value(20, 50);
    expect(survivesEveryCut(flash, model, (j) => j.append(e), appended(model, e), recordBytes(20))).toBe(1);
  });

  it("an append whose data ends in 0xFF survives a cut at every operation, whole or torn", () => {
    const { flash, model } = withJournal(1, 2);
    const e = new Uint8Array(33).fill(0xff);
    e[0] = 1;
    expect(survivesEveryCut(flash, model, (j) => j.append(e), appended(model, e), recordBytes(33))).toBe(1);
  });

  it("the second fold (a new <name>.1) survives a cut at every operation", () => {
    const { flash, model } = withJournal(0, 4);
    const s = value(60, 51);
    expect(survivesEveryCut(flash, model, (j) => j.fold(s), folded(s), recordBytes(60))).toBe(2);
  });

  it("a later fold survives a cut at every operation: old snapshot and entries, or the new snapshot alone", () => {
    const { flash, model } = withJournal(2, 4);
    const s = value(60, 52);
    expect(survivesEveryCut(flash, model, (j) => j.fold(s), folded(s), recordBytes(60))).toBe(3);
  });

  it("after a torn append the next goes after the last programmed byte, leaving the leftovers", () => {
    const { flash, model } = withJournal(0, 1);
    const at = recordBytes(24) + recordBytes(20);
    flash.cutAt(0, { tornBytes: 10 });
    expect(struck(() => open(flash).append(value(20, 2)))).toBe(true);
    flash.powerCycle();
    const leftovers = (flash.read("jnl.0") as Uint8Array).slice(0, at + 10);
    const j = open(flash);
    expect(plain(j.load())).toEqual(plain(model));
    expect(freeBytes(j)).toBe(FILE_BYTES - at - 12);
    expect(j.append(value(20, 3))).toBe(J_OK);
    const file = flash.read("jnl.0") as Uint8Array;
    expect(file.subarray(0, at + 10)).toEqual(leftovers);
    expect(file[at + 12]).toBe(0xa5); // 10 torn bytes, rounded up to 4
    expect(plain(open(flash).load())).toEqual(plain(appended(model, value(20, 3))));
    expect(open(flash).seq).toBe(3);
  });

  it("a reopened journal gives the same load and appends where the old one would have", () => {
    const { flash, model } = withJournal(2, 5);
    const a = open(flash);
    const b = open(flash);
    expect(plain(b.load())).toEqual(plain(a.load()));
    expect(b.seq).toBe(a.seq);
    expect(freeBytes(b)).toBe(freeBytes(a));
    expect(b.append(value(20, 9))).toBe(J_OK);
    expect(plain(open(flash).load())).toEqual(plain(appended(model, value(20, 9))));
  });
});

describe("Journal: space and compaction", () => {
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

  it("the first fold returns J_FULL and changes nothing when its file does not fit", () => {
    const flash = nearlyFull(FILE_COST - 4, 0);
    const before = flash.bytes();
    const j = open(flash);
    expect(foldsLeft(j, flash)).toBe(0);
    expect(j.fold(value(10, 1))).toBe(J_FULL);
    expect(Buffer.compare(flash.bytes(), before)).toBe(0);
    expect(j.load()).toEqual({ snapshot: undefined, entries: [] });
  });

  it("the folds that go through before J_FULL are the free space over a file's cost, and Storage never compacts by itself", () => {
    const flash = nearlyFull(3 * FILE_COST + 100, 4096);
    const j = open(flash);
    expect(foldsLeft(j, flash)).toBe(3);
    let folds = 0;
    while (j.fold(value(20, folds)) === J_OK) {
      folds++;
      expect(foldsLeft(j, flash)).toBe(3 - folds);
      expect(j.append(value(10, folds))).toBe(J_OK);
    }
    expect(folds).toBe(3);
    expect(flash.compactions).toBe(0);
    // Storage would have compacted: the same file written directly does.
    flash.write("other", new Uint8Array(FILE_BYTES), 0, FILE_BYTES);
    expect(flash.compactions).toBe(1);
  });

  it("J_FULL changes nothing: no flash operation, and the journal loads and appends as before", () => {
    const flash = nearlyFull(2 * FILE_COST + 8, 4096);
    const j = open(flash);
    expect(j.fold(value(20, 1))).toBe(J_OK);
    expect(j.fold(value(20, 2))).toBe(J_OK);
    expect(j.append(value(10, 3))).toBe(J_OK);
    const before = flash.bytes();
    const ops = flash.ops;
    expect(j.fold(value(20, 4))).toBe(J_FULL);
    expect(flash.ops).toBe(ops);
    expect(Buffer.compare(flash.bytes(), before)).toBe(0);
    expect(flash.compactions).toBe(0);
    const model = appended(folded(value(20, 2)), value(10, 3));
    expect(plain(j.load())).toEqual(plain(model));
    expect(j.append(value(10, 5))).toBe(J_OK);
    expect(plain(open(flash).load())).toEqual(plain(appended(model, value(10, 5))));
  });

  it("after the owner compacts, folding works again", () => {
    const flash = nearlyFull(2 * FILE_COST + 8, 4096);
    const j = open(flash);
    j.fold(value(20, 1));
    j.fold(value(20, 2));
    expect(j.fold(value(20, 3))).toBe(J_FULL);
    flash.compact();
    expect(foldsLeft(j, flash)).toBeGreaterThan(0);
    expect(j.fold(value(20, 3))).toBe(J_OK);
    expect(j.append(value(10, 4))).toBe(J_OK);
    flash.powerCycle();
    expect(plain(open(flash).load())).toEqual(plain(appended(folded(value(20, 3)), value(10, 4))));
    expect(open(flash).seq).toBe(4);
  });

  it("restore numbers its snapshot after the backup's tag, so seq never goes back", () => {
    const flash = new SimFlash();
    const j = open(flash);
    expect(j.fold(value(20, 1), 40)).toBe(J_OK);
    expect(j.seq).toBe(41);
    expect(j.append(value(8, 2))).toBe(J_OK);
    expect(j.fold(value(20, 3), 10)).toBe(J_OK); // a tag below the journal's own
    expect(j.seq).toBe(43);
    expect(plain(open(flash).load())).toEqual(plain(folded(value(20, 3))));
    expect(open(flash).seq).toBe(43);
  });

  it("fold throws, changing nothing, when Storage does not give the new file back", () => {
    const flash = new SimFlash();
    const j = open(flash);
    j.fold(value(20, 1));
    j.append(value(8, 2));
    // A Storage that takes the file and does not give it back (as after a cut compaction).
    const losing = losingFile(flash, "jnl.1");
    const k = open(losing);
    expect(() => k.fold(value(20, 3))).toThrow("Storage did not keep jnl.1");
    expect(plain(open(flash).load())).toEqual(plain(appended(folded(value(20, 1)), value(8, 2))));
  });
});

/** The owner's marks around a compaction (entries whose bytes only the owner gives a meaning). */
const COMPACT_START = new Uint8Array([0xc0, 0x01]);
const COMPACT_DONE = new Uint8Array([0xc0, 0x02]);

/**
 * Journals with trash before or among their files, as compaction finds
 * them: on a 4 KiB page flash, on 512-byte pages, and among other files.
 */
function compactionLayouts(): SimFlash[] {
  const out: SimFlash[] = [];
  // Trash on the first page, the journal after it.
  let flash = roomy();
  flash.write("pad", new Uint8Array(5000).fill(1));
  let j = open(flash);
  j.fold(value(40, 1));
  for (let i = 2; i <= 5; i++) j.append(value(30, i));
  j.fold(value(40, 6));
  for (let i = 7; i <= 9; i++) j.append(value(30, i));
  flash.erase("pad");
  out.push(flash);
  // Small pages, the journal's own erased files as the trash.
  for (let folds = 3; folds <= 6; folds++) {
    flash = new SimFlash({ sizeBytes: 4096, pageBytes: 512 });
    j = open(flash);
    for (let f = 1; f <= folds; f++) {
      j.fold(value(f * 7, f));
      for (let i = 0; i < f; i++) j.append(value(20 + i * 9, 10 * f + i));
    }
    out.push(flash);
  }
  // Other files around the journal, some erased.
  flash = new SimFlash({ sizeBytes: 16 * 1024, pageBytes: 1024 });
  flash.write("cfg", new Uint8Array(700).fill(3));
  j = open(flash);
  j.fold(value(60, 1));
  flash.write("tmp", new Uint8Array(1500).fill(4));
  j.append(value(30, 2));
  j.fold(value(60, 3));
  flash.write("log", new Uint8Array(900).fill(5));
  j.append(value(30, 4));
  flash.erase("tmp");
  out.push(flash);
  return out;
}

describe("Journal: power cuts in a compaction (outside the guarantees; how the owner copes)", () => {
  it("load never throws after a cut at any operation of a compaction: the state before, or one with a lower seq", () => {
    const seen = { intact: 0, wiped: 0, older: 0 };
    for (const base of compactionLayouts()) {
      const before = open(base);
      const model = before.load();
      const seq = before.seq;
      const g = base.clone();
      g.compact();
      const compactOps = g.ops - base.ops;
      expect(compactOps).toBeGreaterThan(0);
      for (let k = 0; k < compactOps; k++) {
        for (const torn of [0, 5]) {
          const flash = base.clone();
          flash.cutAt(k, { tornBytes: torn });
          expect(() => flash.compact()).toThrow(PowerCut);
          flash.powerCycle();
          const j = open(flash);
          const got = j.load();
          if (flash.wipes > 0) {
            seen.wiped++;
            expect(got).toEqual({ snapshot: undefined, entries: [] });
          } else if (j.seq === seq) {
            seen.intact++;
            expect(plain(got), `cut at op ${k}, torn ${torn}`).toEqual(plain(model));
          } else {
            // The other file, the current one cut short, or none left.
            seen.older++;
            expect(j.seq).toBeLessThan(seq);
          }
        }
      }
    }
    // All three happen: Storage does not always wipe itself.
    expect(seen.intact).toBeGreaterThan(0);
    expect(seen.wiped).toBeGreaterThan(0);
    expect(seen.older).toBeGreaterThan(0);
  });

  it("the owner's protocol tells every cut compaction (a start mark last, or seq below the backup's tag) and restores on an erased Storage", () => {
    for (const base of compactionLayouts()) {
      // 1. A start mark; the server backs the state up, tagged with seq.
      const owner = open(base);
      if (!fits(owner, COMPACT_START.length)) expect(owner.fold(value(33, 77))).toBe(J_OK);
      expect(owner.append(COMPACT_START)).toBe(J_OK);
      const tag = owner.seq;
      const backup = owner.load();
      const g = base.clone();
      g.compact();
      const compactOps = g.ops - base.ops;
      // 2. Compaction, cut at each of its operations; 3. the next boot.
      for (let k = 0; k < compactOps; k++) {
        for (const torn of [0, 5]) {
          const flash = base.clone();
          flash.cutAt(k, { tornBytes: torn });
          expect(() => flash.compact()).toThrow(PowerCut);
          flash.powerCycle();
          const j = open(flash);
          const got = j.load();
          const last = got.entries[got.entries.length - 1];
          const interrupted = j.seq < tag || (j.seq === tag && last !== undefined && [...last].join() === [...COMPACT_START].join());
          expect(interrupted, `cut at op ${k}, torn ${torn}`).toBe(true);
          if (j.seq === tag) expect(plain(got)).toEqual(plain(backup));
        }
        // Storage.eraseAll(), then the backup as a snapshot numbered after the tag.
        const fresh = smallFlash();
        const restored = open(fresh);
        expect(restored.fold(value(50, tag), tag)).toBe(J_OK);
        expect(restored.append(COMPACT_DONE)).toBe(J_OK);
        fresh.powerCycle();
        expect(open(fresh).seq).toBe(tag + 2);
        expect(plain(open(fresh).load())).toEqual(plain(appended(folded(value(50, tag)), COMPACT_DONE)));
      }
      // Without a cut: the done mark follows, and folding works on.
      const flash = base.clone();
      flash.compact();
      const j = open(flash);
      expect(plain(j.load())).toEqual(plain(backup));
      const room = fits(j, COMPACT_DONE.length);
      expect(j.append(COMPACT_DONE)).toBe(room ? J_OK : J_FOLD);
      expect(j.fold(value(30, 99))).toBe(J_OK);
      expect(open(flash).seq).toBeGreaterThan(tag);
    }
  });

  it("fold erases the stale copies of a file that a cut compaction left under its name", () => {
    // A cut compaction of this layout leaves <name>.0 twice in Storage.
    const base = new SimFlash({ sizeBytes: 4096, pageBytes: 512 });
    const j = open(base);
    j.fold(new Uint8Array(0));
    j.fold(value(4, 1));
    j.append(new Uint8Array(216));
    j.fold(new Uint8Array(0));
    j.append(new Uint8Array(216));
    let flash: SimFlash | undefined;
    for (let k = 0; !flash; k++) {
      const f = base.clone();
      f.cutAt(k);
      expect(() => f.compact()).toThrow(PowerCut);
      f.powerCycle();
      const names = f.list();
      if (f.wipes === 0 && names.filter((n) => n === "jnl.0").length > 1) flash = f;
    }
    const again = open(flash);
    const seq = again.seq;
    // jnl.1 is current: folding into jnl.0 takes both copies away first.
    expect(again.fold(value(20, 2))).toBe(J_OK);
    expect(flash.list().filter((n) => n === "jnl.0")).toEqual(["jnl.0"]);
    expect(again.append(value(8, 3))).toBe(J_OK);
    expect(again.fold(value(20, 4))).toBe(J_OK);
    flash.powerCycle();
    expect(plain(open(flash).load())).toEqual(plain(folded(value(20, 4))));
    expect(open(flash).seq).toBe(seq + 3);
  });
});

/** One call of the owner, in a fixed or a random sequence. */
type Step = { op: "append" | "fold"; data: Uint8Array };

function call(j: Journal, s: Step): number {
  return s.op === "append" ? j.append(s.data) : j.fold(s.data);
}

function applied(m: Model, s: Step): Model {
  return s.op === "append" ? appended(m, s.data) : folded(s.data);
}

/** A Flash that notes the length of each data write and the operation that programs it. */
function notingWrites(flash: SimFlash, lengths: Map<number, number>): Flash {
  return {
    read: (n) => flash.read(n),
    write: (n, d, o, s) => {
      flash.write(n, d, o, s);
      lengths.set(flash.ops - 1, d.length);
    },
    erase: (n) => flash.erase(n),
    list: (p) => flash.list(p),
    getFree: () => flash.getFree(),
    getTrash: () => flash.getTrash(),
    compact: () => flash.compact(),
    eraseAll: () => flash.eraseAll(),
  };
}

describe("Journal: a cut at every operation of 40 appends and 4 folds", () => {
  // The first fold starts the journal, then three more among the appends;
  // files of 1 KiB hold the ten appends between folds.
  const fileBytes = 1024;
  const steps: Step[] = [];
  for (let i = 1; i <= 40; i++) {
    if (i % 10 === 1) steps.push({ op: "fold", data: value(30 + i, 1000 + i) });
    const data = value(1 + ((i * 7) % 40), i);
    if (i % 6 === 0) data.fill(0xff, data.length >> 1); // ends like erased flash
    steps.push({ op: "append", data });
  }

  // The clean run: each step's operations, and the data length of each write.
  const lengths = new Map<number, number>();
  const stepEnd: number[] = [];
  const clean = roomy();
  const cj = open(notingWrites(clean, lengths), fileBytes);
  for (const s of steps) {
    expect(call(cj, s)).toBe(J_OK);
    stepEnd.push(clean.ops);
  }
  const totalOps = clean.ops;

  function tornCounts(k: number): number[] {
    const len = lengths.get(k);
    if (len === undefined) return [0];
    return [...new Set([0, 1, 4, 8, 11, len >> 1, len - 4, len - 1, len])];
  }

  function cutEverywhere(torn: boolean): number {
    let cases = 0;
    for (let k = 0; k < totalOps; k++) {
      for (const t of torn ? tornCounts(k) : [0]) {
        cases++;
        const flash = roomy();
        flash.cutAt(k, { tornBytes: t });
        let j = open(flash, fileBytes);
        let model = EMPTY;
        let cutStep = -1;
        for (let i = 0; i < steps.length && cutStep < 0; i++) {
          if (struck(() => call(j, steps[i]))) cutStep = i;
          else model = applied(model, steps[i]);
        }
        expect(cutStep).toBe(stepEnd.findIndex((end) => k < end));
        flash.powerCycle();
        j = open(flash, fileBytes);
        // The cut call is there only when its last operation (the record's data) was programmed in full.
        const done = k === stepEnd[cutStep] - 1 && t >= (lengths.get(k) as number);
        const expected = done ? applied(model, steps[cutStep]) : model;
        expect(plain(j.load()), `cut at op ${k}, torn ${t}`).toEqual(plain(expected));
        model = expected;
        // The owner goes on with the rest, folding its state when asked to.
        for (let i = cutStep + 1; i < steps.length; i++) {
          let rc = call(j, steps[i]);
          if (rc === J_FOLD) {
            expect(j.fold(value(50, i))).toBe(J_OK);
            model = folded(value(50, i));
            rc = call(j, steps[i]);
          }
          expect(rc).toBe(J_OK);
          model = applied(model, steps[i]);
        }
        flash.powerCycle();
        expect(plain(open(flash, fileBytes).load())).toEqual(plain(model));
        expect(flash.wipes).toBe(0);
        expect(flash.compactions).toBe(0);
      }
    }
    return cases;
  }

  it("the sequence takes 1 operation per append and 2 or 3 per fold", () => {
    expect(totalOps).toBe(40 + 2 + 2 + 3 + 3);
  });

  it("whole cuts: load gives every call that returned, plus the cut one only if it completed", () => {
    expect(cutEverywhere(false)).toBe(totalOps);
  });

  it("torn cuts: load gives every call that returned, plus the cut one only if its record was programmed in full", () => {
    expect(cutEverywhere(true)).toBeGreaterThan(totalOps * 5);
  });
});

/** A step of the random sequences: a call of the owner, perhaps with a cut armed first. */
interface RandomStep {
  op: "append" | "fold" | "reboot" | "compact";
  data: Uint8Array;
  cut: { at: number; torn: number } | undefined;
}

/** The flash of the random sequences: 2 KiB holds 7 journal files. */
function smallFlash(): SimFlash {
  return new SimFlash({ sizeBytes: 2048, pageBytes: 512 });
}

/**
 * The owner's calls with cuts armed among them, checked against a model
 * (what load() and seq give) after every step and after every cut and
 * reboot. Trash fills the flash, fold returns J_FULL and the owner
 * compacts, with cuts there too; the model is then also the backup the
 * server took before compacting, tagged with seq (see hal/journal.ts).
 */
function runWithCuts(steps: RandomStep[]): void {
  let flash = smallFlash();
  let j = open(flash);
  let model = EMPTY;
  let seq = 0;
  for (const s of steps) {
    if (s.cut) flash.cutAt(s.cut.at, { tornBytes: s.cut.torn });
    // What the step gives if its call goes through (a cut may strike inside it).
    let next = model;
    let nextSeq = seq;
    // Storage compacts only when the owner calls compact().
    let compactions = flash.compactions;
    let compacting = false;
    const compact = (): void => {
      compacting = true;
      flash.compact();
      compacting = false;
      compactions = flash.compactions;
    };
    // fold() as the owner calls it: J_FULL changes nothing; the owner
    // compacts and calls again.
    const folding = (snapshot: Uint8Array): number => {
      let rc = j.fold(snapshot);
      if (rc === J_FULL) {
        expect(foldsLeft(j, flash)).toBe(0);
        expect(plain(j.load())).toEqual(plain(model));
        compact();
        rc = j.fold(snapshot);
      }
      return rc;
    };
    try {
      if (s.op === "append") {
        next = appended(model, s.data);
        nextSeq = seq + 1;
        const rc = j.append(s.data);
        const snapshotBytes = model.snapshot ? model.snapshot.length : 0;
        if (recordBytes(snapshotBytes) + recordBytes(s.data.length) > FILE_BYTES) expect(rc).toBe(J_TOO_BIG);
        else if (model.snapshot === undefined) expect(rc).toBe(J_FOLD);
        else if (rc === J_FOLD) expect(fits(j, s.data.length)).toBe(false);
        else expect(rc).toBe(J_OK);
        if (rc !== J_OK) {
          next = model;
          nextSeq = seq;
        }
      } else if (s.op === "fold") {
        next = folded(s.data);
        nextSeq = seq + 1;
        const rc = folding(s.data);
        if (recordBytes(s.data.length) > FILE_BYTES) {
          expect(rc).toBe(J_TOO_BIG);
          next = model;
          nextSeq = seq;
        } else expect(rc).toBe(J_OK);
      } else if (s.op === "compact") {
        compact();
      } else {
        flash.powerCycle();
        j = open(flash);
      }
      model = next;
      seq = nextSeq;
    } catch (e) {
      if (!(e instanceof PowerCut)) throw e;
      if (compacting) compactions = flash.compactions;
      const wipes = flash.wipes;
      flash.powerCycle();
      j = open(flash);
      const got = j.load();
      if (!compacting) {
        // The calls that returned, plus perhaps the cut one, whole.
        expect(flash.wipes).toBe(wipes);
        const done = nextSeq !== seq && j.seq === nextSeq;
        if (!done) expect(j.seq).toBe(seq);
        expect(plain(got)).toEqual(plain(done ? next : model));
        if (done) {
          model = next;
          seq = nextSeq;
        }
      } else {
        // A cut compaction: the state before it, or (wiped, or the files
        // moved only in part) an older one, and seq tells.
        if (j.seq !== seq || !same(got, model)) expect(j.seq).toBeLessThan(seq);
        if (flash.wipes > wipes) expect(got).toEqual({ snapshot: undefined, entries: [] });
        // Storage is not to be trusted after that: the owner erases it all
        // (Storage.eraseAll) and restores the backup the server took before
        // compacting.
        flash = smallFlash();
        compactions = 0;
        j = open(flash);
        const restored = value(12, seq);
        expect(j.fold(restored, seq)).toBe(J_OK);
        model = folded(restored);
        seq++;
      }
    }
    expect(plain(j.load())).toEqual(plain(model));
    expect(j.seq).toBe(seq);
    expect(entryCount(j)).toBe(model.entries.length);
    expect(flash.compactions).toBe(compactions);
  }
}

describe("Journal under random appends, folds, cuts, reboots and compactions (property)", () => {
  const data = fc.oneof(
    fc.uint8Array({ maxLength: 120 }),
    // Now and then too big for a file, or ending in 0xFF like erased flash.
    fc.uint8Array({ minLength: FILE_BYTES - 40, maxLength: FILE_BYTES }),
    fc.uint8Array({ maxLength: 60 }).map((a) => {
      const out = new Uint8Array(a.length + 4).fill(0xff);
      out.set(a);
      return out;
    }),
  );
  const step = fc.record({
    op: fc.constantFrom("append", "append", "append", "append", "append", "fold", "fold", "reboot", "compact"),
    data,
    // Half the steps arm a cut at one of the next operations; one that does
    // not strike in its step stays armed and strikes in a later one.
    cut: fc.option(fc.record({ at: fc.nat(4), torn: fc.nat(FILE_BYTES) }), { nil: undefined, freq: 2 }),
  });

  it("load gives every call that returned, plus perhaps the cut one, whole; wiped only by a cut compaction", () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 20, maxLength: 150 }), runWithCuts),
      { numRuns: 300 },
    );
  });
});
