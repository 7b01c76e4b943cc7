// The simulated home around the board: household load and PV production
// drive the S0 meter inputs with real pulses (50 ms wide), and now and then
// a short spike that a meter must count as noise. It keeps the true energy
// per meter, to compare with what the router counted.

import type { MeterConfig } from "../../firmware/config";
import type { SimBoard } from "../../hal/sim/board";
import { baseload, pv, type DayProfile, type Season } from "./profiles";

export interface HomeOptions {
  dayOfYear: number;
  annualKwh: number;
  kWp: number;
  random: () => number;
  /** Chance per second of a 10 ms noise spike on the first meter. */
  spikeChance?: number;
}

export function seasonOf(dayOfYear: number): Season {
  if (dayOfYear < 80 || dayOfYear > 300) return "winter";
  return dayOfYear > 135 && dayOfYear < 258 ? "summer" : "transition";
}

export class SimulatedHome {
  readonly load: DayProfile;
  readonly solar: DayProfile;
  readonly season: Season;
  /** Energy each meter really saw, in Wh (fractions for < 1000 imp/kWh). */
  readonly trueWh: number[];
  spikes = 0;
  private readonly pending: number[];

  constructor(
    private readonly board: SimBoard,
    private readonly meters: MeterConfig[],
    private readonly options: HomeOptions,
  ) {
    this.season = seasonOf(options.dayOfYear);
    this.load = baseload(this.season, "workday", options.annualKwh);
    this.solar = pv(options.dayOfYear, options.kWp);
    this.trueWh = meters.map(() => 0);
    this.pending = meters.map(() => 0);
    board.clock.worldClock().setInterval(() => this.second(), 1000);
  }

  /** Power in W that a meter of this role sees at world time tMs. */
  powerW(role: string, tMs: number): number {
    const q = Math.floor(tMs / 900_000) % 96;
    const net = this.load.watts[q] - this.solar.watts[q];
    if (role === "import") return Math.max(0, net);
    if (role === "export") return Math.max(0, -net);
    if (role === "pv") return this.solar.watts[q];
    return 0;
  }

  /** Each second, every meter emits the pulses its power made, spaced out. */
  private second(): void {
    const world = this.board.clock.worldClock();
    const t = this.board.clock.worldMs();
    this.meters.forEach((m, i) => {
      this.pending[i] += (this.powerW(m.role, t) / 3600) * (m.pulsesPerKwh / 1000);
      let k = 0;
      while (this.pending[i] >= 1) {
        this.pending[i] -= 1;
        this.trueWh[i] += 1000 / m.pulsesPerKwh;
        world.setTimeout(() => this.board.pins.pulse(m.pin, 50), 1 + k++ * 120);
      }
    });
    if (this.meters.length > 0 && this.options.random() < (this.options.spikeChance ?? 0.002)) {
      this.spikes++;
      world.setTimeout(() => this.board.pins.pulse(this.meters[0].pin, 10), 700);
    }
  }
}
