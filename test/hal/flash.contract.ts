// The behaviour every Flash backend shares (hal/types.ts, Flash): Espruino
// Storage semantics for whole files, pre-allocated files and offset writes,
// and the space accounting that hal/records.ts relies on. Registered by
// sim-flash.contract.test.ts, sim-hal.test.ts and espruino-hal.test.ts with
// their own way to make a fresh, empty flash.

import { describe, expect, it } from "vitest";
import type { Flash } from "../../hal/types";

function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function filled(n: number, v: number): Uint8Array {
  return new Uint8Array(n).fill(v);
}

export function flashContract(name: string, makeFlash: () => Flash): void {
  describe(`Flash contract: ${name}`, () => {
    it("a written file reads back the same bytes", () => {
      const f = makeFlash();
      f.write("cfg", bytes("hello"));
      expect(f.read("cfg")).toEqual(bytes("hello"));
    });

    it("a file that was never written reads as undefined", () => {
      expect(makeFlash().read("nothing")).toBeUndefined();
    });

    it("a read returns a copy that does not change the file", () => {
      const f = makeFlash();
      f.write("cfg", bytes("abc"));
      const r = f.read("cfg") as Uint8Array;
      r[0] = 0x7a;
      expect(f.read("cfg")).toEqual(bytes("abc"));
    });

    it("writing a file again replaces its bytes and its length", () => {
      const f = makeFlash();
      f.write("cfg", bytes("first version"));
      f.write("cfg", bytes("second"));
      expect(f.read("cfg")).toEqual(bytes("second"));
      expect(f.list()).toEqual(["cfg"]);
    });

    it("erase removes a file and erasing a missing file does nothing", () => {
      const f = makeFlash();
      f.write("a", bytes("1"));
      f.write("b", bytes("2"));
      f.erase("a");
      f.erase("missing");
      expect(f.read("a")).toBeUndefined();
      expect(f.list()).toEqual(["b"]);
    });

    it("list names every file, and only those starting with a prefix when given one", () => {
      const f = makeFlash();
      f.write("rec.0", bytes("x"));
      f.write("cfg", bytes("y"));
      f.write("rec.1", bytes("z"));
      expect([...f.list()].sort()).toEqual(["cfg", "rec.0", "rec.1"]);
      expect([...f.list("rec.")].sort()).toEqual(["rec.0", "rec.1"]);
      expect(f.list("none")).toEqual([]);
    });

    it("a pre-allocated file has its full size, the bytes not written reading 0xFF", () => {
      const f = makeFlash();
      f.write("log", bytes("ab"), 0, 8);
      expect(f.read("log")).toEqual(new Uint8Array([0x61, 0x62, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    });

    it("an offset write into a pre-allocated file programs those bytes and leaves the rest", () => {
      const f = makeFlash();
      f.write("log", bytes("ab"), 0, 8);
      f.write("log", bytes("cd"), 4);
      expect(f.read("log")).toEqual(new Uint8Array([0x61, 0x62, 0xff, 0xff, 0x63, 0x64, 0xff, 0xff]));
    });

    it("an offset write that runs past the end of the file is refused", () => {
      const f = makeFlash();
      f.write("log", bytes("ab"), 0, 8);
      expect(() => f.write("log", bytes("xyz"), 6)).toThrow();
      expect(f.read("log")).toEqual(new Uint8Array([0x61, 0x62, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    });

    it("an offset write into a missing file is refused", () => {
      const f = makeFlash();
      expect(() => f.write("nothing", bytes("ab"), 4)).toThrow();
      expect(f.read("nothing")).toBeUndefined();
    });

    it("a name of 28 characters is accepted and a longer one refused", () => {
      const f = makeFlash();
      const ok = "n".repeat(28);
      f.write(ok, bytes("1"));
      expect(f.read(ok)).toEqual(bytes("1"));
      expect(() => f.write("n".repeat(29), bytes("1"))).toThrow();
    });

    it("a file that does not fit even after compaction is refused", () => {
      const f = makeFlash();
      const room = f.getFree();
      expect(() => f.write("huge", bytes("x"), 0, room + 1)).toThrow();
    });

    it("getFree decreases by at least the size of a new file", () => {
      const f = makeFlash();
      const before = f.getFree();
      f.write("data", filled(1000, 0x41));
      expect(before - f.getFree()).toBeGreaterThanOrEqual(1000);
    });

    it("replaced and erased copies become trash and do not free space by themselves", () => {
      const f = makeFlash();
      expect(f.getTrash()).toBe(0);
      f.write("a", filled(500, 1));
      f.write("b", filled(300, 2));
      const free = f.getFree();
      f.erase("b");
      expect(f.getFree()).toBe(free);
      expect(f.getTrash()).toBeGreaterThanOrEqual(300);
      const trash = f.getTrash();
      f.write("a", filled(500, 3));
      expect(f.getTrash()).toBeGreaterThanOrEqual(trash + 500);
    });

    it("compact reclaims the trash and keeps every file", () => {
      const f = makeFlash();
      f.write("a", filled(500, 1));
      f.write("b", filled(300, 2));
      f.write("c", bytes("keep"), 0, 64);
      f.write("a", filled(400, 3));
      f.erase("b");
      const free = f.getFree();
      const trash = f.getTrash();
      f.compact();
      expect(f.getTrash()).toBe(0);
      expect(f.getFree()).toBe(free + trash);
      expect(f.read("a")).toEqual(filled(400, 3));
      expect(f.read("b")).toBeUndefined();
      const c = f.read("c") as Uint8Array;
      expect(c.length).toBe(64);
      expect(c.subarray(0, 4)).toEqual(bytes("keep"));
      // The pre-allocated file still takes offset writes after it moved.
      f.write("c", bytes("more"), 8);
      expect((f.read("c") as Uint8Array).subarray(8, 12)).toEqual(bytes("more"));
    });
  });
}
