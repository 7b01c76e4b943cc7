// A simulated flash that stores files the way Espruino 2v29's Storage does
// (src/jsflash.c, jsfWriteFile and friends), over a byte image that changes
// only through flash operations: programming bytes (which can only clear
// bits: the new byte is old AND new) and erasing whole pages to 0xFF. Every
// Storage call is modelled operation by operation on the documented and
// measured behaviour, so its failures come out of the same layout the device
// has, not out of a list of special cases:
//
//   image  [hdr|data..][hdr|data....][hdr|data.][FF FF FF ... end]
//   hdr    u32 size (low 24 bits; flags in the top 8) + 28-byte name,
//          zero-padded; a deleted or replaced copy has its first 4 name
//          bytes programmed to 0 and stays as trash until compaction.
//   files  follow one another, each aligned to 4 bytes; getFree() is the
//          space after the last one.
//
// Flash operations, as counted by `ops` and struck by cutAt():
//   replace   write(name, d) over a file: mark old deleted, header, data = 3
//   new file  header, data = 2 (a pre-allocated file too: the rest stays 0xFF)
//   offset    write(name, d, offset): the bytes only = 1 (refused, 0 ops,
//             when any of them is already programmed, as Storage does)
//   erase     mark deleted = 1
//   same      write(name, d) with the bytes already there = 0
//   compact   per page: erase, then one program per chunk (page by page, from
//             the first page with trash), then erase the pages left over
// A cut at an operation leaves it undone (a data write with tornBytes = k
// programs its first k bytes); the flash is then dead until powerCycle(),
// which boots like Espruino: a store that fails jsfIsStorageValid is
// "corrupt" and every page is erased (counted in `wipes`).
//
// Checked against the 2v29 Linux interpreter (killed under gdb at each
// flash call): random sequences of write/erase/compact gave byte-identical
// images, and so did every boot after a cut at each op of a replace, of
// hal/records.ts saves and of three compactions (storage-cut-vectors.ts).
//
// Names over 28 characters are refused here (Espruino truncates them
// silently; the HAL refuses them on both backends). Not modelled: the
// filename table of the Linux build (written after 200 files were added or
// deleted), the RAM cache of file addresses, StorageFile ("sf") files and
// the two-bank layout of some boards. Header writes and deletion marks are
// all-or-nothing (a cut leaves them undone); only data writes tear.

import type { Flash } from "../types";

/** Thrown by every SimFlash call from the cut operation until powerCycle(). */
export class PowerCut extends Error {
  constructor() {
    super("power cut");
    this.name = "PowerCut";
  }
}

export interface SimFlashOptions {
  /** Size of the Storage area; 256 KiB when not given. */
  sizeBytes?: number;
  /** Erase page size; 4 KiB (ESP32) when not given. The Linux build uses 1 KiB. */
  pageBytes?: number;
}

export interface CutOptions {
  /** When the cut op is a data write: how many of its first bytes are programmed. */
  tornBytes?: number;
}

/** JsfFileHeader: u32 size with flags in the top 8 bits, then the name. */
const HEADER_BYTES = 32;
/** JsfFileName: at most 28 characters, zero-padded. */
const NAME_BYTES = 28;
/** JSF_ALIGNMENT on 32-bit flash (ESP32, STM32, nRF52, Linux). */
const ALIGN_BYTES = 4;
/** JSF_WORD_UNSET: an erased size word. */
const UNSET = 0xffffffff;
/** JsfFileFlags that jsfIsRealFile accepts: none, StorageFile, compressed. */
const REAL_FLAGS = [0, 64, 128];
/** No address (Espruino uses 0; here 0 is the first byte of the store). */
const NONE = -1;

/** Where a walk over the headers stands: the header's address and size word. */
interface Cursor {
  addr: number;
  size: number;
  /** Where the size word was last read from (Espruino's header struct). */
  read: number;
}

interface Stats {
  fileBytes: number;
  trashBytes: number;
  free: number;
  /** The page to compact from (last page start with a header on it before the first trash). */
  firstPageWithTrash: number;
}

