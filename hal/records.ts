// Crash-safe records on top of any Flash (design: persistence never trusts
// Storage to be atomic; see espruino.md, "Storage is NOT safe against power
// cuts"). One log serves both owners: Records (here: the latest of a
// series of values, the meter totals and the seq bounds) and Journal
// (hal/journal.ts: a snapshot and the entries appended after it). The
// latest saved record survives a power cut at any flash operation: load()
// then returns it, or the one saved before it when the cut hit a save in
// progress, never a mix and never nothing.
//
// Layout: two pre-allocated files, <name>.0 and <name>.1. Records follow
// one another from offset 0, each starting 4-aligned:
//
//   off+0       u8   magic 0xA5
//   off+1       u8   kind: 0x00 for Records; the journal's snapshot 0x01
//                    and entry 0x02, so neither ever takes the other's
//                    records for its own
//   off+2       u16  data length (little-endian)
//   off+4       u32  sequence number, 1 for the first record
//   off+8       data
//   off+8+len   u32  CRC-32 (E.CRC32) of bytes off+0 .. off+8+len
//   then 1-4 bytes 0x00 so the record ends 4-aligned, on a byte that is
//   never 0xFF: the end of the programmed bytes is the end of the log.
//
// A record is valid when its magic, kind, CRC and zero padding are all
// there. All-0xFF, short, torn or bad-CRC records are invalid and skipped,
// 4 bytes at a time.
//
// Sequence numbers count every record. The first record of a file (the
// "head": a Records record, or the journal's snapshot) is written with the
// file; the current file is the one whose head is valid and has the higher
// number, the other is ignored. Its later records count on from the head
// without a gap: a record lost in the middle ends the log there, so the
// history never has a hole in it.
//
// Flash operations, and what a power cut at each leaves:
//   append   1  an offset write of the whole record into the current file,
//               which resumes after the last programmed byte, rounded up
//               to 4: no byte is ever programmed twice. Torn or not done:
//               the record is invalid, the ones before it stay.
//   fold     3  erase the other file (it holds only what the current file
//               made obsolete); pre-allocate it with the new record as its
//               head: Storage header, then data. 2 when the other file does
//               not exist yet; one erase more per stale copy a cut
//               compaction left under that name. Until the data write
//               completes the other file has no valid head and the current
//               file still wins. The file is then read back: if Storage
//               lost it, the journal's fold() throws and a Records save
//               returns REC_FULL, the files as they were.
// A Records save appends, or folds (starts the other file) when the record
// does not fit in the current file.
//
// Storage compaction is never started from here: before creating a file,
// fold() checks getFree() and returns J_FULL (REC_FULL), changing
// nothing, when the file would not fit without compaction; the owner calls
// flash.compact() at a moment it chooses (needsCompaction(); a fold
// takes `cost` bytes of free space).
// Sequence numbers are u32 and are assumed never to wrap (one record a
// second for 136 years).

import type { Flash } from "./types";

/** save() succeeded. */
export const REC_OK = 0;
/** The record does not fit in one file (or is over 65,535 bytes). */
export const REC_TOO_BIG = 1;
/**
 * The next file does not fit in flash without compaction, or Storage did
 * not keep it (after a cut compaction); nothing was changed. Equals J_FULL.
 */
export const REC_FULL = 3;

/** Bytes a record with dataBytes of data takes in a file (always a multiple of 4). */
export function recordBytes(dataBytes: number): number {
  return (dataBytes + 16) & ~3;
}

function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** What an owner of crash-safe records uses: the latest record, and saving the next. */
export interface RecordStore {
  /** The last record saved completely, or undefined when there is none. */
  load(): Uint8Array | undefined;
  /** Saves a record: REC_OK, or why not (REC_TOO_BIG, REC_FULL). */
  save(data: Uint8Array): number;
}

export interface RecordsOptions {
  /**
   * Base name of the two files, at most 26 characters (".0"/".1" is added:
   * Storage names are at most 28).
   */
  name: string;
  /**
   * Size of each pre-allocated file, a multiple of 4 from 16 to 65,548 (a
   * record's length is a u16); one record can hold fileBytes - 13 bytes.
   * Neither is checked here: the firmware passes constants, which
   * test/firmware/router.test.ts holds to these rules.
   */
  fileBytes: number;
  /**
   * Free flash this log leaves to the others (optional, 0): a new file that
   * would leave less is refused as flash full. The meter's totals keep room
   * so that the seq bound and the journal can still go on, and the backup
   * that lets the router compact can still be sent.
   */
  leave?: number;
}

