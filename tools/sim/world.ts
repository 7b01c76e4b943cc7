// A simulated world for the main job and the integration tests: an MQTT
// broker on loopback (the embedded aedes, or any broker given by port, such
// as Debian's mosquitto in the e2e suite), the reference energy server,
// and one simulated home: the router firmware on the simulated board, with
// the household's appliances behind its relays, PV, a battery and the S0
// meters. Virtual time runs the firmware, the household and the server;
// real sockets carry the protocol, and the pump lets them settle between
// steps (tools/sim/pump.ts).
//
// A scenario with an outage (tools/sim/scenario.ts) has it imposed here at
// its slots: "cloud", the broker and the energy server are gone (the
// broker stops, the server does no work); "islanded", the grid is down:
// the household can neither import nor export (tools/sim/household.ts),
// and the router is told at its console (R.island(true)), as an islanding
// inverter's signal would tell it. The router's connectivity state is
// read after every step (R.status().conn) and kept as spans for the charts.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import mqtt, { type MqttClient } from "mqtt";
import type { RouterConfig } from "../../firmware/config";
import { bootRouter, CONFIG_FILE, KEY_FILE, type RequestSpec, type Router } from "../../firmware/router";
import { SimBoard, type Firmware } from "../../hal/sim/board";
import { PowerCut, type SimFlash } from "../../hal/sim/flash";
import { EnergyServer, type ServerOptions } from "../server/server";
import { startBroker, type SimBroker } from "./broker";
import { Household } from "./household";
import { settleNow } from "./pump";
import { buildScenario, type ApplianceRequest, type Outage, type Scenario, type ScenarioName } from "./scenario";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** The configuration as the flasher writes it to a board: sden.cfg, its JSON. */
export function configBytes(config: unknown): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(config), "latin1"));
}

/** Writes config to a board's flash as the flasher does (sden.cfg). */
export function flashConfig(flash: Pick<SimFlash, "write">, config: unknown): void {
  flash.write(CONFIG_FILE, configBytes(config));
}

/** The board's configuration of the project (flash.config.json), as the flasher writes it (sden.cfg). */
export function projectConfig(): RouterConfig {
  return JSON.parse(readFileSync(join(root, "flash.config.json"), "utf8")) as RouterConfig;
}

export interface WorldOptions {
  scenario?: ScenarioName;
  seed?: number;
  /** A broker already running on 127.0.0.1 (e.g. mosquitto); default: an embedded aedes started here. */
  brokerPort?: number;
  /** The board's configuration; default flash.config.json with the broker's port. */
  config?: RouterConfig;
  /** The board's flash (e.g. one prepared by a test); default a fresh one. */
  flash?: SimFlash;
  /** Import allowed per slot, Wh, in the server's supply curve (default: the scenario's per slot). */
  importWh?: number;
  /** Impose the scenario's outage at its slots (default true); false leaves it to the caller. */
  outage?: boolean;
  /** Server options to override (lease, heartbeat, ...). */
  server?: Partial<ServerOptions>;
  /** Virtual ms per step of the pump. */
  stepMs?: number;
  /** Called before the board is powered on (e.g. to arm a power cut at a flash operation of the boot). */
  beforeStart?: (w: World) => void;
  /**
   * Firmware to boot instead of the sources' bootRouter: the device bundle
   * (bundleFirmware in test/support/espruino-standin.ts). It reads its
   * configuration from flash, so the world flashes it (CONFIG_FILE) with
   * the key, as the flasher does. The world then sees the router only from
   * outside (console, pins, broker, server): `router` stays undefined.
   */
  firmware?: Firmware;
}

/** A user's request as it was made at the console, and what the router said. */
export interface UserRequest {
  request: ApplianceRequest;
  atS: number;
  ok: boolean;
  id: number;
  error: string;
}

/** A stretch of time the router spent in one connectivity state, unix s. */
export interface ConnSpan {
  state: string;
  startS: number;
  endS: number;
}