function align(n: number): number {
  return (n + ALIGN_BYTES - 1) & ~(ALIGN_BYTES - 1);
}

export class SimFlash implements Flash {
  /** Flash operations completed so far (programs and page erases). */
  get ops(): number {
    return this.opCount;
  }
  /** True from a power cut until powerCycle(). */
  get dead(): boolean {
    return this.isDead;
  }
  /** Boots that found the store corrupt and erased every file. */
  get wipes(): number {
    return this.wipeCount;
  }
  /** Compactions started (by compact() or by a write that did not fit). */
  get compactions(): number {
    return this.compactionCount;
  }

  private readonly sizeBytes: number;
  private readonly pageBytes: number;
  private image: Uint8Array;
  private opCount = 0;
  private isDead = false;
  private wipeCount = 0;
  private compactionCount = 0;
  private cut: { at: number; tornBytes: number } | undefined;

  constructor(options: SimFlashOptions = {}) {
    this.sizeBytes = options.sizeBytes ?? 256 * 1024;
    this.pageBytes = options.pageBytes ?? 4096;
    if (this.pageBytes < HEADER_BYTES * 2 || this.pageBytes % ALIGN_BYTES !== 0) throw new Error(`bad page size ${this.pageBytes}`);
    if (this.sizeBytes <= 0 || this.sizeBytes % this.pageBytes !== 0) throw new Error(`flash size ${this.sizeBytes} is not a whole number of ${this.pageBytes}-byte pages`);
    this.image = new Uint8Array(this.sizeBytes).fill(0xff);
  }

  // ---------------------------------------------------------------- test control

  /**
   * Cuts power at the n-th flash operation from now (0: the next one). That
   * operation does not complete (a data write programs only its first
   * tornBytes bytes), throws PowerCut, and so does every later call until
   * powerCycle(). The cut stays armed across powerCycle() until it strikes.
   */
  cutAt(n: number, options: CutOptions = {}): void {
    if (!Number.isInteger(n) || n < 0) throw new Error(`cutAt: bad operation index ${n}`);
    const torn = options.tornBytes ?? 0;
    if (!Number.isInteger(torn) || torn < 0) throw new Error(`cutAt: bad tornBytes ${torn}`);
    this.cut = { at: this.opCount + n, tornBytes: torn };
  }

  /** Disarms a cut that has not struck yet. */
  cancelCut(): void {
    this.cut = undefined;
  }

  /**
   * Power comes back: Espruino's first boot checks the store
   * (jsfIsStorageValid) and erases it all when it is corrupt. The boot's own
   * erase is not counted in `ops` and cannot be cut.
   */
  powerCycle(): void {
    this.isDead = false;
    if (!this.storageValid()) {
      this.image.fill(0xff);
      this.wipeCount++;
    }
  }

  /** An independent copy: image, counters, dead flag and armed cut. */
  clone(): SimFlash {
    const c = new SimFlash({ sizeBytes: this.sizeBytes, pageBytes: this.pageBytes });
    c.image.set(this.image);
    c.opCount = this.opCount;
    c.isDead = this.isDead;
    c.wipeCount = this.wipeCount;
    c.compactionCount = this.compactionCount;
    c.cut = this.cut ? { at: this.cut.at, tornBytes: this.cut.tornBytes } : undefined;
    return c;
  }

  /** A copy of the raw image, for tests that look at bytes. */
  bytes(): Uint8Array {
    return this.image.slice();
  }

  // ---------------------------------------------------------------- Flash

  read(name: string): Uint8Array | undefined {
    this.alive();
    const c: Cursor = { addr: NONE, size: 0, read: 0 };
    const addr = this.findFile(this.encodeName(name), c);
    if (addr === NONE) return undefined;
    return this.image.slice(addr, addr + (c.size & 0xffffff));
  }

