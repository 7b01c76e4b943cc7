// The same simulated day as test/integration/day.test.ts, over Debian's
// mosquitto (apt-get install -y mosquitto) instead of the embedded aedes:
// the test starts it on a free loopback port with a configuration of its
// own and stops it afterwards.

import { afterAll, beforeAll, describe } from "vitest";
import { World } from "../../tools/sim/world";
import { checkDay } from "../integration/day-checks";
import { startMosquitto, type Mosquitto } from "../support/mosquitto";

describe("a simulated day over mosquitto", () => {
  let m: Mosquitto;
  let w: World;
  beforeAll(async () => {
    m = await startMosquitto();
    w = await World.create({ scenario: "sunny-summer", seed: 1, brokerPort: m.port });
    await w.run(24 * 3_600_000);
  }, 600_000);
  afterAll(async () => {
    await w?.close();
    await m?.close();
  });

  checkDay(() => w);
});
