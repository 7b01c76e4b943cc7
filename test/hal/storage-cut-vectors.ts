// Power cuts during compaction, measured on the Espruino 2v29 Linux build
// (1 KiB pages, 256 KiB): the interpreter ran each setup, then the action
// under gdb, killed at the k-th call of jshFlashWrite/jshFlashErasePage
// (that call not made), for every k; then it booted again. `wipedAt` lists
// the k after which the boot said "Storage is corrupt." and erased every
// page. SimFlash gave a byte-identical image after every one of these boots.

export type StorageCall =
  | { op: "write"; name: string; bytes: number; fill: number }
  | { op: "erase"; name: string }
  | { op: "compact" };

export interface CutVector {
  name: string;
  setup: StorageCall[];
  action: StorageCall[];
  /** Flash operations the action took on the interpreter. */
  ops: number;
  wipedAt: number[];
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let k = from; k <= to; k++) out.push(k);
  return out;
}

const nearFull: StorageCall[] = [];
for (let i = 0; i < 40; i++) nearFull.push({ op: "write", name: "f" + i, bytes: 5000 + i * 37, fill: 0x30 + (i % 40) });
nearFull.push({ op: "write", name: "f38", bytes: 3000, fill: 0x21 });
nearFull.push({ op: "erase", name: "f36" });

const small: StorageCall[] = [];
for (let i = 0; i < 6; i++) small.push({ op: "write", name: "g" + i, bytes: 700 + i * 300, fill: 0x41 + i });
small.push({ op: "erase", name: "g1" });

export const CUT_VECTORS: CutVector[] = [
  {
    name: "compact() of six files, trash on the first page",
    setup: small,
    action: [{ op: "compact" }],
    ops: 31,
    // Every op but the first erase: page 0 is erased before anything is rewritten.
    wipedAt: range(1, 30),
  },
  {
    name: "a new file that only fits after Storage compacts by itself",
    setup: [
      { op: "write", name: "x", bytes: 250000, fill: 0x55 },
      { op: "write", name: "y", bytes: 4000, fill: 0x66 },
      { op: "erase", name: "x" },
    ],
    action: [{ op: "write", name: "z", bytes: 9000, fill: 0x77 }],
    ops: 259,
    wipedAt: range(1, 12),
  },
  {
    name: "compact() of a near-full store (40 files), trash near the end",
    setup: nearFull,
    action: [{ op: "compact" }],
    ops: 651,
    wipedAt: [
      1, 12, 13, 27, 28, 42, 43, 57, 58, 72, 73, 90, 103, 104, 118, 119, 133, 134, 148, 149, 166, 181, 195, 212, 227, 228, 242, 243, 260, 278, 292, 309, 324, 325, 342, 360, 375, 376, 391,
      392, 409, 410, 427, 445, 463, 481, 497, 498, 515, 533, 551, 569,
    ].concat(range(585, 639)),
  },
];