/**
 * The two-file log both Records and Journal are. They extend it without a
 * constructor of their own.
 */
export class RecordLog {
  protected readonly fl: Flash;
  protected readonly crc: (d: Uint8Array) => number;
  /** "<name>.": file i is stem + i. */
  protected readonly stem: string;
  protected readonly fileLen: number;
  /** Flash space a new file takes: Storage's 32-byte header, data aligned to 8. */
  readonly cost: number;
  /** Free flash a new file needs: its cost, and RecordsOptions.leave. */
  protected readonly need: number;
  /** Kind of a file's head; the records after it are 2 * headKind. */
  protected readonly headKind: number;
  // The state below is set by scan(), which the constructor runs.
  /** Sequence number of the last record; 0 when there is none (read only). */
  seq!: number;
  /** File (0 or 1) holding the latest records, or -1 when there is none. */
  protected cur!: number;
  /** Length of the current file (0: none), and where the next record goes in it (read only). */
  curBytes!: number;
  wpos!: number;
  /** Data length and sequence number of the current file's head. */
  protected headBytes!: number;
  protected headSeq!: number;
  /** Offset and data length of the last record, as the last scan found them. */
  protected lastOff!: number;
  protected lastBytes!: number;

  constructor(flash: Flash, crc32: (d: Uint8Array) => number, options: RecordsOptions) {
    const f = options.fileBytes;
    this.fl = flash;
    this.crc = crc32;
    this.stem = options.name + ".";
    this.fileLen = f;
    this.cost = 32 + ((f + 7) & ~7);
    this.need = this.cost + (options.leave || 0);
    // Records' records are all kind 0 (Records has save(), the journal has
    // not); the journal's snapshot is 1, its entries 2.
    this.headKind = (this as { save?: unknown }).save ? 0 : 1;
    this.scan();
  }

  /** The data length of a valid record of this kind at off, or -1. */
  private at(b: Uint8Array, off: number, kind: number): number {
    const len = b[off + 2] | (b[off + 3] << 8);
    const e = off + 8 + len;
    if (b[off] !== 0xa5 || b[off + 1] !== kind) return -1;
    // Padding up to the record's end; past the file's end reads undefined.
    for (let i = off + recordBytes(len); --i >= e + 4; ) if (b[i] !== 0) return -1;
    return this.crc(b.subarray(off, e)) === u32(b, e) ? len : -1;
  }

  /** Writes a whole record in one flash operation. */
  private put(name: string, kind: number, seq: number, data: Uint8Array, off: number, size?: number): void {
    const len = data.length;
    const r = new Uint8Array(recordBytes(len));
    // A Uint8Array keeps the low 8 bits of what it is given.
    r.set([0xa5, kind, len, len >> 8, seq, seq >> 8, seq >> 16, seq >> 24]);
    r.set(data, 8);
    const c = this.crc(r.subarray(0, 8 + len));
    r.set([c, c >> 8, c >> 16, c >> 24], 8 + len);
    this.fl.write(name, r, off, size);
  }

  /**
   * Walks the records after a file's head: those numbered on from it without
   * a gap, up to the last programmed byte. Returns the last one's sequence
   * number and notes where it is and where the next goes; with `out`,
   * pushes a view of each.
   */
  private walk(b: Uint8Array, headBytes: number, seq: number, out?: Uint8Array[]): number {
    let end = b.length;
    while (end > 0 && b[end - 1] === 0xff) end--;
    this.wpos = (end + 3) & ~3;
    this.lastOff = 0;
    this.lastBytes = headBytes;
    let off = recordBytes(headBytes);
    while (off + 16 <= this.wpos) {
      const len = this.at(b, off, this.headKind * 2);
      if (len < 0 || u32(b, off + 4) !== seq + 1) {
        off += 4;
        continue;
      }
      if (out) out.push(b.subarray(off + 8, off + 8 + len));
      seq++;
      this.lastOff = off;
      this.lastBytes = len;
      off += recordBytes(len);
    }
    return seq;
  }