  /** jsfWriteFile. */
  write(name: string, data: Uint8Array, offset?: number, size?: number): void {
    this.alive();
    const nm = this.encodeName(name);
    const off = offset ?? 0;
    let sz = size ?? 0;
    if (!Number.isInteger(off) || !Number.isInteger(sz) || off < 0 || sz < 0) throw new Error(`Storage.write ${name}: bad offset or size`);
    if (sz === 0) sz = data.length;
    if (sz === 0) throw new Error(`Storage.write ${name}: can't create zero length file`);
    if (sz > 0xffffff) throw new Error(`Storage.write ${name}: file too big`);
    const c: Cursor = { addr: NONE, size: 0, read: 0 };
    let addr = this.findFile(nm, c);
    let fileSize = addr === NONE ? 0 : c.size & 0xffffff;
    const flags = addr === NONE ? 0 : c.size >>> 24;
    if ((addr === NONE && off === 0) || (addr !== NONE && off === 0 && (flags !== 0 || sz !== fileSize || !this.isErased(addr, sz)))) {
      // The same bytes already there: nothing is written.
      if (addr !== NONE && off === 0 && sz === fileSize && flags === 0 && data.length === sz && this.isEqual(addr, data)) return;
      if (addr !== NONE) this.markDeleted(addr - HEADER_BYTES);
      addr = this.createFile(nm, sz);
      fileSize = sz;
    }
    if (addr === NONE) throw new Error(`Storage.write ${name}: unable to find or create file`);
    if (off + data.length > fileSize) throw new Error(`Storage.write ${name}: too much data for file size`);
    if (!this.isErased(addr + off, data.length)) throw new Error(`Storage.write ${name}: file already written with different data`);
    if (data.length > 0) this.program(addr + off, data, true);
  }

  /** jsfEraseFile. */
  erase(name: string): void {
    this.alive();
    const c: Cursor = { addr: NONE, size: 0, read: 0 };
    const addr = this.findFile(this.encodeName(name), c);
    if (addr !== NONE) this.markDeleted(addr - HEADER_BYTES);
  }

  /** jsfListFiles, in the order the files lie in flash. */
  list(prefix?: string): string[] {
    this.alive();
    const out: string[] = [];
    const c: Cursor = { addr: NONE, size: 0, read: 0 };
    if (!this.first(c, 0)) return out;
    do {
      if (this.isRealFile(c)) {
        const name = this.nameAt(c.addr);
        if (prefix === undefined || name.startsWith(prefix)) out.push(name);
      }
    } while (this.next(c, true));
    return out;
  }

  getFree(): number {
    this.alive();
    return this.stats().free;
  }

  getTrash(): number {
    this.alive();
    return this.stats().trashBytes;
  }

  compact(): void {
    this.alive();
    this.compactStorage();
  }

  /** Storage.eraseAll(): every page erased, one operation each (a cut leaves some pages as they were). */
  eraseAll(): void {
    this.alive();
    for (let at = 0; at < this.sizeBytes; at += this.pageBytes) this.erasePage(at);
  }

  /** Called when a cut strikes, before PowerCut is thrown (the board powers off at once). */
  onPowerFail: (() => void) | undefined;

  // ---------------------------------------------------------------- flash operations

  private alive(): void {
    if (this.isDead) throw new PowerCut();
  }

  /** True when the armed cut strikes the operation about to run. */
  private strikes(): boolean {
    return this.cut !== undefined && this.cut.at === this.opCount;
  }

  private powerFails(): never {
    this.cut = undefined;
    this.isDead = true;
    if (this.onPowerFail) this.onPowerFail();
    throw new PowerCut();
  }

  /** Programs bytes: each becomes old AND new. A data write can tear. */
  private program(addr: number, data: Uint8Array, tears: boolean): void {
    if (addr < 0 || addr + data.length > this.sizeBytes) throw new Error(`flash program out of range at ${addr}`);
    if (this.strikes()) {
      const k = tears && this.cut ? Math.min(this.cut.tornBytes, data.length) : 0;
      for (let i = 0; i < k; i++) this.image[addr + i] &= data[i];
      this.powerFails();
    }
    for (let i = 0; i < data.length; i++) this.image[addr + i] &= data[i];
    this.opCount++;
  }