export class World {
  readonly scenario: Scenario;
  readonly config: RouterConfig;
  readonly board: SimBoard;
  readonly household: Household;
  readonly server: EnergyServer;
  readonly key: Uint8Array;
  readonly userRequests: UserRequest[] = [];
  /** Steps after which the network did not settle in time. */
  unsettled = 0;
  /** Boots that found no key (or, for other `firmware`, no configuration) and had the board flashed again (the first one included). */
  reflashes = 0;
  /** The router booted from the sources (undefined when the world runs other `firmware`). */
  router: Router | undefined;
  /** The router's connectivity state over time, read after every step (none while it is off or has no agent). */
  readonly conn: ConnSpan[] = [];
  /** The outage the world is imposing now, if any, and every one imposed so far ([startS, endS), endS 0 while it lasts). */
  outageNow: Outage | null = null;
  readonly outages: { kind: Outage["kind"]; startS: number; endS: number }[] = [];
  private readonly imposeOutage: boolean;
  private batterySlot = -1;
  private readonly stepMs: number;
  private nextRequest = 0;
  private serverClient: MqttClient | undefined;
  private serverIo = 0;

  private constructor(
    readonly broker: SimBroker | undefined,
    readonly brokerPort: number,
    o: WorldOptions,
  ) {
    this.scenario = buildScenario(o.scenario ?? "sunny-summer", { seed: o.seed ?? 1 });
    const base = o.config ?? projectConfig();
    this.config = { ...base, broker: { host: "127.0.0.1", port: brokerPort, keepAliveS: base.broker?.keepAliveS ?? 60 } };
    // The import cap of a cloud outage is what the technician configures for the local server (importW).
    const o0 = this.scenario.outage;
    if (o0?.kind === "cloud" && this.config.importW === undefined) this.config.importW = o0.importCapW;
    this.stepMs = o.stepMs ?? 5000;
    this.key = new Uint8Array(createHash("sha256").update(`sden-sim-key-${this.scenario.seed}`).digest());
    this.board = new SimBoard({ flash: o.flash });
    this.household = new Household(this.board, this.config, this.scenario);
    const s = this.scenario;
    this.imposeOutage = o.outage ?? true;
    this.server = new EnergyServer(
      {
        routers: [{ gridId: this.config.gridId, routerId: this.config.routerId, key: this.key }],
        now: () => this.nowS(),
        slotMin: this.config.slotMin,
        packetWh: this.config.packetWh,
        heartbeatS: this.config.heartbeatS,
        supply: (slot) => {
          const k = slot - Math.floor(s.startS / s.slotS);
          const inDay = k >= 0 && k < s.slots;
          const importWh = o.importWh ?? (inDay ? s.importWh[k] : 700);
          return { pvWh: inDay ? s.pvWh[k] : 0, windWh: 0, importWh, baseloadWh: inDay ? s.baseloadWh[k] : 0 };
        },
        ...o.server,
      },
      {
        publish: (topic, payload, qos) => {
          this.serverIo++;
          this.serverClient?.publish(topic, Buffer.from(payload), { qos });
        },
      },
    );
  }

  /** Starts the broker (unless given), the server's MQTT client and the board. */
  static async create(o: WorldOptions = {}): Promise<World> {
    const broker = o.brokerPort === undefined ? await startBroker() : undefined;
    const w = new World(broker, broker ? broker.port : (o.brokerPort as number), o);
    await w.connectServer();
    o.beforeStart?.(w);
    const firmware = o.firmware;
    // What the flasher writes: the key and the configuration.
    const files: [string, Uint8Array][] = [
      [KEY_FILE, w.key],
      [CONFIG_FILE, configBytes(w.config)],
    ];
    w.board.start((hal) => {
      // A store wiped by a cut compaction has lost the key (on a real board
      // the firmware too): the technician flashes the board again, and the
      // router restores the rest from the server.
      const stale = files.filter(([name, bytes]) => {
        const b = hal.flash.read(name);
        return !b || !Buffer.from(b).equals(Buffer.from(bytes));
      });
      for (const [name, bytes] of stale) hal.flash.write(name, bytes);
      if (stale.length > 0) w.reflashes++;
      if (firmware) firmware(hal);
      else w.router = bootRouter(hal, { version: "0.2.0+sim" });
    });
    return w;
  }

