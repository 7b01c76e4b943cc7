// npm run flash's step files (tools/flash/main.ts): a step that carries a
// secret (the files step: router key, WiFi and broker passwords; the
// password step) is never left on disk, whether the step fails, the
// flasher crashes or the technician presses Ctrl-C, and neither is what
// the CLI printed for it (Espruino's error lines quote the code).

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { blankSecrets, flash, FlashError, type Runner } from "../../tools/flash/main";
import { secretsIn } from "../../tools/flash/upload";
import { planned, SECRETS } from "./flash-plan";

const root = new URL("../../", import.meta.url).pathname;

/** The step file the CLI was given (its last argument). */
const stepFile = (args: string[]) => args[args.length - 1];

/** A board that answers the first step, then runs `files` as the test says. */
function runner(files: (file: string) => ReturnType<Runner>): Runner {
  return async (args) => {
    const f = stepFile(args);
    if (f.endsWith("-check.js")) return { out: 'SDEN:check:{"version":"2v29","board":"ESP32","free":200000}\n', code: 0, timedOut: false };
    if (f.endsWith("-files.js")) return files(f);
    return { out: "", code: 0, timedOut: false };
  };
}

describe("step files that carry secrets", () => {
  it("are on disk only while the CLI runs them, and gone when the flasher stops on an error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sden-steps-"));
    let during: string[] = [];
    const run = runner(async (f) => {
      during = secretsIn(readFileSync(f, "latin1"), SECRETS);
      throw new Error("the CLI crashed");
    });
    await expect(flash(planned(), { chunkBytes: 8192, timeoutS: 5, log: () => undefined, stepsDir: dir, run })).rejects.toThrow("the CLI crashed");
    // The file the CLI got held the secrets (so the check below means something).
    expect(during).toEqual(["key", "wifi", "broker"]);
    expect(readdirSync(dir).sort()).toEqual(["01-check.js", "01-check.out"]);
  });

  it("keep no copy of what the board printed, and the error quotes none of the data", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sden-steps-"));
    // The board echoing a line and stopping (no marker): the network file's base64, secrets inside.
    const run = runner(async (f) => {
      const line = readFileSync(f, "latin1").split("\n").find((l) => l.includes("sden.net"))!;
      return { out: `>${line}\n>\n`, code: 0, timedOut: false };
    });
    const err = await flash(planned(), { chunkBytes: 8192, timeoutS: 5, log: () => undefined, stepsDir: dir, run }).catch((e) => e);
    expect(err).toBeInstanceOf(FlashError);
    expect((err as FlashError).problem).toContain('atob("…")');
    expect(secretsIn((err as Error).message, SECRETS)).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.includes("files"))).toEqual([]);
  });

  it("left by a flash that was killed outright are removed by the next one before it starts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sden-steps-"));
    for (const f of ["02-files.js", "02-files.out", "15-password.js", "03-bundle.out"]) writeFileSync(join(dir, f), 'atob("c2VjcmV0")');
    const run: Runner = async () => ({ out: "", code: 0, timedOut: true });
    await flash(planned(), { chunkBytes: 8192, timeoutS: 5, log: () => undefined, stepsDir: dir, run }).catch(() => undefined);
    expect(readdirSync(dir).sort()).toEqual(["01-check.js", "01-check.out", "03-bundle.out"]);
  });

  it("are removed when the technician presses Ctrl-C in the middle of the files step", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sden-steps-"));
    // The flasher in a process of its own, its CLI for the files step never answering.
    const script = `
      import { flash } from ${JSON.stringify(join(root, "tools/flash/main.ts"))};
      import { planned } from ${JSON.stringify(join(root, "test/tools/flash-plan.ts"))};
      const run = async (args) => args.at(-1).endsWith("-check.js") ? { out: 'SDEN:check:{"version":"2v29","board":"ESP32","free":1}', code: 0, timedOut: false } : new Promise(() => { console.log("files step running"); setInterval(() => {}, 1000); });
      await flash(planned(), { chunkBytes: 8192, timeoutS: 60, log: () => {}, stepsDir: ${JSON.stringify(dir)}, run });
    `;
    const childFile = join(mkdtempSync(join(tmpdir(), "sden-steps-child-")), "child.mts");
    writeFileSync(childFile, script);
    const child = spawn(join(root, "node_modules/.bin/tsx"), [childFile], { cwd: root, stdio: ["ignore", "pipe", "pipe"]});
    let out = "";
    child.stderr.on("data", (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        out += d;
        if (out.includes("files step running")) resolve();
      });
      child.on("exit", () => reject(new Error("the flasher ended before the files step: " + out)));
    });
    expect(readdirSync(dir)).toContain("02-files.js");
    const code = await new Promise<number | null>((resolve) => {
      child.on("exit", (c) => resolve(c));
      child.kill("SIGINT");
    });
    expect(code, out).toBe(130);
    expect(readdirSync(dir).filter((f) => f.includes("files"))).toEqual([]);
    expect(existsSync(join(dir, "01-check.out"))).toBe(true);
  }, 60000);
});

describe("blankSecrets", () => {
  it("blanks the data of every atob and the console password, even in a line cut short", () => {
    expect(blankSecrets('var d=atob("c2VjcmV0");x\nR.password("pw-1");\nvar d=atob("c2Vj')).toBe('var d=atob("…");x\nR.password("…");\nvar d=atob("…"');
  });
});
