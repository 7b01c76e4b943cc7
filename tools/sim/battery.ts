// A home battery (the "buffer" agent of design section 1): capacity, power
// limits, a round-trip efficiency, and a simple self-consumption policy.
// Energy flows are whole Wh per step on the AC side. The whole loss of the
// round trip is taken when charging (stored = charged * roundTripPct / 100),
// so a discharge takes out exactly what it delivers; the stored energy is
// kept in hundredths of a Wh, so that product stays exact and nothing is
// lost to rounding.

export interface BatterySpec {
  capacityWh: number;
  maxChargeW: number;
  maxDischargeW: number;
  /** AC to AC, e.g. 90. */
  roundTripPct: number;
  /** Stored energy at the start. */
  socWh: number;
  /** Kept in reserve: never discharged below. */
  reserveWh: number;
}

/** One step of the self-consumption policy, all whole Wh on the AC side. */
export interface BatteryStep {
  chargeWh: number;
  dischargeWh: number;
  /** What the grid gives (> 0: import) or takes (< 0: export) after the battery. */
  gridWh: number;
}

export interface BatteryCounters {
  /** Taken in from the AC side. */
  chargedWh: number;
  /** Given out to the AC side. */
  dischargedWh: number;
  /** Steps in which charging was cut by the power limit or a full battery. */
  limitedChargeSteps: number;
  /** Steps in which discharging was cut by the power limit or the reserve. */
  limitedDischargeSteps: number;
}

export class HomeBattery {
  readonly counters: BatteryCounters = { chargedWh: 0, dischargedWh: 0, limitedChargeSteps: 0, limitedDischargeSteps: 0 };
  /** Stored energy in Wh/100. */
  private stored: number;

  constructor(readonly spec: BatterySpec) {
    const { capacityWh, maxChargeW, maxDischargeW, roundTripPct, socWh, reserveWh } = spec;
    for (const [k, v] of Object.entries(spec)) if (!Number.isInteger(v) || v < 0) throw new RangeError(`battery: ${k} must be a whole number >= 0, not ${v}`);
    if (capacityWh <= 0 || maxChargeW <= 0 || maxDischargeW <= 0) throw new RangeError("battery: capacity and power limits must be above 0");
    if (roundTripPct < 1 || roundTripPct > 100) throw new RangeError("battery: roundTripPct must be 1..100");
    if (socWh > capacityWh || reserveWh > capacityWh) throw new RangeError("battery: socWh and reserveWh must be at most capacityWh");
    this.stored = socWh * 100;
  }

  /** Stored energy, Wh (may have a fraction from the charging loss). */
  get socWh(): number {
    return this.stored / 100;
  }

  get socPct(): number {
    return Math.floor(this.stored / this.spec.capacityWh);
  }

  /** Energy lost so far: what went in minus what came out and what is stored more than at the start. */
  get lossWh(): number {
    return this.counters.chargedWh - this.counters.dischargedWh - (this.socWh - this.spec.socWh);
  }

  /** Takes up to offerWh in dtS seconds; returns the whole Wh taken. */
  charge(offerWh: number, dtS: number): number {
    const limitWh = Math.floor((this.spec.maxChargeW * dtS) / 3600);
    const roomWh = Math.floor((this.spec.capacityWh * 100 - this.stored) / this.spec.roundTripPct);
    const want = Math.max(0, Math.floor(offerWh));
    const wh = Math.min(want, limitWh, roomWh);
    if (wh < want) this.counters.limitedChargeSteps++;
    this.stored += wh * this.spec.roundTripPct;
    this.counters.chargedWh += wh;
    return wh;
  }

  /** Gives up to needWh in dtS seconds; returns the whole Wh given. */
  discharge(needWh: number, dtS: number): number {
    const limitWh = Math.floor((this.spec.maxDischargeW * dtS) / 3600);
    const availableWh = Math.max(0, Math.floor((this.stored - this.spec.reserveWh * 100) / 100));
    const want = Math.max(0, Math.floor(needWh));
    const wh = Math.min(want, limitWh, availableWh);
    if (wh < want) this.counters.limitedDischargeSteps++;
    this.stored -= wh * 100;
    this.counters.dischargedWh += wh;
    return wh;
  }

  /**
   * Self-consumption: netWh is the household's load minus PV over the step
   * (whole Wh). A surplus charges the battery, a deficit is covered from it;
   * the rest goes to or comes from the grid.
   */
  selfConsume(netWh: number, dtS: number): BatteryStep {
    if (!Number.isInteger(netWh)) throw new RangeError(`battery: netWh must be whole Wh, not ${netWh}`);
    if (netWh < 0) {
      const chargeWh = this.charge(-netWh, dtS);
      return { chargeWh, dischargeWh: 0, gridWh: netWh + chargeWh };
    }
    const dischargeWh = this.discharge(netWh, dtS);
    return { chargeWh: 0, dischargeWh, gridWh: netWh - dischargeWh };
  }
}