  /** Erases the page holding addr. A cut leaves the page as it was. */
  private erasePage(addr: number): void {
    const start = addr - (addr % this.pageBytes);
    if (this.strikes()) this.powerFails();
    this.image.fill(0xff, start, start + this.pageBytes);
    this.opCount++;
  }

  /** jsfEraseFileInternal: zero the first 4 bytes of the name. */
  private markDeleted(headerAddr: number): void {
    this.program(headerAddr + 4, new Uint8Array(4), false);
  }

  // ---------------------------------------------------------------- reading the layout

  private u32(addr: number): number {
    const b = this.image;
    return (b[addr] | (b[addr + 1] << 8) | (b[addr + 2] << 16) | (b[addr + 3] << 24)) >>> 0;
  }

  private encodeName(name: string): Uint8Array {
    if (name.length === 0 || name.length > NAME_BYTES) throw new Error(`Storage name must be 1 to ${NAME_BYTES} characters: "${name}"`);
    const out = new Uint8Array(NAME_BYTES);
    for (let i = 0; i < name.length; i++) out[i] = name.charCodeAt(i) & 0xff;
    return out;
  }

  /** jsfVarFromName: the name up to its first zero byte. */
  private nameAt(headerAddr: number): string {
    let s = "";
    for (let i = 0; i < NAME_BYTES; i++) {
      const ch = this.image[headerAddr + 4 + i];
      if (ch === 0) break;
      s += String.fromCharCode(ch);
    }
    return s;
  }

  private nameEquals(headerAddr: number, nm: Uint8Array): boolean {
    for (let i = 0; i < NAME_BYTES; i++) if (this.image[headerAddr + 4 + i] !== nm[i]) return false;
    return true;
  }

  private isDeleted(headerAddr: number): boolean {
    return this.u32(headerAddr + 4) === 0;
  }

  /** jsfIsRealFile: not deleted, and flags a file may have. */
  private isRealFile(c: Cursor): boolean {
    return !this.isDeleted(c.addr) && REAL_FLAGS.includes(c.size >>> 24);
  }

  /** jsfGetFileHeader's test: a size word that is set, non-zero and inside the store. */
  private headerOk(addr: number, size: number): boolean {
    return size !== UNSET && size !== 0 && addr + HEADER_BYTES + (size & 0xffffff) <= this.sizeBytes;
  }

  /** jsfGetAddressOfNextPage. */
  private pageAfter(addr: number): number {
    const next = addr - (addr % this.pageBytes) + this.pageBytes;
    return next >= this.sizeBytes ? NONE : next;
  }

  /** Reads the header at addr into the cursor; true when it is valid. */
  private first(c: Cursor, addr: number): boolean {
    c.addr = addr;
    c.read = addr;
    c.size = this.u32(addr);
    return this.headerOk(addr, c.size);
  }

  /**
   * jsfGetNextFileHeader: moves to the header after the cursor's file; with
   * `all`, an invalid one makes it look at the start of the next page too.
   * Returns whether the header it stopped at is valid (c.addr is NONE when
   * it ran out of flash).
   */
  private next(c: Cursor, all: boolean): boolean {
    const old = c.addr;
    c.addr = NONE;
    let a = align(old + (c.size & 0xffffff) + HEADER_BYTES);
    if (a + HEADER_BYTES > this.sizeBytes) return false;
    c.addr = a;
    c.read = a;
    c.size = this.u32(a);
    let valid = this.headerOk(a, c.size);
    if (all && !valid) {
      a = this.pageAfter(a);
      c.addr = a;
      if (a === NONE) return false;
      c.read = a;
      c.size = this.u32(a);
      valid = this.headerOk(a, c.size);
    }
    return valid;
  }

  /** jsfBankFindFile: the data address of the live file with this name, or NONE. */
  private findFile(nm: Uint8Array, c: Cursor): number {
    if (!this.first(c, 0)) return NONE;
    const firstChars = (nm[0] | (nm[1] << 8) | (nm[2] << 16) | (nm[3] << 24)) >>> 0;
    do {
      if (this.u32(c.addr + 4) === firstChars && this.nameEquals(c.addr, nm)) return c.addr + HEADER_BYTES;
    } while (this.next(c, true));
    return NONE;
  }

