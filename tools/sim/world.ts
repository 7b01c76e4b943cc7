// A simulated world for the main job and the integration tests: an MQTT
// broker on loopback (the embedded aedes, or any broker given by port, such
// as Debian's mosquitto in the e2e suite), the reference energy server,
// and one simulated home: the router firmware on the simulated board, with
// the household's appliances behind its relays, PV, a battery and the S0
// meters. Virtual time runs the firmware, the household and the server;
// real sockets carry the protocol, and the pump lets them settle between
// steps (tools/sim/pump.ts).

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
import { buildScenario, type ApplianceRequest, type Scenario, type ScenarioName } from "./scenario";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** The board's configuration of the project (flash.config.json), as the build bakes it in. */
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
  /** Import allowed per slot, Wh, in the server's supply curve. */
  importWh?: number;
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
    this.stepMs = o.stepMs ?? 5000;
    this.key = new Uint8Array(createHash("sha256").update(`sden-sim-key-${this.scenario.seed}`).digest());
    this.board = new SimBoard({ flash: o.flash });
    this.household = new Household(this.board, this.config, this.scenario);
    const s = this.scenario;
    const importWh = o.importWh ?? 700;
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
    // What the flasher writes: the key, and for other firmware the configuration (the sources get it as their defaults).
    const files: [string, Uint8Array][] = [[KEY_FILE, w.key]];
    if (firmware) files.push([CONFIG_FILE, new Uint8Array(Buffer.from(JSON.stringify(w.config)))]);
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
      else w.router = bootRouter(hal, { version: "0.2.0+sim", defaults: w.config });
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
      const before = this.activity();
      this.userTurn();
      this.board.run(Math.min(this.stepMs, end - this.board.clock.worldMs()));
      this.server.tick();
      await new Promise((r) => setImmediate(r));
      if (this.activity() !== before || !this.quiet()) {
        if (!(await settleNow({ settle: () => this.quiet(), activity: () => this.activity(), quietMs: 3, maxWaitMs: 2000 }))) this.unsettled++;
      }
      onStep?.(ms - (end - this.board.clock.worldMs()));
    }
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