  private connectServer(): Promise<void> {
    return new Promise((resolve, reject) => {
      const c = mqtt.connect({ host: "127.0.0.1", port: this.brokerPort, protocolVersion: 4, clientId: "sden-reference-server", clean: false, reconnectPeriod: 200 });
      this.serverClient = c;
      c.on("message", (topic, payload) => {
        this.serverIo++;
        this.server.receive(topic, new Uint8Array(payload));
      });
      c.on("packetsend", () => this.serverIo++);
      c.on("packetreceive", () => this.serverIo++);
      c.on("connect", () => {
        // Small frames go out at once: Nagle would hold a heartbeat for a delayed ACK.
        (c.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
        c.subscribe(["sden/v1/+/+/up", "sden/v1/+/+/status"], { qos: 1 }, (e) => (e ? reject(e) : resolve()));
      });
      c.once("error", reject);
    });
  }

  /** Unix s of the world. */
  nowS(): number {
    return this.scenario.startS + Math.floor(this.board.clock.worldMs() / 1000);
  }

  /** The router's console, as a technician or the household uses it. */
  get R(): { status(): ReturnType<Router["status"]>; request(spec: RequestSpec): { ok: boolean; id: number; error: string }; requests(): ReturnType<Router["listRequests"]> } {
    return this.board.globals.R as never;
  }

  /**
   * True when nothing is on its way: no QoS 1 message of the router
   * unacknowledged. Other firmware's link is out of reach: there only
   * activity() tells (the broker sees every packet of the router).
   */
  private quiet(): boolean {
    const link = this.router?.agent?.link;
    return !link || !link.isUp() || link.queued() === 0;
  }

  private activity(): number {
    const link = this.router?.agent?.link;
    return this.serverIo + (this.broker ? this.broker.activity() : 0) + (link ? link.counts[0] + link.counts[1] : 0);
  }

  /** Runs the world for ms of virtual time. */
  async run(ms: number, onStep?: (doneMs: number) => void): Promise<void> {
    const end = this.board.clock.worldMs() + ms;
    while (this.board.clock.worldMs() < end) {
      if (this.imposeOutage) await this.outageTurn();
      const before = this.activity();
      this.userTurn();
      this.batteryTurn();
      this.board.run(Math.min(this.stepMs, end - this.board.clock.worldMs()));
      // The cloud is gone: its server does no work either (its heartbeats would otherwise wait in its client's queue).
      if (this.outageNow?.kind !== "cloud") this.server.tick();
      this.noteConn();
      await new Promise((r) => setImmediate(r));
      if (this.activity() !== before || !this.quiet()) {
        if (!(await settleNow({ settle: () => this.quiet(), activity: () => this.activity(), quietMs: 3, maxWaitMs: 2000 }))) this.unsettled++;
      }
      onStep?.(ms - (end - this.board.clock.worldMs()));
    }
  }

  /**
   * Once a slot, the home battery's inverter tells the router its state
   * (R.battery: stored Wh, power W, reserve Wh), as an integration over its
   * local interface would; the local server plans with it.
   */
  private batteryTurn(): void {
    const b = this.household.battery;
    const slot = Math.floor(this.nowS() / this.scenario.slotS);
    if (!b || slot === this.batterySlot || !this.board.globals.R) return;
    this.batterySlot = slot;
    this.console("battery", Math.floor(b.socWh), Math.min(b.spec.maxChargeW, b.spec.maxDischargeW), b.spec.reserveWh);
  }

  /** The scenario's outage starts or ends when the world reaches its slots. */
  private async outageTurn(): Promise<void> {
    const o = this.scenario.outage;
    if (!o) return;
    const k = Math.floor((this.nowS() - this.scenario.startS) / this.scenario.slotS);
    const inside = k >= o.fromSlot && k < o.toSlot;
    if (inside === (this.outageNow !== null)) return;
    await this.setOutage(inside ? o : null);
  }

  /**
   * Imposes an outage now (null ends the one in force): "cloud" stops the
   * embedded broker and the server's work, "islanded" cuts the household
   * off the grid and tells the router at its console (R.island).
   */
  async setOutage(o: Outage | null): Promise<void> {
    const was = this.outageNow;
    if (was === o) return;
    if (was) {
      this.outageNow = null;
      this.outages[this.outages.length - 1].endS = this.nowS();
      if (was.kind === "cloud" && this.broker) await this.broker.restart();
      if (was.kind === "islanded") {
        this.household.islanded = false;
        this.console("island", false);
      }
    }
    if (!o) return;
    this.outageNow = o;
    this.outages.push({ kind: o.kind, startS: this.nowS(), endS: 0 });
    if (o.kind === "cloud") {
      if (!this.broker) throw new Error("a cloud outage needs the embedded broker (the world cannot stop another)");
      await this.broker.stop();
    } else {
      this.household.islanded = true;
      this.console("island", true);
    }
  }

  /** Calls R[name](...args) at the console when the router is up and has it; what it returned, or undefined. */
  console(name: string, ...args: unknown[]): unknown {
    const R = this.board.globals.R as Record<string, unknown> | undefined;
    const f = R?.[name];
    if (typeof f !== "function") return undefined;
    try {
      return (f as (...a: unknown[]) => unknown).apply(R, args);
    } catch (e) {
      if (e instanceof PowerCut) return undefined;
      throw e;
    }
  }

  /** Notes the router's connectivity state after a step: the span goes on, or a new one starts where it ended (a gap while the board is off). */
  private noteConn(): void {
    const agent = this.board.globals.R ? this.router?.agent : undefined;
    const st = agent ? (agent.summary() as { conn?: string }).conn : undefined;
    if (!st) return;
    const now = this.nowS();
    const last = this.conn[this.conn.length - 1];
    const joined = last !== undefined && last.endS >= now - 2 * Math.ceil(this.stepMs / 1000);
    if (joined && last.state === st) last.endS = now;
    else this.conn.push({ state: st, startS: joined ? last.endS : now, endS: now });
  }

  /** Seconds in each connectivity state, in the order first entered. */
  connSeconds(): [string, number][] {
    const out = new Map<string, number>();
    for (const c of this.conn) out.set(c.state, (out.get(c.state) ?? 0) + c.endS - c.startS);
    return [...out.entries()];
  }

  /** The household makes its requests at the console when their time comes (again later if the router had no time yet). */
  private userTurn(): void {
    const reqs = this.scenario.requests;
    const now = this.nowS();
    while (this.nextRequest < reqs.length && reqs[this.nextRequest].atS <= now) {
      const r = reqs[this.nextRequest];
      const R = this.board.globals.R as World["R"] | undefined;
      if (!R) return;
      let res: { ok: boolean; id: number; error: string };
      try {
        res = R.request(toSpec(r, now));
      } catch (e) {
        // Power went in the middle of the call: the household asks again later.
        if (e instanceof PowerCut) return;
        throw e;
      }
      // The board went off during the call (its console is gone): no answer was given.
      if (this.board.globals.R !== R) return;
      this.userRequests.push({ request: r, atS: now, ok: res.ok, id: res.id, error: res.error });
      if (!res.ok && /no time yet/.test(res.error)) {
        this.userRequests.pop();
        return;
      }
      this.nextRequest++;
    }
  }

  async close(): Promise<void> {
    if (this.outageNow?.kind === "cloud" && this.broker) this.outageNow = null;
    await this.board.powerCut(false);
    await new Promise<void>((r) => (this.serverClient ? this.serverClient.end(true, {}, () => r()) : r()));
    await this.server.close();
    if (this.broker) await this.broker.stop();
  }
}

/** A scenario's request in the console's units (minutes from now). */
export function toSpec(r: ApplianceRequest, nowS: number): RequestSpec {
  const startMin = Math.max(0, Math.ceil((r.earliestS - nowS) / 60));
  if (r.kind === "profile") return { client: r.appliance, startMin, endMin: Math.floor((r.endS - nowS) / 60), profileWh: r.profileWh };
  if (r.kind === "energy") return { client: r.appliance, startMin, endMin: Math.floor((r.deadlineS - nowS) / 60), wh: r.wh, maxW: r.maxW };
  return { client: r.appliance, startMin, endMin: Math.floor((r.endS - nowS) / 60), whPerWindow: r.whPerWindow, windowMin: Math.round(r.windowS / 60), maxW: r.maxW };
}
