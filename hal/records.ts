// Crash-safe records on top of any Flash (design: persistence never trusts
// Storage to be atomic; see espruino.md, "Storage is NOT safe against power
// cuts"). The latest saved record survives a power cut at any flash
// operation: load() then returns it, or the one saved before it when the cut
// hit a save in progress, never a mix and never nothing.
//
// Layout: an append log over two pre-allocated files, <name>.0 and <name>.1.
// Records follow one another from offset 0, each starting 4-aligned:
//
//   off+0       u8   magic 0xA5
//   off+1       u8   kind: 0x00 here; hal/journal.ts uses 0x01 and 0x02,
//                    so neither ever takes the other's records for its own
//   off+2       u16  data length (little-endian)
//   off+4       u32  sequence number, 1 for the first record
//   off+8       data
//   off+8+len   u32  CRC-32 (E.CRC32) of bytes off+0 .. off+8+len
//   then 1-4 bytes 0x00 so the record ends 4-aligned, on a byte that is
//   never 0xFF: the end of the programmed bytes is the end of the log.
//
// A record is valid when its magic, kind, CRC and zero padding are all
// there. All-0xFF, short, torn or bad-CRC records are invalid and skipped.
//
// Flash operations per save:
//   append     1  (an offset write into the current file)
//   rotation   3  (erase the other file, which holds only older records;
//                 pre-allocate it with the new record as its first record:
//                 header + data); 2 when the other file does not exist yet
// A cut before the last of these leaves the previous record in place; a
// torn append leaves bytes the writer then steps over (it resumes after the
// last programmed byte, rounded up to 4, and never programs a byte twice).
//
// Storage compaction is never started from here: before creating a file,
// save() checks getFree() and returns REC_FULL when the file would not fit,
// changing nothing. needsCompaction() tells the owner when to call
// flash.compact() at a moment it chooses.
//
// The record format and the helpers that encode, check and scan records
// are exported for hal/journal.ts, which keeps its log in the same format.

import type { Flash } from "./types";

/** save() succeeded. */
export const REC_OK = 0;
/** The record does not fit in one file (or is over 65,535 bytes). */
export const REC_TOO_BIG = 1;
/** The next file does not fit in flash without compaction; nothing was changed. */
export const REC_FULL = 2;

const MAGIC = 0xa5;
/** The kind byte of a Records record. */
const KIND_RECORD = 0;
/** Header (magic, kind, length, sequence) before the data. */
export const REC_HEADER_BYTES = 8;
/** The smallest record: header, CRC and 4 bytes of padding. */
export const REC_MIN_BYTES = 16;
/** The longest data a record can hold (its length is a u16). */
export const REC_MAX_DATA_BYTES = 0xffff;
/** What Storage adds to a file: a 32-byte header; data aligned to 4 (8 on some boards). */
const STORAGE_HEADER_BYTES = 32;
const STORAGE_ALIGN_BYTES = 8;
/** Storage names are at most 28 characters; ".0" and ".1" take 2. */
const MAX_NAME_CHARS = 26;

/** What an owner of crash-safe records uses: the latest record, and saving the next. */
export interface RecordStore {
  /** The last record saved completely, or undefined when there is none. */
  load(): Uint8Array | undefined;
  /** Saves a record: REC_OK, or why not (REC_TOO_BIG, REC_FULL). */
  save(data: Uint8Array): number;
}

export interface RecordsOptions {
  /** Base name of the two files, at most 26 characters (".0"/".1" is added). */
  name: string;
  /** Size of each pre-allocated file; one save can hold fileBytes - 13 bytes. */
  fileBytes: number;
}

/** Bytes a record with dataBytes of data takes in a file (always a multiple of 4). */
export function recordBytes(dataBytes: number): number {
  return (dataBytes + REC_MIN_BYTES) & ~3;
}

/** Flash space one pre-allocated file of fileBytes takes, Storage's header included. */
export function fileCostBytes(fileBytes: number): number {
  return STORAGE_HEADER_BYTES + Math.ceil(fileBytes / STORAGE_ALIGN_BYTES) * STORAGE_ALIGN_BYTES;
}

