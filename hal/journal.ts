// A crash-safe append-only journal with snapshots, on top of any Flash
// (design: persistence never trusts Storage to be atomic; see espruino.md,
// "Storage is NOT safe against power cuts"). The owner keeps its state in
// RAM and appends every change here before acting on it; now and then it
// folds the whole state into a snapshot that starts a new file. After a
// power cut at any flash operation, load() gives the latest snapshot and
// every entry appended after it: everything whose call returned, plus
// perhaps the one the cut hit (all of it or none of it), never a mix.
//
// Layout: two pre-allocated files, <name>.0 and <name>.1, holding records
// in hal/records.ts's format (magic, kind, length, sequence number, data,
// CRC-32, zero padding; each 4-aligned, never ending on 0xFF) with kind
//   0x01  snapshot: always the first record of a file, at offset 0
//   0x02  entry: after the snapshot, sequence numbers one after another
// Sequence numbers count every record, snapshots included: 1 for the
// journal's first snapshot, and a snapshot takes the number after the
// last record of the file it replaces.
//
// Reading (load(), and the first call of any kind after a reboot):
//   - the current file is the one whose offset 0 holds a valid snapshot
//     with the higher sequence number; the other file is ignored;
//   - its entries are the valid entry records whose sequence numbers follow
//     the snapshot's without a gap; anything else (all-0xFF, short, torn,
//     bad-CRC or out-of-sequence bytes) is skipped, 4 bytes at a time; a
//     record lost in the middle ends the history there, so the history
//     never has a hole in it;
//   - appends resume after the last programmed byte of the current file,
//     rounded up to 4: no byte is ever programmed twice.
//
// Flash operations per call, and what a power cut at each leaves:
//   append   1  an offset write of the whole entry record into the current
//               file. Torn or not done: the record is invalid, the entries
//               before it stay; done in full: the entry is there.
//   fold     3  erase the other file (it holds only what the current file's
//               snapshot already folded in); pre-allocate it with the new
//               snapshot as its first record: Storage header, then data.
//               2 when the other file does not exist (the first two
//               folds); one erase more per stale copy a cut compaction
//               left under that name. Until the data write completes, the
//               other file has no valid snapshot and the current file
//               still wins: load() gives the old snapshot and entries;
//               once it completes, the new snapshot alone. The file is
//               then read back; fold() throws if Storage lost it.
//   restore  as fold
//   load, seq, fits, foldsLeft, and calls that return J_TOO_BIG, J_FOLD
//   or J_FULL: 0.
//
// Storage compaction is never started from here: fold() checks getFree()
// before creating a file and returns J_FULL, changing nothing, when the
// file would not fit without compaction. foldsLeft() tells the owner how
// many folds remain, so it can back up and call flash.compact() at a
// moment it chooses.
//
// A cut during compaction is outside these guarantees. The next boot may
// wipe every file (load() gives an empty journal, seq 0), or find Storage
// "valid" with the files moved only in part (hal/sim/flash.ts,
// jsfCompactInternal): load() then gives an older state (the other file,
// the current one cut short, or nothing), never a mix and always with a
// lower seq; and Storage's free space may hold junk, so that a file
// created later is refused, lost, or makes a later boot wipe everything.
// So the owner compacts this way:
//   1. it appends a start mark (an entry of its own); the server stores a
//      backup of the state, tagged with the journal's seq;
//   2. flash.compact() right away, then a done mark;
//   3. at boot, the journal's last entry being the start mark, or a seq
//      below the server's latest tag, means a cut compaction: the owner
//      erases Storage entirely (Storage.eraseAll) and restore(backup, tag)
//      starts the journal again, numbered after the tag.
// test/hal/journal.test.ts checks this at every operation of compactions.
//
// Not handled: a snapshot that rots in flash (bad CRC without a power cut)
// makes the other, older file current again, with a lower seq; sequence
// numbers are u32 and are assumed never to wrap (one record a second for
// 136 years).

import type { Flash } from "./types";
import {
  REC_HEADER_BYTES,
  REC_MAX_DATA_BYTES,
  REC_MIN_BYTES,
  checkRecordFiles,
  encodeRecord,
  fileCostBytes,
  recordAt,
  recordBytes,
  recordSeq,
  resumeOffset,
} from "./records";

/** The call did what was asked. */
export const J_OK = 0;
/**
 * The record can never fit: a snapshot bigger than a file, or an entry that
 * does not fit in a file even right after the current snapshot (over 65,535
 * bytes either way). Nothing was changed.
 */
export const J_TOO_BIG = 1;
/** append: the current file is full (or there is no snapshot yet); call fold(snapshot) first. Nothing was changed. */
export const J_FOLD = 2;
/** fold: the next file does not fit in flash without Storage compaction. Nothing was changed. */
export const J_FULL = 3;

/** Copies of one name fold() erases at most (more than one only after a cut compaction). */
const MAX_STALE_COPIES = 8;

/** Record kinds (hal/records.ts uses 0x00). */
const KIND_SNAPSHOT = 1;
const KIND_ENTRY = 2;

