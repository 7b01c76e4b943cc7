// The simulated flash fails the way Espruino 2v29 Storage does: the
// measured failures (espruino.md, "Storage is NOT safe against power cuts"),
// the facts from its source (notes/espruino-storage.md), and cut vectors
// measured on the interpreter itself (storage-cut-vectors.ts).

import { describe, expect, it } from "vitest";
import { PowerCut, SimFlash } from "../../hal/sim/flash";
import { CUT_VECTORS } from "./storage-cut-vectors";
import type { StorageCall } from "./storage-cut-vectors";

function filled(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}

/** Runs fn, expecting the armed cut to strike inside it. */
function cutDuring(fn: () => void): void {
  expect(fn).toThrow(PowerCut);
}

/** Ops an action takes, run on a copy. */
function opsOf(f: SimFlash, action: (g: SimFlash) => void): number {
  const g = f.clone();
  const before = g.ops;
  action(g);
  return g.ops - before;
}

function run(f: SimFlash, c: StorageCall): void {
  if (c.op === "write") f.write(c.name, filled(c.bytes, c.fill));
  else if (c.op === "erase") f.erase(c.name);
  else f.compact();
}

/** Two files, a then b, as in the replace measurements. */
function twoFiles(): SimFlash {
  const f = new SimFlash();
  f.write("a", filled(100, 0x41));
  f.write("b", filled(50, 0x42));
  return f;
}

describe("SimFlash: replacing a file", () => {
  it("takes 3 flash operations: mark the old copy deleted, write the header, write the data", () => {
    expect(opsOf(twoFiles(), (g) => g.write("a", filled(120, 0x43)))).toBe(3);
  });

  it("a cut at the first operation leaves the old file", () => {
    const f = twoFiles();
    f.cutAt(0);
    cutDuring(() => f.write("a", filled(120, 0x43)));
    f.powerCycle();
    expect(f.read("a")).toEqual(filled(100, 0x41));
  });

  it("a cut after the first operation leaves the file missing", () => {
    const f = twoFiles();
    f.cutAt(1);
    cutDuring(() => f.write("a", filled(120, 0x43)));
    f.powerCycle();
    expect(f.read("a")).toBeUndefined();
    expect(f.list()).toEqual(["b"]);
  });

  it("a cut at the third operation leaves the file with its new length, reading all 0xFF", () => {
    const f = twoFiles();
    f.cutAt(2);
    cutDuring(() => f.write("a", filled(120, 0x43)));
    f.powerCycle();
    expect(f.read("a")).toEqual(filled(120, 0xff));
    expect(f.wipes).toBe(0);
  });

  it("a torn third operation leaves part of the new data, then 0xFF", () => {
    const f = twoFiles();
    f.cutAt(2, { tornBytes: 3 });
    cutDuring(() => f.write("a", filled(120, 0x43)));
    f.powerCycle();
    const a = f.read("a") as Uint8Array;
    expect(a.subarray(0, 3)).toEqual(filled(3, 0x43));
    expect(a.subarray(3)).toEqual(filled(117, 0xff));
  });

  it("writing the bytes already there takes no operation and leaves no trash", () => {
    const f = twoFiles();
    expect(opsOf(f, (g) => g.write("a", filled(100, 0x41)))).toBe(0);
    f.write("a", filled(100, 0x41));
    expect(f.getTrash()).toBe(0);
  });
});

