// An Espruino-like REPL over the simulated board's console, for the pairing
// page's tests: it takes the bytes a console client sends, evaluates each
// line against what the firmware exposed (R) and writes back what Espruino
// 2v29 prints. Measured on the 2v29 interpreter (tools/pairing/README.md):
//   - a typed line is echoed, then "\r\n", its output, "=" and its result,
//     then the prompt ">" (no line end);
//   - a line that starts with 0x10 is neither echoed nor its result printed;
//   - a thrown exception prints "Uncaught <Name>: <message>" and where;
//   - a locked console (E.setPassword + E.lockConsole, or a password set at
//     boot) prints the prompt "password>", echoes nothing and takes every
//     line as a password, 0x10 included: "\r\n  Invalid password\r\n" then
//     the prompt again, or "\r\n  Logged in.\r\n>";
//   - output printed while the console waits comes as "\r\x1b[J" + line +
//     "\r\n", then the prompt again.
// Not modelled: multi-line input (unbalanced brackets), cursor keys and
// history, Espruino's exact layout of objects after "=" (here one line).
//
// The board's password comes from hal.console.setPassword (firmware calls it
// at boot and in R.password); like hal/espruino, which calls E.lockConsole()
// after E.setPassword(), a non-empty password locks the console at once. A
// reboot drops the link (over BLE the board disconnects) and, with a
// password, boots locked.

import * as vm from "node:vm";
import type { SimBoard } from "../../hal/sim/board";

export interface EspruinoReplOptions {
  /** Bytes the console sends to the connected client. */
  write: (data: string) => void;
  /** The board rebooted: the client's link is gone (BLE disconnects). */
  onReboot?: () => void;
}

export class EspruinoRepl {
  /** Every complete line received, as typed (a password too). */
  readonly linesIn: string[] = [];
  /** Password attempts and whether they were taken. */
  readonly logins: { ok: boolean }[] = [];
  locked = false;
  private readonly board: SimBoard;
  private readonly o: EspruinoReplOptions;
  private line = "";
  private echoOff = false;
  private lastWasCr = false;
  private printedSeen: number;
  private bootsSeen: number;
  private password = "";
  private busy = false;
  private readonly context: vm.Context;
  private exposed: string[] = [];

  constructor(board: SimBoard, options: EspruinoReplOptions) {
    this.board = board;
    this.o = options;
    this.printedSeen = board.lines.length;
    this.bootsSeen = board.boots.length;
    // The password as the firmware sets it (hal.console.setPassword): a
    // non-empty one locks the console, as E.lockConsole() does on the board.
    this.password = board.password;
    this.locked = this.password !== "";
    Object.defineProperty(board, "password", {
      configurable: true,
      enumerable: true,
      get: () => this.password,
      set: (pw: string) => {
        this.password = pw;
        if (pw) this.locked = true;
      },
    });
    const print = (...args: unknown[]) => this.out(args.map((a) => (typeof a === "string" ? a : format(a))).join(" ") + "\r\n");
    this.context = vm.createContext({
      print,
      console: { log: print },
      E: {
        setPassword: (pw?: string) => {
          this.password = pw ? String(pw) : "";
        },
        lockConsole: () => {
          if (this.password) this.locked = true;
        },
      },
    });
  }

  /** The prompt the console shows now. */
  prompt(): string {
    return this.locked ? "password>" : ">";
  }

  /** Bytes from the client. */
  input(data: string): void {
    this.poll();
    for (const ch of data) {
      if (ch === "\n" && this.lastWasCr) {
        this.lastWasCr = false;
        continue;
      }
      this.lastWasCr = ch === "\r";
      if (ch === "\r" || ch === "\n") this.enter();
      else if (ch === "\x03") {
        // Ctrl-C clears the line (locked: ignored).
        if (!this.locked) this.line = "";
      } else if (ch === "\x10" && !this.locked && this.line === "") this.echoOff = true;
      else {
        this.line += ch;
        if (!this.locked && !this.echoOff) this.o.write(ch);
      }
    }
  }

  /**
   * After the board ran: forwards what the firmware printed since, as
   * Espruino does while it waits at the prompt, and notices a reboot.
   */
  poll(): void {
    if (this.busy) return;
    if (this.board.boots.length !== this.bootsSeen) {
      this.bootsSeen = this.board.boots.length;
      this.printedSeen = this.board.lines.length;
      this.line = "";
      this.echoOff = false;
      this.locked = this.password !== "";
      this.o.onReboot?.();
      return;
    }
    if (this.board.lines.length === this.printedSeen) return;
    let s = "\r\x1b[J";
    while (this.printedSeen < this.board.lines.length) s += this.board.lines[this.printedSeen++] + "\r\n";
    this.o.write(s + this.prompt() + (this.locked || this.echoOff ? "" : this.line));
  }

  private enter(): void {
    const line = this.line;
    const quiet = this.echoOff;
    this.line = "";
    this.echoOff = false;
    this.linesIn.push(line);
    if (this.locked) {
      const ok = line === this.password;
      this.logins.push({ ok });
      if (ok) this.locked = false;
      this.o.write(ok ? "\r\n  Logged in.\r\n>" : "\r\n  Invalid password\r\npassword>");
      return;
    }
    if (!quiet) this.o.write("\r\n");
    this.busy = true;
    let result: unknown;
    let thrown: unknown;
    let threw = false;
    try {
      // The firmware's globals (R) as this boot exposed them; none left from an earlier boot.
      for (const k of this.exposed) if (!(k in this.board.globals)) delete this.context[k];
      this.exposed = Object.keys(this.board.globals);
      Object.assign(this.context, this.board.globals);
      result = vm.runInContext(line, this.context, { timeout: 1000 });
    } catch (e) {
      threw = true;
      thrown = e;
    }
    this.busy = false;
    this.flushPrinted();
    if (threw) {
      const e = thrown as { name?: string; message?: string };
      this.o.write("Uncaught " + (e && e.name ? e.name + ": " + e.message : String(thrown)) + "\r\n    at REPL (:1:1)\r\n");
    } else if (!quiet) this.o.write("=" + format(result) + "\r\n");
    this.o.write(this.prompt());
  }

  /** What the firmware printed, in order with the REPL's own output. */
  private flushPrinted(): void {
    let s = "";
    while (this.printedSeen < this.board.lines.length) s += this.board.lines[this.printedSeen++] + "\r\n";
    if (s) this.o.write(s);
  }

  private out(s: string): void {
    this.flushPrinted();
    this.o.write(s);
  }
}

/** A value as the REPL shows it after "=" (one line here; Espruino breaks long objects over lines). */
export function format(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "function") return "function () { [native code] }";
  if (v === null || typeof v !== "object") return String(v);
  if (Array.isArray(v)) return "[ " + v.map(format).join(", ") + " ]";
  return "{ " + Object.entries(v as object).map(([k, x]) => k + ": " + format(x)).join(", ") + " }";
}
