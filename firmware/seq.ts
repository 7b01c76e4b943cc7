// The envelope's sequence numbers across reboots and power cuts (design
// section 5, after OSCORE, RFC 8613 appendix B.1):
// - sending: a seq is never used twice. The router persists an upper bound
//   reserved in steps of `stepK` before it uses any seq below it, and after
//   a restart starts above the last bound it persisted. A power cut wastes
//   at most stepK numbers; it never repeats one.
// - receiving: the highest seq accepted from the server, persisted when the
//   caller asks (before it acts on a message that changes state) and with
//   every reservation. Heartbeats are not persisted one by one (that would
//   be a flash write a minute): after a boot the router trusts the server's
//   time only from a heartbeat that echoes its HELLO (protocol/messages.ts,
//   HEARTBEAT), so one replayed from the gap cannot turn its clock back.
//
// Record (crash-safe, hal/records.ts), uint32 words in the board's byte
// order (little-endian on every Espruino board and on the test hosts):
//   0 layout version (1)
//   1-2 the reserved send bound, low word then high word
//   3-4 the highest accepted receive seq, low word then high word

import type { RecordStore } from "../hal/records";

const SEQ_RECORD_VERSION = 1;
const TWO_32 = 0x100000000;

export class SeqStore {
  private readonly records: RecordStore;
  private readonly stepK: number;
  /** The record's words (a Uint32Array keeps the low 32 bits of what it is given), and its bytes. */
  private readonly w: Uint32Array;
  private readonly bytes: Uint8Array;
  /** The bound persisted: every seq up to it may have been used. */
  private reserved = 0;
  /** The next seq to send. */
  private nextSeq: number;
  /** The highest seq accepted from the peer (persisted or not yet). */
  recvLast = 0;
  /** The highest accepted seq that is in flash. */
  recvSaved = 0;
  /** The records' error code of the last failed save, 0 when none failed. */
  lastSaveError = 0;

  constructor(records: RecordStore, stepK: number) {
    this.records = records;
    this.stepK = stepK;
    const w = (this.w = new Uint32Array(5));
    this.bytes = new Uint8Array(w.buffer);
    const r = records.load();
    if (r && r.length === 20) {
      // A copy: the record may sit at any offset in flash.
      this.bytes.set(r);
      if (w[0] === SEQ_RECORD_VERSION) {
        this.reserved = w[1] + w[2] * TWO_32;
        this.recvLast = this.recvSaved = w[3] + w[4] * TWO_32;
      }
    }
    this.nextSeq = this.reserved + 1;
  }

  private save(reserved: number, recv: number): boolean {
    // A Uint32Array keeps the low 32 bits (of the whole part) of what it is given.
    this.w.set([SEQ_RECORD_VERSION, reserved, reserved / TWO_32, recv, recv / TWO_32]);
    if ((this.lastSaveError = this.records.save(this.bytes))) return false;
    this.reserved = reserved;
    this.recvSaved = recv;
    return true;
  }
  /** The seq for the next message sent; 0 when a new bound could not be saved (send nothing then). */
  nextSend(): number {
    if (this.nextSeq > this.reserved && !this.save(this.nextSeq + this.stepK - 1, this.recvLast)) return 0;
    return this.nextSeq++;
  }

  /**
   * Makes sure nothing up to seq is accepted again after a restart: saves
   * the highest accepted seq (seq or above) unless flash already holds it.
   * False when that save failed (the caller must not act on the message).
   */
  persistRecv(seq: number): boolean {
    if (seq > this.recvLast) this.recvLast = seq;
    if (seq <= this.recvSaved) return true;
    return this.save(this.reserved, this.recvLast);
  }

  /**
   * Continues sending at seq n or above (a server told the router, after its
   * flash was wiped, the highest it accepted); the bound is saved first.
   * False when it could not be saved (nothing changed).
   */
  skipTo(n: number): boolean {
    if (n <= this.nextSeq) return true;
    if (!this.save(n + this.stepK - 1, this.recvLast)) return false;
    this.nextSeq = n;
    return true;
  }

  /**
   * Records seq as the highest accepted from the peer. With persist, it is
   * in flash before this returns true; false when that save failed (then
   * the caller must not act on the message, and nothing changed). A seq
   * not above the highest accepted is refused (false), changing nothing.
   */
  acceptRecv(seq: number, persist: boolean): boolean {
    if (seq <= this.recvLast) return false;
    if (persist && !this.save(this.reserved, seq)) return false;
    this.recvLast = seq;
    return true;
  }
}