export interface JournalOptions {
  /** Base name of the two files, at most 26 characters (".0"/".1" is added). */
  name: string;
  /**
   * Size of each pre-allocated file, a multiple of 4. A record takes its
   * data plus 13-16 bytes (recordBytes() in hal/records.ts); the snapshot
   * and the entries appended after it share one file.
   */
  fileBytes: number;
}

/**
 * What load() returns. The arrays are views into the file as Flash.read
 * gave it (memory-mapped flash on Espruino): they stay valid until the
 * next fold() or flash.compact(); copy what must live longer.
 */
export interface JournalContents {
  /** The latest snapshot; undefined when the journal is empty. */
  snapshot: Uint8Array | undefined;
  /** The entries appended after it, oldest first. */
  entries: Uint8Array[];
}

export class Journal {
  private readonly flash: Flash;
  private readonly crc32: (d: Uint8Array) => number;
  private readonly names: string[];
  private readonly fileBytes: number;
  /** Flash space a new file takes, Storage's header included. */
  private readonly fileCostBytes: number;
  /** False until the files were scanned, and while a write is under way. */
  private known = false;
  /** File (0 or 1) starting with the latest snapshot, or -1 when there is none. */
  private cur = -1;
  /** Length of the current file. */
  private curBytes = 0;
  /** Where the next entry goes in the current file. */
  private pos = 0;
  /** Data length of the current snapshot. */
  private snapshotBytes = 0;
  /** Sequence number of the last record (0: none). */
  private lastSeq = 0;
  /** Entries after the current snapshot. */
  private entryTotal = 0;

  constructor(flash: Flash, crc32: (d: Uint8Array) => number, options: JournalOptions) {
    checkRecordFiles("Journal", options.name, options.fileBytes);
    this.flash = flash;
    this.crc32 = crc32;
    this.names = [options.name + ".0", options.name + ".1"];
    this.fileBytes = options.fileBytes;
    this.fileCostBytes = fileCostBytes(options.fileBytes);
  }

  /** Sequence number of the last record (snapshot or entry); 0 when the journal is empty. */
  get seq(): number {
    if (!this.known) this.scan(undefined);
    return this.lastSeq;
  }

  /** Entries appended after the current snapshot. */
  get entryCount(): number {
    if (!this.known) this.scan(undefined);
    return this.entryTotal;
  }

  /** Bytes free in the current file (0 when the journal is empty); an entry of n bytes takes recordBytes(n). */
  get freeBytes(): number {
    if (!this.known) this.scan(undefined);
    return this.cur < 0 ? 0 : this.curBytes - this.pos;
  }

  /** True when an entry of n bytes would be appended now, without a fold. */
  fits(n: number): boolean {
    if (!this.known) this.scan(undefined);
    return this.cur >= 0 && n <= REC_MAX_DATA_BYTES && this.pos + recordBytes(n) <= this.curBytes;
  }

  /**
   * The latest snapshot and every entry appended after it, oldest first,
   * as views into the current file (see JournalContents). Reads and checks
   * both files again.
   */
  load(): JournalContents {
    const entries: Uint8Array[] = [];
    const snapshot = this.scan(entries);
    return { snapshot: snapshot, entries: entries };
  }

  /** Appends one entry after the last: J_OK, J_TOO_BIG or J_FOLD. One flash operation. */
  append(entry: Uint8Array): number {
    if (!this.known) this.scan(undefined);
    const total = recordBytes(entry.length);
    if (entry.length > REC_MAX_DATA_BYTES || recordBytes(this.snapshotBytes) + total > this.fileBytes) return J_TOO_BIG;
    if (this.cur < 0 || this.pos + total > this.curBytes) return J_FOLD;
    const seq = (this.lastSeq + 1) >>> 0;
    const rec = encodeRecord(KIND_ENTRY, seq, entry, this.crc32);
    // If the write throws half-way, the files are scanned again next time.
    this.known = false;
    this.flash.write(this.names[this.cur], rec, this.pos);
    this.pos += total;
    this.lastSeq = seq;
    this.entryTotal++;
    this.known = true;
    return J_OK;
  }

  /**
   * Starts the other file with this snapshot (the whole state, every entry
   * so far folded in) as its first record: J_OK, J_TOO_BIG or J_FULL.
   * Three flash operations (two for the journal's first or second file).
   * Throws when Storage refuses the file or loses it (seen only after a cut
   * compaction; see above), with the journal as it was.
   */
  fold(snapshot: Uint8Array): number {
    return this.start(snapshot, 0);
  }

  /**
   * fold() for a state restored from a backup the server tagged with
   * backupSeq (see the compaction notes above): the snapshot is numbered
   * after both backupSeq and the journal's own last record, so a journal
   * that lost records, or was wiped, never numbers backwards.
   */
  restore(snapshot: Uint8Array, backupSeq: number): number {
    return this.start(snapshot, backupSeq);
  }

