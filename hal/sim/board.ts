// A simulated board for Node: the HAL over virtual pins, a virtual clock, a
// flash that fails like Espruino Storage, sockets over node:net, a watchdog
// and a console a test can read. It runs firmware like a device does: at
// power-on, again after a power cut, a watchdog reset or a restart.

import { createHash } from "node:crypto";
import * as net from "node:net";
import type { Hal, Socket, SocketOptions } from "../types";
import { VirtualClock } from "./clock";
import { crc32 } from "./crc32";
import { PowerCut, SimFlash } from "./flash";
import { VirtualPins } from "./pins";

export interface SimBoardOptions {
  clock?: VirtualClock;
  flash?: SimFlash;
  /** The pins the board has; opening another throws "Invalid pin" as Espruino does. Default: any. */
  pins?: string[];
}

/** Why the board booted. */
export type BootReason = "power-on" | "power-cut" | "watchdog" | "restart";

/** Firmware as the board runs it: started with a fresh HAL at every boot. */
export type Firmware = (hal: Hal) => void;

export class SimBoard {
  readonly clock: VirtualClock;
  readonly pins: VirtualPins;
  readonly flash: SimFlash;
  /** Every line the firmware printed, across boots. */
  readonly lines: string[] = [];
  /** What the firmware exposed on its console (e.g. R), for this boot. */
  globals: { [name: string]: unknown } = {};
  /** Exceptions that escaped the firmware's callbacks (printed, as Espruino does; a test asserts there are none). */
  readonly uncaught: unknown[] = [];
  /** Every boot with its reason and world time. */
  readonly boots: { reason: BootReason; atMs: number }[] = [];
  /** The console password in effect ("" when none). */
  password = "";
  private firmware: Firmware | undefined;
  /** Counts power-offs: what a boot opened is dead after it. */
  private bootGen = 0;
  /** A flash cut powered the board off; it boots again at the next chance. */
  private cutPending = false;
  private watchdogS = 0;
  private lastKickMs = 0;
  private sockets = new Set<net.Socket>();
  private current: Hal | undefined;
  private on = false;
  private readonly validPins: string[] | undefined;

  constructor(options: SimBoardOptions = {}) {
    this.validPins = options.pins;
    this.clock = options.clock ?? new VirtualClock();
    this.pins = new VirtualPins(this.clock);
    this.flash = options.flash ?? new SimFlash();
    // A cut at a flash operation stops the board there and then, whatever
    // the firmware does with the PowerCut it sees (it may catch it): its
    // timers and sockets are gone, and it boots again when run() resumes.
    this.flash.onPowerFail = () => {
      if (!this.on) return;
      this.powerOff();
      this.cutPending = true;
    };
    // The watchdog is hardware: it keeps counting whatever the firmware does.
    this.clock.worldClock().setInterval(() => this.checkWatchdog(), 1000);
  }

  /** Powers the board on with this firmware. */
  start(firmware: Firmware): void {
    this.firmware = firmware;
    this.boot("power-on");
  }

  /** The HAL of the running boot. */
  hal(): Hal {
    if (!this.current) throw new Error("the board is off");
    return this.current;
  }

  /** Power is cut now; the board boots again at once (or stays off). */
  powerCut(bootAgain = true): void {
    this.powerOff();
    if (bootAgain) this.boot("power-cut");
  }

  /**
   * Advances time by ms. A power cut raised by the flash (SimFlash.cutAt)
   * stops the board where it was and boots it again, and time runs on.
   */
  run(ms: number): void {
    const end = this.clock.worldMs() + ms;
    for (;;) {
      try {
        this.clock.advance(end - this.clock.worldMs());
      } catch (e) {
        if (e instanceof PowerCut) {
          if (!this.cutPending) this.powerCut();
        } else {
          // As Espruino does: an exception out of a callback is printed and the board runs on.
          this.uncaught.push(e);
          this.lines.push("Uncaught " + String(e));
        }
      }
      if (this.cutPending) this.boot("power-cut");
      if (this.clock.worldMs() >= end) return;
    }
  }

