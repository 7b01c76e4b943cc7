// The pairing page's side of the router's Espruino console (docs/console.md),
// over any byte stream (BLE UART or USB serial). Pure: no DOM, no timers of
// its own, so Node tests drive it over test/support/espruino-repl.ts.
//
// How Espruino 2v29's console behaves (measured on the interpreter, see
// tools/pairing/README.md): a line that starts with 0x10 is not echoed and its
// result is not printed; a locked console shows the prompt "password>",
// echoes nothing, takes every line as a password and answers
// "  Invalid password" or "  Logged in."; 0x10 before a password makes it
// wrong (it counts as a character). Printed output while idle comes as
// "\r\x1b[J" + line, then the prompt again.
//
// Every call goes out as one echo-less line that prints its answer as
// 0x01 <id> ':' JSON (or '!' and the exception): the line itself carries
// the 0x01 as the escape "\x01", so neither an echo nor anything the router
// prints can be taken for an answer.

/** The byte that starts a tagged answer line. */
export const TAG = "\x01";
/** The locked console's prompt (printed without a line end). */
export const PASSWORD_PROMPT = "password>";

/** One line of console output, as the page reads it. */
export type ConsoleEvent =
  | { type: "answer"; id: number; json: string }
  | { type: "thrown"; id: number; message: string }
  | { type: "logged-in" }
  | { type: "refused" }
  | { type: "text"; line: string };

/** The line that evaluates expr on the router and prints its answer tagged with id. */
export function commandLine(id: number, expr: string): string {
  if (/[\r\n]/.test(expr)) throw new Error("a console call must be one line");
  return "\x10try{print('\\x01" + id + ":'+JSON.stringify(" + expr + "))}catch(e){print('\\x01" + id + "!'+e)}\n";
}

/** A line without carriage returns, VT100 sequences, backspaces and the prompt ">" it may start with. */
export function cleanLine(raw: string): string {
  const s = raw.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").replace(/[\r\x08]/g, "");
  return s.startsWith(">") ? s.slice(1) : s;
}

/** What one complete output line means. */
export function parseLine(raw: string): ConsoleEvent {
  const line = cleanLine(raw);
  const at = line.indexOf(TAG);
  if (at >= 0) {
    const m = /^\x01(\d+)([:!])(.*)$/.exec(line.slice(at));
    if (m) return m[2] === ":" ? { type: "answer", id: Number(m[1]), json: m[3] } : { type: "thrown", id: Number(m[1]), message: m[3] };
  }
  const t = line.trim();
  if (t === "Logged in.") return { type: "logged-in" };
  if (t === "Invalid password") return { type: "refused" };
  return { type: "text", line };
}

/** Why a call got no answer: the text says what went wrong and what to try. */
export class ConsoleError extends Error {
  constructor(
    message: string,
    /** "locked", "timeout", "closed", "thrown" or "garbled". */
    readonly kind: string,
  ) {
    super(message);
    this.name = "ConsoleError";
  }
}

export interface ConsoleLinkOptions {
  /** Sends bytes to the router. */
  write: (data: string) => void;
  /** How long a call waits for its answer. */
  timeoutMs: number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  /** The console asks for the password (at connection, after a restart, or after R.password). */
  onLocked?: () => void;
  /** Any other line the router printed (its banner, R.status()'s line, errors). */
  onText?: (line: string) => void;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: unknown;
  expr: string;
}

/**
 * Calls on the router's console and their answers; the password exchange.
 * Feed it every byte received; it never writes unless asked.
 */
export class ConsoleLink {
  /** "unknown" until the first answer or prompt, then "open" or "locked". */
  state: "unknown" | "open" | "locked" = "unknown";
  private readonly o: ConsoleLinkOptions;
  private buffer = "";
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private login: { resolve: (ok: boolean) => void; reject: (e: Error) => void; timer: unknown } | undefined;

  constructor(options: ConsoleLinkOptions) {
    this.o = options;
  }

