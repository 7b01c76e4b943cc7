// A flash's plan for a small stand-in bundle, without a build: for
// test/tools/flash-steps.test.ts and the flasher it runs in a process of its own.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { boardPart, boardFileFor, type FlashConfig } from "../../tools/flash/config";
import type { Prepared } from "../../tools/flash/main";
import { planUpload } from "../../tools/flash/upload";

const root = new URL("../../", import.meta.url).pathname;
const shipped = JSON.parse(readFileSync(join(root, "flash.config.json"), "utf8"));
const KEY = Buffer.from("5ec2e7000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c", "hex");

/** The secrets of the plan, as the bytes that go to the board. */
export const SECRETS = { key: KEY.toString("latin1"), wifi: "wifi-Secret-42", broker: "broker-Secret-43", console: "console-Secret-44" };

/** A plan as prepare() makes it, for the shipped config and a small bundle. */
export function planned(): Prepared {
  const config: FlashConfig = { board: boardPart(shipped), flash: shipped.flash };
  const bundle = "print('router');\n".repeat(40);
  const steps = planUpload({
    bundle,
    chunkBytes: 8192,
    mask: false,
    files: { config: config.board, routerKey: KEY, net: { ssid: "home-net", wifiPassword: SECRETS.wifi, brokerUser: "home-1", brokerPassword: SECRETS.broker }, consolePassword: SECRETS.console },
  });
  return { config, bundle, version: "test", steps, target: { port: "/dev/ttyUSB0", boardFile: boardFileFor("ESP32") } };
}