  private isErased(addr: number, len: number): boolean {
    for (let i = 0; i < len; i++) if (this.image[addr + i] !== 0xff) return false;
    return true;
  }

  private isEqual(addr: number, data: Uint8Array): boolean {
    for (let i = 0; i < data.length; i++) if (this.image[addr + i] !== data[i]) return false;
    return true;
  }

  /** jsfGetStorageStats over all pages. */
  private stats(): Stats {
    const s: Stats = { fileBytes: 0, trashBytes: 0, free: 0, firstPageWithTrash: NONE };
    const c: Cursor = { addr: NONE, size: 0, read: 0 };
    let lastAddr = 0;
    let lastUnbrokenPageStart = 0;
    if (this.first(c, 0)) {
      do {
        if (c.addr % this.pageBytes === 0) lastUnbrokenPageStart = c.addr;
        const fileBytes = align(c.size & 0xffffff) + HEADER_BYTES;
        lastAddr = c.addr + fileBytes;
        if (this.isDeleted(c.addr)) {
          s.trashBytes += fileBytes;
          if (s.firstPageWithTrash === NONE) s.firstPageWithTrash = lastUnbrokenPageStart;
        } else {
          s.fileBytes += fileBytes;
        }
      } while (this.next(c, true));
    }
    s.free = this.sizeBytes - lastAddr;
    return s;
  }

  /** jsfGetSpaceLeftInPage: to the page's end, or to the store's end when the next page is empty. */
  private spaceLeftInPage(addr: number): number {
    if (addr === NONE) return 0;
    let nextPage = addr - (addr % this.pageBytes) + this.pageBytes;
    if (nextPage < this.sizeBytes && !this.headerOk(nextPage, this.u32(nextPage))) nextPage = this.sizeBytes;
    return nextPage - addr;
  }

  // ---------------------------------------------------------------- creating files

  /**
   * _jsfCreateFile: finds room (first fit, page by page), compacting once
   * when Storage's own estimate says that would make room, then writes the
   * header. Returns the data address, or NONE when there is no room.
   */
  private createFile(nm: Uint8Array, size: number): number {
    const required = align(size) + HEADER_BYTES;
    let compacted = false;
    let freeAddr = NONE;
    const c: Cursor = { addr: NONE, size: 0, read: 0 };
    while (freeAddr === NONE) {
      let addr = 0;
      let freeSpace = 0;
      let trashSpace = 0;
      do {
        if (this.first(c, addr)) {
          do {
            if (this.isDeleted(c.addr)) trashSpace += c.size & 0xffffff;
          } while (this.next(c, false));
        }
        addr = c.addr;
        // Storage adds up the space to the end from every page it skips:
        // its estimate is generous, so it may compact and still not fit.
        const spaceInPage = this.spaceLeftInPage(addr);
        freeSpace += spaceInPage;
        if (spaceInPage < required) addr = addr === NONE ? NONE : this.pageAfter(addr);
        else freeAddr = addr;
      } while (addr !== NONE && freeAddr === NONE);
      if (freeAddr === NONE) {
        if (compacted || required >= freeSpace + trashSpace) return NONE;
        compacted = true;
        if (!this.compactStorage()) return NONE;
      }
    }
    const header = new Uint8Array(HEADER_BYTES);
    header[0] = size & 0xff;
    header[1] = (size >>> 8) & 0xff;
    header[2] = (size >>> 16) & 0xff;
    header[3] = 0; // flags: a plain file
    header.set(nm, 4);
    this.program(freeAddr, header, false);
    return freeAddr + HEADER_BYTES;
  }

  // ---------------------------------------------------------------- compaction

  /** jsfBankCompact: false when there is no trash (or the compaction gave up). */
  private compactStorage(): boolean {
    const s = this.stats();
    if (s.trashBytes === 0) return false;
    this.compactionCount++;
    const bufferBytes = Math.min(s.fileBytes, this.pageBytes + HEADER_BYTES);
    return this.compactFrom(s.firstPageWithTrash, bufferBytes);
  }

