// The simulated household around the board for the main job: every second,
// each appliance draws what its model says with its relay as the firmware
// left the pin, the baseload and the PV run their day profiles, the battery
// does self-consumption, and the S0 meters see the result as real pulses
// (a sub-meter per appliance that has one, the grid import and export, the
// PV). It keeps the truth per slot, to chart and to compare with what the
// router metered and acknowledged.

import type { RouterConfig } from "../../firmware/config";
import type { SimBoard } from "../../hal/sim/board";
import type { Appliance } from "./appliances";
import type { HomeBattery } from "./battery";
import { buildHousehold, type Scenario } from "./scenario";

/** What happened in one slot, in Wh. */
export interface SlotTruth {
  baseloadWh: number;
  pvWh: number;
  importWh: number;
  exportWh: number;
  chargeWh: number;
  dischargeWh: number;
  /** Per appliance, in config client order. */
  applianceWh: number[];
  /** Per appliance: seconds its relay was closed. */
  onS: number[];
  /** While islanded: load that neither PV nor the battery could serve (the house would black out), and PV that could go nowhere. */
  unservedWh: number;
  curtailedWh: number;
}

export class Household {
  readonly appliances: Appliance[];
  readonly battery: HomeBattery | null;
  /** Per slot of the day. */
  readonly slots: SlotTruth[] = [];
  /** Energy each meter input really saw, Wh (fractions below one pulse included). */
  readonly meterWh: number[];
  /** Peak import over any minute, W. */
  peakImportW = 0;
  /** The grid is down (set by the world): nothing is imported or exported, PV and the battery only. */
  islanded = false;
  private readonly pending: number[];
  private readonly relayPins: string[];
  private readonly subMeter: number[];
  /** Household net consumption (load - PV) not yet settled with the battery and the grid, Wh. */
  private minuteNetWh = 0;

  constructor(
    private readonly board: SimBoard,
    private readonly config: RouterConfig,
    private readonly scenario: Scenario,
  ) {
    const h = buildHousehold(scenario);
    const clients = config.clients ?? [];
    // Appliances in the order of the router's clients, matched by name.
    this.appliances = clients.map((c) => {
      const a = h.appliances.find((x) => x.name === c.name);
      if (!a) throw new Error(`the scenario has no appliance named ${c.name} for client ${c.name}`);
      return a;
    });
    this.battery = h.battery;
    this.relayPins = clients.map((c) => config.relays[c.relay].pin);
    this.subMeter = clients.map((c) => c.meter);
    this.meterWh = config.meters.map(() => 0);
    this.pending = config.meters.map(() => 0);
    for (let s = 0; s < scenario.slots; s++) {
      this.slots.push({ baseloadWh: 0, pvWh: 0, importWh: 0, exportWh: 0, chargeWh: 0, dischargeWh: 0, applianceWh: clients.map(() => 0), onS: clients.map(() => 0), unservedWh: 0, curtailedWh: 0 });
    }
    board.clock.worldClock().setInterval(() => this.second(), 1000);
  }

  /** Unix s of the world now. */
  nowS(): number {
    return this.scenario.startS + Math.floor(this.board.clock.worldMs() / 1000);
  }

  private second(): void {
    const t = this.nowS() - 1;
    const slot = Math.floor((t - this.scenario.startS) / this.scenario.slotS);
    if (slot < 0 || slot >= this.scenario.slots) return;
    const truth = this.slots[slot];
    const base = this.scenario.baseloadWh[slot] / this.scenario.slotS;
    const pv = this.scenario.pvWh[slot] / this.scenario.slotS;
    let load = base;
    const meterWh = this.config.meters.map(() => 0);
    for (let i = 0; i < this.appliances.length; i++) {
      const on = this.board.pins.level(this.relayPins[i]) === 1;
      const wh = this.appliances[i].advance(1, on);
      load += wh;
      truth.applianceWh[i] += wh;
      if (on) truth.onS[i]++;
      if (this.subMeter[i] >= 0) meterWh[this.subMeter[i]] += wh;
    }
    truth.baseloadWh += base;
    truth.pvWh += pv;
    this.config.meters.forEach((m, i) => {
      if (m.role === "pv") meterWh[i] += pv;
    });
    this.minuteNetWh += load - pv;
    // The battery and the grid meters settle once a minute, in whole Wh.
    if ((t + 1) % 60 === 0) {
      const net = Math.round(this.minuteNetWh);
      this.minuteNetWh -= net;
      const step = this.battery ? this.battery.selfConsume(net, 60) : { chargeWh: 0, dischargeWh: 0, gridWh: net };
      truth.chargeWh += step.chargeWh;
      truth.dischargeWh += step.dischargeWh;
      let imp = Math.max(0, step.gridWh);
      let exp = Math.max(0, -step.gridWh);
      if (this.islanded) {
        truth.unservedWh += imp;
        truth.curtailedWh += exp;
        imp = exp = 0;
      }
      truth.importWh += imp;
      truth.exportWh += exp;
      this.peakImportW = Math.max(this.peakImportW, imp * 60);
      this.config.meters.forEach((m, i) => {
        if (m.role === "import") meterWh[i] += imp;
        else if (m.role === "export") meterWh[i] += exp;
      });
    }
    this.emit(meterWh);
  }

  /** Each meter emits the pulses its energy made this second, spaced out. */
  private emit(wh: number[]): void {
    const world = this.board.clock.worldClock();
    this.config.meters.forEach((m, i) => {
      this.pending[i] += wh[i] * (m.pulsesPerKwh / 1000);
      let k = 0;
      while (this.pending[i] >= 1) {
        this.pending[i] -= 1;
        this.meterWh[i] += 1000 / m.pulsesPerKwh;
        world.setTimeout(() => this.board.pins.pulse(m.pin, 50), 1 + k++ * 100);
      }
    });
  }
}
