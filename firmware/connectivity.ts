// The connectivity states (design section 3), written against the field
// failures of EEBus LPC's open implementations (shared/quality.md): each
// row below has a test in test/firmware/connectivity.test.ts.
//
//   state     | leaves for | when
//   ----------+------------+--------------------------------------------------
//   boot      | online     | a valid heartbeat, then a schedule accepted after it
//             | failsafe   | no valid heartbeat for failsafeMissed periods since boot
//   online    | failsafe   | no valid heartbeat for failsafeMissed periods
//   failsafe  | online     | as from boot
//             | local      | localAfterS spent in failsafe
//   local     | online     | as from boot (never while localOnly is on)
//   any       | local      | localOnly switched on
//
// "A schedule accepted after the heartbeat that ended the outage": the
// heartbeat arms the way back, a schedule then takes it. A heartbeat alone
// never does (EEBus: leave failsafe on heartbeat and a new limit); a lost
// connection or a heartbeat gone stale disarms it. Nothing here switches
// a relay: what each state runs is the agent's (firmware/agent.ts), and the
// slow ways in and out of failsafe and local keep a flapping connection
// from flapping the plan that drives the relays.
//
// Times are seconds of the board's own clock, never the server's: the
// server's time is what a heartbeat brings, and the failsafe must not hang
// on it. A clock that goes back restarts the running periods from now.

export const CS_BOOT = 0;
export const CS_ONLINE = 1;
export const CS_FAILSAFE = 2;
export const CS_LOCAL = 3;

// Why the last transition happened.
export const CW_BOOT = 0;
export const CW_BACK = 1;
export const CW_MISSED = 2;
export const CW_LOCAL_AFTER = 3;
export const CW_LOCAL_ONLY = 4;

/** The name of state i (CS_*), or with why set of reason i (CW_*): made when asked, so the names take no memory between. */
export function connName(i: number, why?: boolean): string {
  return (why ? "power on,heartbeat+schedule,heartbeats missed,localAfterS,localOnly" : "boot,online,failsafe,local").split(",")[i];
}

export class Connectivity {
  /** The state (CS_*), why it was entered (CW_*) and when (board s). */
  st: number;
  why: number;
  sinceS: number;
  /** Transitions so far: the agent notices a change by it. */
  n: number;
  /** Board s of the last valid heartbeat (of boot, before one came). */
  private hbS: number;
  /** A heartbeat came since the outage began (or since localOnly went off), and is not stale: a schedule now ends the outage. */
  private declare armed: boolean;
  /** Local server whatever the cloud does (R.local(), localOnly): the agent reports nothing back then. */
  declare only: boolean;
  /** No heartbeat for this long is an outage; this long in failsafe turns local. */
  private readonly missS: number;
  private readonly localS: number;

  /** At boot (nowS: board s). missS = heartbeatS x failsafeMissed. */
  constructor(missS: number, localAfterS: number, localOnly: boolean, nowS: number) {
    this.missS = missS;
    this.localS = localAfterS;
    this.st = CS_BOOT;
    this.why = CW_BOOT;
    this.n = 0;
    this.sinceS = this.hbS = nowS;
    // armed starts undefined (falsy); setLocal sets only.
    this.setLocal(localOnly, nowS);
  }

  /**
   * A valid heartbeat (authentic, fresh). True when it ends an outage: the
   * router should then make the server send a fresh schedule (a HELLO).
   */
  heartbeat(nowS: number): boolean {
    this.tick(nowS);
    const ends = this.st !== CS_ONLINE && !this.armed && !this.only;
    this.hbS = nowS;
    this.armed = true;
    return ends;
  }

  /** A schedule was accepted (journaled): after a heartbeat that ended the outage, the router is online. */
  schedule(nowS: number): void {
    this.tick(nowS);
    if (this.armed && !this.only && this.st !== CS_ONLINE) this.go(CS_ONLINE, CW_BACK, nowS);
  }

  /** The connection to the broker is gone: a heartbeat from before it does not count towards the way back. */
  linkDown(): void {
    this.armed = false;
  }

  /** Act as local server whatever the cloud does (on), or again only when it is gone (off: back online as from failsafe). */
  setLocal(on: boolean, nowS: number): void {
    this.only = on;
    if (!on) this.armed = false;
    this.tick(nowS);
  }

  /** Every second: the periods run out. */
  tick(nowS: number): void {
    if (nowS < this.hbS) this.hbS = nowS;
    if (nowS < this.sinceS) this.sinceS = nowS;
    if (nowS - this.hbS > this.missS) {
      this.armed = false;
      if (this.st < CS_FAILSAFE) this.go(CS_FAILSAFE, CW_MISSED, nowS);
    }
    const st = this.st;
    if (this.only ? st !== CS_LOCAL : st === CS_FAILSAFE && nowS - this.sinceS >= this.localS) this.go(CS_LOCAL, this.only ? CW_LOCAL_ONLY : CW_LOCAL_AFTER, nowS);
  }

  /** [state, why, seconds in it] (telemetry's last item). */
  report(nowS: number): number[] {
    return [this.st, this.why, Math.floor(nowS - this.sinceS)];
  }

  private go(st: number, why: number, nowS: number): void {
    this.st = st;
    this.why = why;
    this.sinceS = nowS;
    this.n++;
  }
}