  /**
   * jsfCompactInternal: live files are read, in order, into a circular RAM
   * buffer of about a page and written back from `start` down, a page at a
   * time: a page is erased when writing reaches its start, and only once
   * every byte in it has been read. A cut loses what the buffer held; the
   * pages after the write point still hold the old layout.
   */
  private compactFrom(start: number, bufferBytes: number): boolean {
    const buf = new Uint8Array(bufferBytes);
    const end = this.sizeBytes;
    let writeAddr = start;
    let head = 0;
    let tail = 0;
    let used = 0;

    // jsfCompactWriteBuffer: write out what may be written before readAddr.
    const flush = (readAddr: number): void => {
      let nextPage = this.pageAfter(writeAddr);
      if (nextPage === NONE) nextPage = end;
      while (used > 0) {
        let n = used;
        if (n + tail > bufferBytes) n = bufferBytes - tail;
        if (n + writeAddr > nextPage) n = nextPage - writeAddr;
        if (readAddr < nextPage) return; // that page is still being read
        if (n <= 0) throw new Error("SimFlash: compaction ran past the end of the store");
        if (writeAddr < end && writeAddr % this.pageBytes === 0) this.erasePage(writeAddr);
        this.program(writeAddr, buf.subarray(tail, tail + n), true);
        writeAddr += n;
        nextPage = this.pageAfter(writeAddr);
        if (nextPage === NONE) nextPage = end;
        tail = (tail + n) % bufferBytes;
        used -= n;
      }
    };
    const copyIn = (from: number, n: number): void => {
      for (let i = 0; i < n; i++) {
        buf[head] = this.image[from + i];
        head = (head + 1) % bufferBytes;
      }
    };

    const c: Cursor = { addr: start, size: 0, read: start };
    if (this.first(c, start)) {
      do {
        if (this.isRealFile(c)) {
          // The header as read now (the RAM copy Espruino works from).
          copyIn(c.addr, HEADER_BYTES);
          used += HEADER_BYTES;
          let left = align(c.size & 0xffffff);
          let readAddr = c.addr + HEADER_BYTES;
          flush(readAddr);
          while (left > 0) {
            let n = bufferBytes - used;
            if (n > bufferBytes - head) n = bufferBytes - head;
            if (tail > head && n > tail - head) n = tail - head;
            if (n === 0) return false; // "compact> error - no space left!"
            if (n > left) n = left;
            copyIn(readAddr, n);
            left -= n;
            readAddr += n;
            used += n;
            flush(readAddr);
          }
        }
      } while (this.next(c, true));
    }
    flush(end);
    // Erase what is left, from the page after the last write to where the walk stopped.
    if (writeAddr !== start) writeAddr = this.pageAfter(writeAddr - 1);
    if (writeAddr !== NONE) {
      const stop = c.addr === NONE ? end : c.addr;
      for (let p = writeAddr; p < stop; p += this.pageBytes) this.erasePage(p);
    }
    return true;
  }

  // ---------------------------------------------------------------- boot

  /** jsfIsBankStorageValid(JSFSTT_NORMAL), run at the first boot after power-on. */
  private storageValid(): boolean {
    const c: Cursor = { addr: 0, size: 0, read: 0 };
    let last = 0;
    if (this.first(c, 0)) {
      while (this.next(c, true)) last = c.addr;
      if (c.addr === NONE) {
        // The walk may have stopped only because the store is full.
        const after = align(last + (c.size & 0xffffff) + HEADER_BYTES);
        if (after <= this.sizeBytes && after + HEADER_BYTES > this.sizeBytes) return true;
      }
    }
    // The last header read: erased means the end of the files, anything else is corrupt.
    const allFF = this.isErased(c.read, HEADER_BYTES);
    if (allFF && c.addr === 0) return this.isErased(0, this.sizeBytes);
    return allFF;
  }
}
