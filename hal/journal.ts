// A crash-safe append-only journal with snapshots, on top of any Flash
// (design: persistence never trusts Storage to be atomic; see espruino.md,
// "Storage is NOT safe against power cuts"). The owner keeps its state in
// RAM and appends every change here before acting on it; now and then it
// folds the whole state into a snapshot that starts a new file. After a
// power cut at any flash operation, load() gives the latest snapshot and
// every entry appended after it: everything whose call returned, plus
// perhaps the one the cut hit (all of it or none of it), never a mix.
//
// The journal is hal/records.ts's log (two pre-allocated files <name>.0 and
// <name>.1, records with a magic, kind, length, sequence number, data,
// CRC-32 and zero padding) with kinds
//   0x01  snapshot: always the head (first record) of a file, at offset 0
//   0x02  entry: after the snapshot, sequence numbers one after another
// Sequence numbers count every record, snapshots included: 1 for the
// journal's first snapshot, and a snapshot takes the number after the
// last record of the file it replaces. hal/records.ts tells how the
// current file and its entries are found, and what a power cut at each
// flash operation leaves:
//   append   1  (torn or not done: the entries before it stay)
//   fold     3  (2 for the first two; until its data write completes,
//               load() gives the old snapshot and entries; once it
//               completes, the new snapshot alone; fold() throws if
//               Storage lost the file)
//   fold(snapshot, tag)  as fold (a restore: see below)
//   load, seq, and calls that return J_TOO_BIG, J_FOLD or J_FULL: 0.
//
// Storage compaction is never started from here: fold() checks getFree()
// before creating a file and returns J_FULL, changing nothing, when the
// file would not fit without compaction (one fold takes the log's `cost`
// of free space), so the owner can back up and call flash.compact() at a
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
//      erases Storage entirely (Storage.eraseAll) and fold(backup, tag)
//      starts the journal again, numbered after both the tag and its own
//      last record, so a journal that lost records never numbers backwards.
// test/hal/journal.test.ts checks this at every operation of compactions.
//
// Not handled: a snapshot that rots in flash (bad CRC without a power cut)
// makes the other, older file current again, with a lower seq.

import { RecordLog } from "./records";
import type { RecordsOptions } from "./records";

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

/**
 * Base name (at most 26 characters; ".0"/".1" is added) and size of each
 * pre-allocated file, a multiple of 4. A record takes its data plus 13-16
 * bytes (recordBytes() in hal/records.ts); the snapshot and the entries
 * appended after it share one file.
 */
export type JournalOptions = RecordsOptions;

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

// Inherited: seq (of the last record, snapshot or entry; 0 when empty),
// append(entry) (J_OK, J_TOO_BIG or J_FOLD; one flash operation) and
// fold(snapshot) (the whole state, every entry so far folded in, as the
// other file's first record: J_OK, J_TOO_BIG or J_FULL; throws when
// Storage refuses the file or loses it, with the journal as it was).
export class Journal extends RecordLog {
  /**
   * The latest snapshot and every entry appended after it, oldest first,
   * as views into the current file (see JournalContents). Reads and checks
   * both files again.
   */
  load(): JournalContents {
    const entries: Uint8Array[] = [];
    const b = this.scan(entries);
    return { snapshot: b && b.subarray(8, 8 + this.headBytes), entries: entries };
  }

  /**
   * Erases the file that holds only what the current snapshot folded in
   * (1 flash operation when it exists). Before a Storage compaction: a cut
   * compaction can bring an older file back, and then there is none.
   */
  dropOther(): void {
    // With no current file (-1) that is "<name>.2", which does not exist.
    this.fl.erase(this.stem + (1 - this.cur));
  }
}