  /**
   * Reads both files and finds the current one, its last record and where
   * the next goes. Returns the current file's bytes (undefined when there
   * is none); with `out`, pushes a view of each record after the head.
   */
  protected scan(out?: Uint8Array[]): Uint8Array | undefined {
    let b: Uint8Array | undefined;
    this.cur = -1;
    this.curBytes = this.wpos = this.headBytes = this.headSeq = this.seq = 0;
    for (let i = 0; i < 2; i++) {
      const f = this.fl.read(this.stem + i);
      const len = f ? this.at(f, 0, this.headKind) : -1;
      if (len < 0) continue;
      const seq = u32(f as Uint8Array, 4);
      // The same head in both files: a stale copy that a cut compaction
      // left in Storage's free space, under a file created since. The copy
      // that goes further wins.
      if (b && (seq < this.headSeq || (seq === this.headSeq && this.walk(f as Uint8Array, len, seq) <= this.walk(b, this.headBytes, seq)))) continue;
      b = f;
      this.cur = i;
      this.headBytes = len;
      this.headSeq = seq;
    }
    if (b) {
      this.seq = this.walk(b, this.headBytes, this.headSeq, out);
      this.curBytes = b.length;
    }
    return b;
  }

  /** Appends a record after the last: J_OK, J_TOO_BIG or J_FOLD (J_ codes: hal/journal.ts). One flash operation. */
  append(data: Uint8Array): number {
    const n = recordBytes(data.length);
    if (recordBytes(this.headBytes) + n > this.fileLen) return 1;
    if (this.wpos + n > this.curBytes) return 2;
    // Moved on first: if the write throws half-way, its bytes are never programmed again.
    this.wpos += n;
    this.put(this.stem + this.cur, this.headKind * 2, this.seq + 1, data, this.wpos - n);
    this.seq++;
    return 0;
  }

  /**
   * Starts the other file with data as its head: J_OK, J_TOO_BIG or J_FULL.
   * Numbered after the last record and after afterSeq (a backup's tag).
   * Throws when Storage refuses the file or (the journal's) loses it, with
   * the files as they were.
   */
  fold(data: Uint8Array, afterSeq?: number): number {
    if (recordBytes(data.length) > this.fileLen) return 1;
    if (this.fl.getFree() < this.need) return 3;
    // (undefined > n is false.)
    const seq = ((afterSeq as number) > this.seq ? (afterSeq as number) : this.seq) + 1;
    const name = this.stem + (this.cur ? 0 : 1);
    // The other file holds only what the current one made obsolete: it may
    // go, with any stale copies of it that a cut compaction left behind
    // (erasing a missing file does nothing).
    for (let k = 0; k < 8; k++) this.fl.erase(name);
    this.put(name, this.headKind, seq, data, 0, this.fileLen);
    // Read back: after a cut compaction Storage can take a file it then
    // does not give back (its free space holds junk past a broken chain);
    // then the files are as they were. The journal throws (its owner
    // reports it); a Records save is refused as flash full.
    this.scan();
    if (this.seq === seq) return 0;
    if (this.headKind) throw new Error("Storage did not keep " + name);
    return 3;
  }
}

/** The latest of a series of records (meter totals, seq bounds). */
export class Records extends RecordLog implements RecordStore {
  /**
   * The data of the latest valid record, or undefined when there is none: a
   * view into the file as Flash.read gave it (read it before the next save).
   */
  load(): Uint8Array | undefined {
    const b = this.scan();
    return b && b.subarray(this.lastOff + 8, this.lastOff + 8 + this.lastBytes);
  }

  /** Saves data as the latest record: REC_OK, REC_TOO_BIG or REC_FULL. */
  save(data: Uint8Array): number {
    return this.append(data) && this.fold(data);
  }

  /**
   * True when the next file rotation would not fit in the free space at the
   * end of flash but would after compaction: the owner should compact now,
   * at a moment it chooses, rather than get REC_FULL later.
   */
  needsCompaction(): boolean {
    const free = this.fl.getFree();
    const need = this.need;
    return free < need && free + this.fl.getTrash() >= need;
  }
}