describe("SimFlash: files and operations", () => {
  it("a new file takes 2 operations: header and data", () => {
    expect(opsOf(new SimFlash(), (g) => g.write("a", filled(10, 1)))).toBe(2);
  });

  it("a pre-allocated file takes 2 operations and the rest stays 0xFF", () => {
    const f = new SimFlash();
    expect(opsOf(f, (g) => g.write("log", filled(4, 7), 0, 64))).toBe(2);
    f.write("log", filled(4, 7), 0, 64);
    expect(f.read("log")).toEqual(new Uint8Array(64).fill(7, 0, 4).fill(0xff, 4));
  });

  it("erase takes 1 operation and leaves the copy as trash", () => {
    const f = twoFiles();
    expect(opsOf(f, (g) => g.erase("a"))).toBe(1);
    f.erase("a");
    expect(f.getTrash()).toBe(132);
  });

  it("an offset write takes 1 operation and programs only its bytes", () => {
    const f = new SimFlash();
    f.write("log", filled(4, 7), 0, 64);
    const before = f.bytes();
    expect(opsOf(f, (g) => g.write("log", filled(5, 9), 20))).toBe(1);
    f.write("log", filled(5, 9), 20);
    const after = f.bytes();
    const changed: number[] = [];
    for (let i = 0; i < after.length; i++) if (after[i] !== before[i]) changed.push(i);
    // The file's data starts after its 32-byte header at 0.
    expect(changed).toEqual([52, 53, 54, 55, 56]);
  });

  it("an offset write over programmed bytes is refused and changes nothing, as Storage does", () => {
    const f = new SimFlash();
    f.write("log", filled(4, 7), 0, 64);
    const before = f.bytes();
    const ops = f.ops;
    expect(() => f.write("log", filled(2, 3), 2)).toThrow(/already written/);
    expect(f.bytes()).toEqual(before);
    expect(f.ops).toBe(ops);
  });

  it("a name over 28 characters is refused", () => {
    const f = new SimFlash();
    expect(() => f.write("x".repeat(29), filled(1, 1))).toThrow();
    expect(() => f.read("x".repeat(29))).toThrow();
    expect(f.ops).toBe(0);
  });

  it("getFree and getTrash count 32-byte headers and 4-byte alignment, as measured on 2v29", () => {
    // notes/espruino-storage.md, task3_2: a(100) + b(50), erase a, compact.
    const f = new SimFlash({ pageBytes: 1024 });
    expect(f.getFree()).toBe(262144);
    f.write("a", filled(100, 1));
    f.write("b", filled(50, 2));
    expect(f.getFree()).toBe(261928);
    f.erase("a");
    expect(f.getFree()).toBe(261928);
    expect(f.getTrash()).toBe(132);
    f.compact();
    expect(f.getFree()).toBe(262060);
    expect(f.getTrash()).toBe(0);
  });

  it("compact without trash does nothing", () => {
    const f = twoFiles();
    expect(opsOf(f, (g) => g.compact())).toBe(0);
  });
});

