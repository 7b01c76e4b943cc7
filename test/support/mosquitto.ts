// Debian's mosquitto for the e2e suite: started by the test itself on a free
// loopback port with a config of its own (no system service, no
// persistence), and stopped by it. `apt-get install -y mosquitto` provides
// /usr/sbin/mosquitto (.ci/run installs it).

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const MOSQUITTO = process.env.MOSQUITTO ?? "/usr/sbin/mosquitto";

export interface Mosquitto {
  port: number;
  /** Everything it logged. */
  log(): string;
  /** The broker disappears (SIGTERM); start() brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and removes its config. */
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port });
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

/** Starts mosquitto on 127.0.0.1 and a free port; throws when it is not installed or does not listen within 10 s. */
export async function startMosquitto(): Promise<Mosquitto> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} not found: install Debian's mosquitto (apt-get install -y mosquitto) or set MOSQUITTO`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sden-mosquitto-"));
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", "set_tcp_nodelay true", "log_dest stdout", "log_type error", "log_type warning", "log_type notice", ""].join("\n"));
  let child: ChildProcess | undefined;
  let out = "";
  const start = async () => {
    child = spawn(MOSQUITTO, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
    const until = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (Date.now() > until || child.exitCode !== null) throw new Error(`mosquitto did not listen on ${port}:\n${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGTERM");
      setTimeout(() => c.kill("SIGKILL"), 3000).unref();
    });
  };
  await start();
  return {
    port,
    log: () => out,
    start,
    stop,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
