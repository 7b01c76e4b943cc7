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
//   off+1       u8   format 0x00
//   off+2       u16  data length (little-endian)
//   off+4       u32  sequence number, 1 for the first record
//   off+8       data
//   off+8+len   u32  CRC-32 (E.CRC32) of bytes off+0 .. off+8+len
//   then 1-4 bytes 0x00 so the record ends 4-aligned, on a byte that is
//   never 0xFF: the end of the programmed bytes is the end of the log.
//
// A record is valid when its magic, format, CRC and zero padding are all
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

import type { Flash } from "./types";

/** save() succeeded. */
export const REC_OK = 0;
/** The record does not fit in one file (or is over 65,535 bytes). */
export const REC_TOO_BIG = 1;
/** The next file does not fit in flash without compaction; nothing was changed. */
export const REC_FULL = 2;

const MAGIC = 0xa5;
const FORMAT = 0;
/** Header (magic, format, length, sequence) before the data. */
const HEADER_BYTES = 8;
/** The smallest record: header, CRC and 4 bytes of padding. */
const MIN_RECORD_BYTES = 16;
const MAX_DATA_BYTES = 0xffff;
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
  return (dataBytes + MIN_RECORD_BYTES) & ~3;
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
    if (options.name.length < 1 || options.name.length > MAX_NAME_CHARS) throw new Error("Records: name must be 1-" + MAX_NAME_CHARS + " characters");
    if (!(options.fileBytes >= MIN_RECORD_BYTES) || options.fileBytes % 4 !== 0) throw new Error("Records: fileBytes must be a multiple of 4, at least " + MIN_RECORD_BYTES);
    this.flash = flash;
    this.crc32 = crc32;
    this.names = [options.name + ".0", options.name + ".1"];
    this.fileBytes = options.fileBytes;
    this.fileCostBytes = STORAGE_HEADER_BYTES + Math.ceil(options.fileBytes / STORAGE_ALIGN_BYTES) * STORAGE_ALIGN_BYTES;
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
    const start = this.lastOff + HEADER_BYTES;
    const out = new Uint8Array(this.lastLen);
    out.set(file.subarray(start, start + this.lastLen));
    return out;
  }

  /** Saves data as the latest record: REC_OK, REC_TOO_BIG or REC_FULL. */
  save(data: Uint8Array): number {
    if (!this.known) this.scan();
    const len = data.length;
    const total = recordBytes(len);
    if (len > MAX_DATA_BYTES || total > this.fileBytes) return REC_TOO_BIG;
    const append = this.cur >= 0 && this.pos + total <= this.curBytes;
    const target = append ? this.cur : this.cur === 0 ? 1 : 0;
    if (!append && this.flash.getFree() < this.fileCostBytes) return REC_FULL;
    const seq = (this.lastSeq + 1) >>> 0;
    const rec = new Uint8Array(total);
    rec[0] = MAGIC;
    rec[1] = FORMAT;
    rec[2] = len & 0xff;
    rec[3] = len >>> 8;
    writeU32(rec, 4, seq);
    rec.set(data, HEADER_BYTES);
    writeU32(rec, HEADER_BYTES + len, this.crc32(rec.subarray(0, HEADER_BYTES + len)));
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

  /** The data length of a valid record at off, or -1. */
  private recordAt(b: Uint8Array, off: number): number {
    if (b[off] !== MAGIC || b[off + 1] !== FORMAT) return -1;
    const len = b[off + 2] | (b[off + 3] << 8);
    const end = off + recordBytes(len);
    if (end > b.length) return -1;
    for (let i = off + HEADER_BYTES + len + 4; i < end; i++) if (b[i] !== 0) return -1;
    const crc = this.crc32(b.subarray(off, off + HEADER_BYTES + len)) >>> 0;
    return crc === readU32(b, off + HEADER_BYTES + len) ? len : -1;
  }

  /** Finds the latest valid record in one file, and where writing would resume. */
  private scanFile(file: number, b: Uint8Array): void {
    // Resume after the last programmed byte: torn leftovers are never written over.
    let end = b.length;
    while (end > 0 && b[end - 1] === 0xff) end--;
    const resume = (end + 3) & ~3;
    let off = 0;
    while (off + MIN_RECORD_BYTES <= resume) {
      const len = this.recordAt(b, off);
      if (len < 0) {
        off += 4;
        continue;
      }
      const seq = readU32(b, off + 4);
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