describe("SimFlash: compaction", () => {
  /** 4 KiB pages: an unrelated file, a big one that became trash, and a file after it. */
  function fragmented(): SimFlash {
    const f = new SimFlash();
    f.write("cfg", filled(40, 0x63));
    f.write("x", filled(249000, 0x55));
    f.write("y", filled(6000, 0x66));
    f.erase("x");
    return f;
  }

  it("Storage compacts by itself when a new file does not fit at the end but would after compaction", () => {
    const f = fragmented();
    expect(f.getFree()).toBeLessThan(9032);
    f.write("z", filled(9000, 0x77));
    expect(f.compactions).toBe(1);
    expect(f.getTrash()).toBe(0);
    expect(f.read("z")).toEqual(filled(9000, 0x77));
    expect(f.read("y")).toEqual(filled(6000, 0x66));
  });

  it("a new file that fits at the end does not compact", () => {
    const f = fragmented();
    f.write("small", filled(100, 1));
    expect(f.compactions).toBe(0);
  });

  it("a file that does not fit even after compaction is refused", () => {
    const f = fragmented();
    expect(() => f.write("big", filled(260000, 1))).toThrow(/unable to find or create/);
    expect(f.read("big")).toBeUndefined();
  });

  it("Storage may compact before refusing a file, as its free-space estimate counts pages twice", () => {
    // notes/espruino-storage.md, t5.js: 5000 bytes free, a small trash file, asking for 5150.
    const f = new SimFlash({ pageBytes: 1024 });
    f.write("a", filled(1, 0x41), 0, 100);
    f.write("c", filled(1, 0x43), 0, 262144 - 132 - 5000 - 32);
    f.erase("a");
    expect(() => f.write("x", filled(1, 0x58), 0, 5150)).toThrow();
    expect(f.compactions).toBe(1);
  });

  it("takes many operations, page by page", () => {
    const f = fragmented();
    const ops = opsOf(f, (g) => g.compact());
    // y (6 KiB) moves to the front: erases and writes of its pages, then the pages left over.
    expect(ops).toBeGreaterThan(10);
  });

  it("a cut at a vulnerable operation makes the next boot erase every file, unrelated ones included", () => {
    const base = fragmented();
    const n = opsOf(base, (g) => g.write("z", filled(9000, 0x77)));
    let wiped = 0;
    let kept = 0;
    for (let k = 0; k < n; k++) {
      const f = base.clone();
      f.cutAt(k);
      cutDuring(() => f.write("z", filled(9000, 0x77)));
      f.powerCycle();
      if (f.wipes === 1) {
        wiped++;
        expect(f.list()).toEqual([]);
        expect(f.bytes().every((b) => b === 0xff)).toBe(true);
      } else {
        kept++;
        expect(f.read("cfg")).toEqual(filled(40, 0x63));
      }
    }
    expect(wiped).toBeGreaterThan(0);
    expect(kept).toBeGreaterThan(0);
  });

  for (const v of CUT_VECTORS) {
    it(`a cut at each operation wipes exactly where Espruino 2v29 did: ${v.name}`, () => {
      const base = new SimFlash({ pageBytes: 1024 });
      for (const c of v.setup) run(base, c);
      const act = (g: SimFlash): void => {
        for (const c of v.action) run(g, c);
      };
      expect(opsOf(base, act)).toBe(v.ops);
      const wipedAt: number[] = [];
      for (let k = 0; k < v.ops; k++) {
        const f = base.clone();
        f.cutAt(k);
        cutDuring(() => act(f));
        f.powerCycle();
        if (f.wipes > 0) wipedAt.push(k);
      }
      expect(wipedAt).toEqual(v.wipedAt);
    });
  }
});

describe("SimFlash: power cuts", () => {
  it("after a cut every call throws PowerCut until powerCycle", () => {
    const f = twoFiles();
    f.cutAt(0);
    cutDuring(() => f.erase("a"));
    expect(f.dead).toBe(true);
    expect(() => f.read("b")).toThrow(PowerCut);
    expect(() => f.list()).toThrow(PowerCut);
    expect(() => f.getFree()).toThrow(PowerCut);
    expect(() => f.getTrash()).toThrow(PowerCut);
    expect(() => f.write("c", filled(1, 1))).toThrow(PowerCut);
    expect(() => f.compact()).toThrow(PowerCut);
    f.powerCycle();
    expect(f.dead).toBe(false);
    expect(f.read("b")).toEqual(filled(50, 0x42));
  });

  it("cutAt(n) lets n operations complete first", () => {
    const f = new SimFlash();
    f.cutAt(3);
    f.write("a", filled(10, 1));
    f.erase("a");
    const ops = f.ops;
    cutDuring(() => f.write("b", filled(10, 2)));
    expect(f.ops).toBe(ops);
  });

  it("a boot that finds the store valid keeps every file", () => {
    const f = twoFiles();
    f.powerCycle();
    expect(f.wipes).toBe(0);
    expect(f.list()).toEqual(["a", "b"]);
  });

  it("a clone is independent of the flash it was made from", () => {
    const f = twoFiles();
    const g = f.clone();
    g.write("a", filled(10, 9));
    g.cutAt(0);
    cutDuring(() => g.erase("b"));
    expect(f.dead).toBe(false);
    expect(f.read("a")).toEqual(filled(100, 0x41));
    f.erase("b");
    g.powerCycle();
    expect(g.read("b")).toEqual(filled(50, 0x42));
    expect(g.read("a")).toEqual(filled(10, 9));
  });

  it("a clone starts with the same image, counters and state", () => {
    const f = twoFiles();
    const g = f.clone();
    expect(Buffer.compare(g.bytes(), f.bytes())).toBe(0);
    expect(g.ops).toBe(f.ops);
    expect(g.list()).toEqual(f.list());
  });
});