/** Throws unless name and fileBytes suit a pair of record files; who names the caller. */
export function checkRecordFiles(who: string, name: string, fileBytes: number): void {
  if (name.length < 1 || name.length > MAX_NAME_CHARS) throw new Error(who + ": name must be 1-" + MAX_NAME_CHARS + " characters");
  if (!(fileBytes >= REC_MIN_BYTES) || fileBytes % 4 !== 0) throw new Error(who + ": fileBytes must be a multiple of 4, at least " + REC_MIN_BYTES);
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

function writeU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

/** A whole record (header, data, CRC, padding), ready for one flash write. */
export function encodeRecord(kind: number, seq: number, data: Uint8Array, crc32: (d: Uint8Array) => number): Uint8Array {
  const len = data.length;
  const rec = new Uint8Array(recordBytes(len));
  rec[0] = MAGIC;
  rec[1] = kind;
  rec[2] = len & 0xff;
  rec[3] = len >>> 8;
  writeU32(rec, 4, seq >>> 0);
  rec.set(data, REC_HEADER_BYTES);
  writeU32(rec, REC_HEADER_BYTES + len, crc32(rec.subarray(0, REC_HEADER_BYTES + len)));
  return rec;
}

/** The data length of a valid record of this kind at off, or -1. */
export function recordAt(b: Uint8Array, off: number, kind: number, crc32: (d: Uint8Array) => number): number {
  if (b[off] !== MAGIC || b[off + 1] !== kind) return -1;
  const len = b[off + 2] | (b[off + 3] << 8);
  const end = off + recordBytes(len);
  if (end > b.length) return -1;
  for (let i = off + REC_HEADER_BYTES + len + 4; i < end; i++) if (b[i] !== 0) return -1;
  const crc = crc32(b.subarray(off, off + REC_HEADER_BYTES + len)) >>> 0;
  return crc === readU32(b, off + REC_HEADER_BYTES + len) ? len : -1;
}

/** The sequence number of the record at off. */
export function recordSeq(b: Uint8Array, off: number): number {
  return readU32(b, off + 4);
}

/**
 * Where writing resumes in a file: after its last programmed (non-0xFF)
 * byte, rounded up to 4, so torn leftovers are never written over.
 */
export function resumeOffset(b: Uint8Array): number {
  let end = b.length;
  while (end > 0 && b[end - 1] === 0xff) end--;
  return (end + 3) & ~3;
}

export class Records implements RecordStore {
  private readonly flash: Flash;
  private readonly crc32: (d: Uint8Array) => number;
  private readonly names: string[];
  private readonly fileBytes: number;
  /** Flash space a new file takes, Storage's header included. */
  private readonly fileCostBytes: number;
  /** False until the files were scanned, and while a save is under way. */
  private known = false;
  /** File (0 or 1) holding the latest record, or -1 when there is none. */
  private cur = -1;
  /** Where the next record goes in the current file. */
  private pos = 0;
  /** Length of the current file. */
  private curBytes = 0;
  /** Sequence number of the latest record (0: none). */
  private lastSeq = 0;
  /** Offset and data length of the latest record in the current file. */
  private lastOff = 0;
  private lastLen = 0;

  constructor(flash: Flash, crc32: (d: Uint8Array) => number, options: RecordsOptions) {
    checkRecordFiles("Records", options.name, options.fileBytes);
    this.flash = flash;
    this.crc32 = crc32;
    this.names = [options.name + ".0", options.name + ".1"];
    this.fileBytes = options.fileBytes;
    this.fileCostBytes = fileCostBytes(options.fileBytes);
  }

  /** Sequence number of the latest record; 0 when there is none. */
  get seq(): number {
    if (!this.known) this.scan();
    return this.lastSeq;
  }

  /** The data of the latest valid record, or undefined when there is none. */
  load(): Uint8Array | undefined {
    if (!this.known) this.scan();
    if (this.cur < 0) return undefined;
    const file = this.flash.read(this.names[this.cur]);
    if (file === undefined) return undefined;
    // A copy (typedArray.slice gives a plain Array on 2v29).
    const start = this.lastOff + REC_HEADER_BYTES;
    const out = new Uint8Array(this.lastLen);
    out.set(file.subarray(start, start + this.lastLen));
    return out;
  }

  /** Saves data as the latest record: REC_OK, REC_TOO_BIG or REC_FULL. */
  save(data: Uint8Array): number {
    if (!this.known) this.scan();
    const len = data.length;
    const total = recordBytes(len);
    if (len > REC_MAX_DATA_BYTES || total > this.fileBytes) return REC_TOO_BIG;
    const append = this.cur >= 0 && this.pos + total <= this.curBytes;
    const target = append ? this.cur : this.cur === 0 ? 1 : 0;
    if (!append && this.flash.getFree() < this.fileCostBytes) return REC_FULL;
    const seq = (this.lastSeq + 1) >>> 0;
    const rec = encodeRecord(KIND_RECORD, seq, data, this.crc32);
    // If a flash call throws half-way, the files are scanned again next time.
    this.known = false;
    if (append) {
      this.flash.write(this.names[target], rec, this.pos);
      this.lastOff = this.pos;
    } else {
      // The other file holds only records older than the latest: it may go.
      this.flash.erase(this.names[target]);
      this.flash.write(this.names[target], rec, 0, this.fileBytes);
      this.cur = target;
      this.curBytes = this.fileBytes;
      this.lastOff = 0;
    }
    this.pos = this.lastOff + total;
    this.lastSeq = seq;
    this.lastLen = len;
    this.known = true;
    return REC_OK;
  }

  /**
   * True when the next file rotation would not fit in the free space at the
   * end of flash but would after compaction: the owner should compact now,
   * at a moment it chooses, rather than get REC_FULL later.
   */
  needsCompaction(): boolean {
    const free = this.flash.getFree();
    return free < this.fileCostBytes && free + this.flash.getTrash() >= this.fileCostBytes;
  }

  /** Finds the latest valid record in one file, and where writing would resume. */
  private scanFile(file: number, b: Uint8Array): void {
    const resume = resumeOffset(b);
    let off = 0;
    while (off + REC_MIN_BYTES <= resume) {
      const len = recordAt(b, off, KIND_RECORD, this.crc32);
      if (len < 0) {
        off += 4;
        continue;
      }
      const seq = recordSeq(b, off);
      if (seq > this.lastSeq) {
        this.lastSeq = seq;
        this.cur = file;
        this.lastOff = off;
        this.lastLen = len;
        this.pos = resume;
        this.curBytes = b.length;
      }
      off += recordBytes(len);
    }
  }

  /** Reads both files to find the latest record and the write position. */
  private scan(): void {
    this.cur = -1;
    this.pos = 0;
    this.curBytes = 0;
    this.lastSeq = 0;
    this.lastOff = 0;
    this.lastLen = 0;
    for (let i = 0; i < 2; i++) {
      const b = this.flash.read(this.names[i]);
      if (b !== undefined) this.scanFile(i, b);
    }
    this.known = true;
  }
}