  /** fold() and restore(): the snapshot is numbered after afterSeq and after the last record. */
  private start(snapshot: Uint8Array, afterSeq: number): number {
    if (!this.known) this.scan(undefined);
    const len = snapshot.length;
    if (len > REC_MAX_DATA_BYTES || recordBytes(len) > this.fileBytes) return J_TOO_BIG;
    if (this.flash.getFree() < this.fileCostBytes) return J_FULL;
    const target = this.cur === 0 ? 1 : 0;
    const seq = ((afterSeq > this.lastSeq ? afterSeq : this.lastSeq) + 1) >>> 0;
    const rec = encodeRecord(KIND_SNAPSHOT, seq, snapshot, this.crc32);
    this.known = false;
    // The other file holds only what the current snapshot folded in: it may
    // go, with any stale copies of it that a cut compaction left behind.
    const name = this.names[target];
    for (let copies = 0; copies < MAX_STALE_COPIES && this.flash.read(name) !== undefined; copies++) this.flash.erase(name);
    this.flash.write(name, rec, 0, this.fileBytes);
    // Read back: after a cut compaction Storage can take a file it then
    // does not give back (its free space holds junk past a broken chain).
    const file = this.flash.read(name);
    if (file === undefined || recordAt(file, 0, KIND_SNAPSHOT, this.crc32) !== len || recordSeq(file, 0) !== seq) throw new Error("Journal: Storage did not keep " + name);
    this.cur = target;
    this.curBytes = this.fileBytes;
    this.pos = rec.length;
    this.snapshotBytes = len;
    this.lastSeq = seq;
    this.entryTotal = 0;
    this.known = true;
    return J_OK;
  }

  /**
   * Erases the file that holds only what the current snapshot folded in
   * (1 flash operation when it exists). Before a Storage compaction: a cut
   * compaction can bring an older file back, and then there is none.
   */
  dropOther(): void {
    if (!this.known) this.scan(undefined);
    if (this.cur < 0) return;
    const other = this.names[this.cur === 0 ? 1 : 0];
    if (this.flash.read(other) !== undefined) this.flash.erase(other);
  }

  /**
   * Folds that still fit in the free space at the end of flash, before
   * Storage would have to compact: when it runs low, the owner backs up to
   * the server and calls flash.compact() at a moment it chooses.
   */
  foldsLeft(): number {
    return Math.floor(this.flash.getFree() / this.fileCostBytes);
  }

  /**
   * Reads both files and finds the current one, its entries and where the
   * next goes. With `entries`, pushes a view of each entry and returns a
   * view of the snapshot (undefined when there is none).
   */
  private scan(entries: Uint8Array[] | undefined): Uint8Array | undefined {
    this.known = false;
    this.cur = -1;
    this.curBytes = 0;
    this.pos = 0;
    this.snapshotBytes = 0;
    this.lastSeq = 0;
    this.entryTotal = 0;
    let b: Uint8Array | undefined = undefined;
    let snapshotSeq = 0;
    for (let i = 0; i < 2; i++) {
      const file = this.flash.read(this.names[i]);
      if (file === undefined) continue;
      const len = recordAt(file, 0, KIND_SNAPSHOT, this.crc32);
      if (len < 0) continue;
      const seq = recordSeq(file, 0);
      if (b !== undefined && seq < snapshotSeq) continue;
      // The same snapshot in both files: a stale copy that a cut compaction
      // left in Storage's free space, under a file created since. The copy
      // that goes further wins.
      if (b !== undefined && seq === snapshotSeq && this.walk(file, len, seq, undefined) <= this.walk(b, this.snapshotBytes, seq, undefined)) continue;
      b = file;
      this.cur = i;
      this.snapshotBytes = len;
      snapshotSeq = seq;
    }
    this.known = true;
    if (b === undefined) return undefined;
    this.lastSeq = this.walk(b, this.snapshotBytes, snapshotSeq, entries);
    this.entryTotal = this.lastSeq - snapshotSeq;
    this.curBytes = b.length;
    this.pos = resumeOffset(b);
    return entries === undefined ? undefined : b.subarray(REC_HEADER_BYTES, REC_HEADER_BYTES + this.snapshotBytes);
  }

  /**
   * Walks the entries after a file's snapshot: those numbered on from it
   * without a gap, up to the last programmed byte. Returns the last one's
   * sequence number (the snapshot's when there is none); with `entries`,
   * pushes a view of each.
   */
  private walk(b: Uint8Array, snapshotBytes: number, snapshotSeq: number, entries: Uint8Array[] | undefined): number {
    const resume = resumeOffset(b);
    let seq = snapshotSeq;
    let off = recordBytes(snapshotBytes);
    while (off + REC_MIN_BYTES <= resume) {
      const len = recordAt(b, off, KIND_ENTRY, this.crc32);
      if (len < 0 || recordSeq(b, off) !== ((seq + 1) >>> 0)) {
        off += 4;
        continue;
      }
      if (entries !== undefined) entries.push(b.subarray(off + REC_HEADER_BYTES, off + REC_HEADER_BYTES + len));
      seq = (seq + 1) >>> 0;
      off += recordBytes(len);
    }
    return seq;
  }
}