  /** Runs a console call as a technician would, with the board's global names. */
  call<T>(fn: (globals: { [name: string]: unknown }) => T): T {
    return fn(this.globals);
  }

  private powerOff(): void {
    this.on = false;
    this.bootGen++;
    this.current = undefined;
    this.watchdogS = 0;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.pins.powerCycle();
    this.clock.powerCycle();
    this.globals = {};
  }

  private boot(reason: BootReason): void {
    for (;;) {
      this.cutPending = false;
      // Always: a firmware cut off in the middle of a call may have gone on
      // to the end of it, setting timers or opening sockets; none survive.
      this.powerOff();
      this.flash.powerCycle();
      this.on = true;
      this.boots.push({ reason, atMs: this.clock.worldMs() });
      this.current = this.makeHal();
      try {
        if (this.firmware) this.firmware(this.current);
      } catch (e) {
        if (!(e instanceof PowerCut)) throw e;
        if (!this.cutPending) this.powerOff();
        this.cutPending = true;
      }
      // Power failed during the boot: it comes back and boots again.
      if (!this.cutPending) return;
      reason = "power-cut";
    }
  }

  private checkWatchdog(): void {
    if (!this.on || this.watchdogS === 0) return;
    if (this.clock.worldMs() - this.lastKickMs > this.watchdogS * 1000) this.boot("watchdog");
  }

  private connect(options: SocketOptions): Socket {
    const sock = net.createConnection({ host: options.host, port: options.port });
    // Small frames go out at once (Nagle would hold them ~40 ms on loopback).
    sock.setNoDelay(true);
    this.sockets.add(sock);
    // Callbacks belong to the boot that opened the socket: after a power cut
    // (the socket destroyed, its close event still to come) none fires.
    const boot = this.bootGen;
    let open = true;
    const live = () => open && boot === this.bootGen;
    const closeOnce = () => {
      if (!live()) return;
      open = false;
      this.sockets.delete(sock);
      options.onClose();
    };
    sock.on("connect", () => live() && options.onConnect());
    sock.on("data", (d: Buffer) => live() && options.onData(new Uint8Array(d)));
    sock.on("error", (e) => live() && options.onError?.(e.message));
    sock.on("close", closeOnce);
    return {
      write: (data) => {
        if (live()) sock.write(data);
      },
      close: () => {
        open = false;
        this.sockets.delete(sock);
        sock.end();
      },
    };
  }

  private checkPin<T extends { pin: string }>(o: T): T {
    if (this.validPins && !this.validPins.includes(o.pin)) throw new Error("Invalid pin");
    return o;
  }

  private makeHal(): Hal {
    return {
      clock: this.clock.boardClock(),
      flash: this.flash,
      watchdog: {
        enable: (timeoutS) => {
          this.watchdogS = timeoutS;
          this.lastKickMs = this.clock.worldMs();
        },
        kick: () => {
          this.lastKickMs = this.clock.worldMs();
        },
      },
      console: {
        print: (line) => {
          this.lines.push(line);
        },
        expose: (name, api) => {
          this.globals[name] = api;
        },
        setPassword: (password) => {
          this.password = password;
        },
      },
      system: {
        memory: () => {
          const m = process.memoryUsage();
          return { free: Math.round((m.heapTotal - m.heapUsed) / 1024), used: Math.round(m.heapUsed / 1024), total: Math.round(m.heapTotal / 1024) };
        },
        crc32,
        sha256: (data) => new Uint8Array(createHash("sha256").update(data).digest()),
        restart: () => {
          // After the current call returns, as a reboot would.
          this.clock.worldClock().setTimeout(() => this.boot("restart"), 0);
        },
      },
      digitalOut: (o) => this.pins.digitalOut(this.checkPin(o)),
      edgeInput: (o) => this.pins.edgeInput(this.checkPin(o)),
      connect: (o) => this.connect(o),
    };
  }
}