  /** Bytes received from the router. */
  feed(data: string): void {
    this.buffer += data;
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const raw = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      this.onLine(raw);
    }
    // The prompt has no line end: it is the tail of what came.
    if (cleanLine(this.buffer).endsWith(PASSWORD_PROMPT)) {
      this.buffer = "";
      this.locked();
    }
  }

  /** Evaluates expr (one line of JavaScript) on the router; resolves with its answer parsed from JSON. */
  call<T>(expr: string): Promise<T> {
    if (this.state === "locked") return Promise.reject(lockedError());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = this.o.setTimeout(() => {
        this.pending.delete(id);
        reject(new ConsoleError("The router did not answer within " + Math.round(this.o.timeoutMs / 1000) + " s. Check that it is powered and in range, then reconnect.", "timeout"));
      }, this.o.timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, expr });
      this.o.write(commandLine(id, expr));
    });
  }

  /** Sends the console password; resolves true when the router logged in, false when it refused it. */
  unlock(password: string): Promise<boolean> {
    if (this.state !== "locked") return Promise.reject(new ConsoleError("The console is not asking for a password.", "closed"));
    if (this.login) return Promise.reject(new ConsoleError("A password is already on its way; wait for the answer.", "closed"));
    return new Promise<boolean>((resolve, reject) => {
      const timer = this.o.setTimeout(() => {
        this.login = undefined;
        reject(new ConsoleError("The router did not answer the password within " + Math.round(this.o.timeoutMs / 1000) + " s. Check that it is powered and in range, then reconnect.", "timeout"));
      }, this.o.timeoutMs);
      this.login = { resolve, reject, timer };
      // No 0x10 before a password: Espruino counts it as a character.
      this.o.write(password + "\n");
    });
  }

  /** The link is gone: every call waiting fails with why. */
  close(reason: string): void {
    this.state = "unknown";
    this.buffer = "";
    this.failAll(new ConsoleError(reason, "closed"));
  }

  private locked(): void {
    const first = this.state !== "locked";
    this.state = "locked";
    // A probe sent to a locked console was taken as a password: it is that refusal, not the user's.
    this.failAll(lockedError(), true);
    if (this.login) return;
    if (first) this.o.onLocked?.();
  }

  private failAll(e: Error, keepLogin = false): void {
    for (const p of this.pending.values()) {
      this.o.clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    if (this.login && !keepLogin) {
      this.o.clearTimeout(this.login.timer);
      this.login.reject(e);
      this.login = undefined;
    }
  }

  private settleLogin(ok: boolean): void {
    const l = this.login;
    if (!l) return;
    this.login = undefined;
    this.o.clearTimeout(l.timer);
    l.resolve(ok);
  }

  private onLine(raw: string): void {
    const ev = parseLine(raw);
    switch (ev.type) {
      case "answer":
      case "thrown": {
        this.state = "open";
        const p = this.pending.get(ev.id);
        if (!p) return;
        this.pending.delete(ev.id);
        this.o.clearTimeout(p.timer);
        if (ev.type === "thrown") {
          p.reject(new ConsoleError(thrownText(ev.message), "thrown"));
          return;
        }
        try {
          p.resolve(JSON.parse(ev.json));
        } catch {
          p.reject(new ConsoleError("The router's answer to " + p.expr + " was cut or garbled; try again.", "garbled"));
        }
        return;
      }
      case "logged-in":
        this.state = "open";
        this.settleLogin(true);
        return;
      case "refused":
        // The prompt follows and keeps the state locked.
        this.settleLogin(false);
        return;
      default:
        if (ev.line.trim()) this.o.onText?.(ev.line);
    }
  }
}

function lockedError(): ConsoleError {
  return new ConsoleError("The router's console is locked: enter its console password.", "locked");
}

/** An exception on the router, said for a technician. */
function thrownText(message: string): string {
  if (/"R" is not defined/.test(message)) return "This board answers, but it does not run the sden-router firmware (there is no R on its console). Flash it first (npm run flash).";
  if (/is not a function/.test(message)) return "The router's firmware lacks this call (" + message + "). Update the firmware (npm run flash).";
  return "The router raised an error: " + message;
}

/** The console password of this session and the device it unlocked (never stored). */
export interface Remembered {
  password: string;
  /** The picked device's id (Web Bluetooth's device.id), undefined when the transport gives none. */
  device: string | undefined;
}

/**
 * The password to send by itself when the console asks again after a
 * reconnect: only to the device it unlocked. Another device picked in the
 * chooser (a neighbour's router, one in range by mistake), or one the page
 * cannot tell apart, gets nothing: the technician types its password.
 */
export function passwordFor(remembered: Remembered | undefined, device: string | undefined): string | undefined {
  return remembered && device !== undefined && remembered.device === device ? remembered.password : undefined;
}
