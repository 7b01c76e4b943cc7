// flash.config.json for the flasher: the JSON Schema (tools/flash/flash.schema.json)
// checked with ajv, then the router's own validator (firmware/config.ts) for
// the rules a schema cannot say (a pin used twice, a client's relay index
// past the list, relays on at boot above the fuse); and the secrets, which
// never sit in the config: environment variables first, then the
// git-ignored file the config names.

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject } from "ajv";
import { validateConfig, type RouterConfig } from "../../firmware/config";

export const SCHEMA = JSON.parse(readFileSync(new URL("./flash.schema.json", import.meta.url), "utf8"));

/** The keys of flash.config.json that are not the router's configuration. */
export const HOST_KEYS = ["flash"];

export interface FlashSection {
  connection: { port: string; baud?: number };
  wifi?: { ssid: string };
  brokerUser?: string;
  secretsFile?: string;
}

export interface FlashConfig {
  /** What goes to the board as sden.cfg: everything but HOST_KEYS. */
  board: RouterConfig;
  flash: FlashSection;
}

// $data: debounceMs below minWidthMs and importW up to fuseLimitW, as the router checks.
const ajv = new Ajv({ allErrors: true, $data: true, verbose: true, strict: false });
const validate = ajv.compile(SCHEMA);

/** The offline board description of a board type (tools/flash/boards/), which also lists its pins. */
export function boardFileFor(board: string): string {
  return fileURLToPath(new URL(`./boards/${board}.json`, import.meta.url));
}

/**
 * The pins of a board description (sden.pins): outputs can drive a relay,
 * inputOnly pins can only read a meter, reserved pins exist but are wired
 * to something on the board (flash chip, USB, the WiFi module), with what.
 */
export interface BoardPins {
  outputs: string[];
  inputOnly: string[];
  reserved: { [pin: string]: string };
}

export function boardPins(boardFile: string): BoardPins | undefined {
  return JSON.parse(readFileSync(boardFile, "utf8")).sden?.pins;
}

/** "D0, D2, D4, D5, D12, D13, D14" as "D0, D2, D4-D5, D12-D14": a list a technician can read in one line. */
export function pinRanges(pins: string[]): string {
  const out: string[] = [];
  for (let i = 0; i < pins.length; ) {
    const m = /^([A-Z]+)(\d+)$/.exec(pins[i]);
    let j = i;
    while (m && j + 1 < pins.length && pins[j + 1] === m[1] + (Number(m[2]) + j + 1 - i)) j++;
    out.push(j > i ? `${pins[i]}-${pins[j]}` : pins[i]);
    i = j + 1;
  }
  return out.join(", ");
}

/**
 * Each relay's and meter's pin against the board's: it must exist, not be
 * wired to something else, and for a relay be able to drive an output.
 * One "field: problem; fix" line per pin that does not fit.
 */
export function checkPins(c: { [k: string]: unknown }, boardName: string, pins: BoardPins): string[] {
  const problems: string[] = [];
  const outs = pinRanges(pins.outputs);
  const ins = pinRanges([...pins.outputs, ...pins.inputOnly]);
  const check = (list: unknown, kind: "relays" | "meters") => {
    if (!(list instanceof Array)) return;
    list.forEach((r: { pin?: unknown }, i) => {
      const pin = r?.pin;
      if (typeof pin !== "string") return;
      const f = `${kind}[${i}].pin`;
      const use = kind === "relays" ? `use an output pin: ${outs}` : `use one of ${ins}`;
      if (pins.reserved[pin]) problems.push(`${f}: ${pin} is ${pins.reserved[pin]} on ${boardName}; ${use}`);
      else if (kind === "relays" && pins.inputOnly.includes(pin)) problems.push(`${f}: ${pin} is input-only on ${boardName} and cannot drive a relay; ${use} (an input-only pin suits a meter)`);
      else if (!pins.outputs.includes(pin) && !pins.inputOnly.includes(pin)) problems.push(`${f}: ${pin} does not exist on ${boardName}; ${use}`);
    });
  };
  check(c.relays, "relays");
  check(c.meters, "meters");
  return problems;
}

/** "/relays/0/ratedW" as the router's validator names it: "relays[0].ratedW". */
export function fieldName(path: string): string {
  return path
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((f, p) => (/^\d+$/.test(p) ? `${f}[${p}]` : f ? `${f}.${p}` : p), "");
}

/** The schema of the field at an instance path (following $ref), for its description. */
function schemaAt(path: string): { description?: string; properties?: object } | undefined {
  let s = SCHEMA;
  for (const p of path.split("/").slice(1)) {
    if (s.$ref) s = SCHEMA.definitions[s.$ref.split("/").pop()];
    s = /^\d+$/.test(p) ? s.items : s.properties?.[p];
    if (!s) return undefined;
  }
  return s;
}

function describe(path: string): string {
  const d = schemaAt(path)?.description;
  return d ? ` (${d})` : "";
}

/** One ajv error as "field: what is wrong; got value (what the field is, with its range)". */
function explain(e: ErrorObject): string {
  const f = fieldName(e.instancePath);
  const got = `; got ${JSON.stringify(e.data)}`;
  const p = e.params as { [k: string]: unknown };
  switch (e.keyword) {
    case "required": {
      const k = `${e.instancePath}/${p.missingProperty}`;
      return `${fieldName(k)}: missing; add it${describe(k)}`;
    }
    case "additionalProperties": {
      const known = Object.keys((e.parentSchema as { properties: object }).properties).filter((k) => k !== "$schema");
      return `${f ? f + "." : ""}${p.additionalProperty}: unknown field; expected one of ${known.join(", ")} (a misspelt field would otherwise be ignored)`;
    }
    case "type":
      return `${f}: must be ${p.type === "integer" ? "a whole number" : p.type === "boolean" ? "true or false" : p.type === "array" ? "a list" : `a JSON ${p.type}`}${got}${describe(e.instancePath)}`;
    case "enum":
      return `${f}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}${got}${describe(e.instancePath)}`;
    case "minimum":
    case "maximum":
    case "exclusiveMaximum":
      return `${f}: must be ${e.keyword === "minimum" ? "at least" : e.keyword === "maximum" ? "at most" : "below"} ${p.limit}${got}${describe(e.instancePath)}`;
    case "maxItems":
      return `${f}: must be a list of at most ${p.limit}; got ${(e.data as unknown[]).length}${describe(e.instancePath)}`;
    case "not":
      // The one `not` on a field: standingWh on a client that is not thermal.
      return `${f}.standingWh: must be absent unless kind is "thermal"; got ${JSON.stringify((e.data as { standingWh?: unknown }).standingWh)}`;
    default:
      // pattern, minLength, maxLength: the description says what is allowed.
      return `${f}: ${e.message}${got}${describe(e.instancePath)}`;
  }
}

/** The router's configuration: flash.config.json without the flasher's keys. */
export function boardPart(raw: { [k: string]: unknown }): RouterConfig {
  const c: { [k: string]: unknown } = {};
  for (const k of Object.keys(raw)) if (!HOST_KEYS.includes(k)) c[k] = raw[k];
  return c as unknown as RouterConfig;
}

/**
 * Every problem with a flash.config.json, one "field: message" line each
 * (empty: valid): the schema's, then the router's own for what the schema
 * cannot say, then the pins against the board's (boardFile: the board
 * description the upload will use; by default the one of `board`), each
 * field named once.
 */
export function checkFlashConfig(raw: unknown, boardFile?: string): string[] {
  if (typeof raw !== "object" || raw === null || raw instanceof Array) return ["config: must be a JSON object"];
  const problems = validate(raw) ? [] : (validate.errors ?? []).filter((e) => e.keyword !== "if").map(explain);
  const c = raw as { [k: string]: unknown; flash?: FlashSection };
  if (c.board === "NRF52" && c.flash && typeof c.flash === "object" && c.flash.wifi !== undefined) {
    problems.push("flash.wifi: an NRF52 board has no WiFi; remove flash.wifi");
  }
  const named = new Set(problems.map((p) => p.slice(0, p.indexOf(":"))));
  for (const p of validateConfig(boardPart(c))) if (!named.has(p.slice(0, p.indexOf(":")))) problems.push(p);
  // Only when the board is known: an unknown board is named above.
  const file = boardFile ?? (typeof c.board === "string" && SCHEMA.properties.board.enum.includes(c.board) ? boardFileFor(c.board) : undefined);
  const pins = file && existsSync(file) ? boardPins(file) : undefined;
  if (pins) {
    const name = boardFile ? `${c.board} (as ${basename(boardFile)} describes it)` : String(c.board);
    for (const p of checkPins(c, name, pins)) if (!named.has(p.slice(0, p.indexOf(":")))) problems.push(p);
  }
  return problems;
}

/** Reads, parses and checks flash.config.json (its pins against boardFile when given); throws with every problem, one per line. */
export function loadFlashConfig(file: string, boardFile?: string): FlashConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: cannot read it as JSON: ${(e as Error).message}`, { cause: e });
  }
  const problems = checkFlashConfig(raw, boardFile);
  if (problems.length) throw new Error(`${file} is not valid (nothing was sent to the board):\n  ${problems.join("\n  ")}`);
  const c = raw as { [k: string]: unknown; flash?: FlashSection };
  if (!c.flash) throw new Error(`${file}: flash: missing; add {"connection": {"port": "/dev/ttyUSB0"}} (how the flasher reaches the board)`);
  return { board: boardPart(c), flash: c.flash };
}

/** The secrets a board gets, each from its environment variable or the secrets file. */
export interface Secrets {
  /** 16-64 raw bytes (the server holds the same); written to sden.key. */
  routerKey: Buffer;
  wifiPassword?: string;
  brokerPassword?: string;
  consolePassword: string;
}

/** Where each secret comes from: its environment variable and its key in the secrets file. */
export const SECRET_SOURCES = {
  routerKey: "SDEN_ROUTER_KEY",
  wifiPassword: "SDEN_WIFI_PASSWORD",
  brokerPassword: "SDEN_BROKER_PASSWORD",
  consolePassword: "SDEN_CONSOLE_PASSWORD",
} as const;

export type SecretName = keyof typeof SECRET_SOURCES;

/** The secrets file's path, relative to the config's folder; undefined when the config names none. */
export function secretsPath(configFile: string, flash: FlashSection): string | undefined {
  return flash.secretsFile ? resolve(dirname(configFile), flash.secretsFile) : undefined;
}

/**
 * Whether git ignores the file (so that a secret cannot be committed by
 * mistake); true outside a git checkout, where there is nothing to commit to.
 */
export function gitIgnores(file: string): boolean {
  try {
    execFileSync("git", ["check-ignore", "-q", file], { cwd: dirname(file), stdio: "ignore" });
    return true;
  } catch (e) {
    // 1: not ignored; 128: not a checkout.
    return (e as { status?: number }).status !== 1;
  }
}

export function readSecretsFile(file: string): { [k: string]: unknown } {
  try {
    const s = JSON.parse(readFileSync(file, "utf8"));
    if (typeof s !== "object" || s === null || s instanceof Array) throw new Error("not a JSON object");
    return s;
  } catch (e) {
    throw new Error(`${file}: cannot read the secrets file: ${(e as Error).message}; it holds {"routerKey": "<64 hex digits>", "wifiPassword": "...", "brokerPassword": "...", "consolePassword": "..."}`, { cause: e });
  }
}

/** What --dry-run puts in place of a secret that is not given (it masks every secret anyway). */
export const PLACEHOLDERS = { wifiPassword: "<WiFi password>", brokerPassword: "<broker password>", consolePassword: "<console pw>" } as const;

/**
 * The board's secrets: an environment variable wins over the secrets file.
 * Which are needed follows the config: the router key when there is a
 * broker, the WiFi password with a WiFi network (an empty one, given
 * explicitly, for an open network), the broker password with a broker
 * user, the console password always. Throws naming every missing or
 * malformed secret and how to give it. placeholders (--dry-run): a missing
 * secret gets a stand-in instead, named in `placeheld`.
 */
export function resolveSecrets(configFile: string, config: FlashConfig, env: NodeJS.ProcessEnv, placeholders = false): Secrets & { placeheld: SecretName[] } {
  const file = secretsPath(configFile, config.flash);
  if (file && existsSync(file) && !gitIgnores(file)) {
    throw new Error(`${file}: the secrets file is not ignored by git; add its name to .gitignore before flashing, so no secret is ever committed`);
  }
  const stored = file && existsSync(file) ? readSecretsFile(file) : {};
  const problems: string[] = [];
  const placeheld: SecretName[] = [];
  const where = (k: SecretName) => `set ${SECRET_SOURCES[k]} or "${k}" in ${file ?? "a secrets file named by flash.secretsFile"}`;
  /** The secret as given ("" only where emptyOk), undefined when it is not needed and not given. */
  const get = (k: SecretName, needed: boolean, emptyOk = false): string | undefined => {
    const v = env[SECRET_SOURCES[k]] ?? stored[k];
    if (v === "" && emptyOk) return "";
    if (v === undefined || v === "") {
      if (needed && placeholders) placeheld.push(k);
      else if (needed) problems.push(`${k}: missing; ${where(k)}${emptyOk ? ` (for an open network, set it to "")` : ""}`);
      return undefined;
    }
    if (typeof v !== "string") {
      problems.push(`${k}: must be a string; got ${typeof v}; ${where(k)}`);
      return undefined;
    }
    return v;
  };
  /** A password: 1-64 printable ASCII characters, as the board's network file and MQTT take it. */
  const password = (k: "wifiPassword" | "brokerPassword" | "consolePassword", needed: boolean, emptyOk = false): string | undefined => {
    const v = get(k, needed, emptyOk);
    if (v !== undefined && (!/^[ -~]*$/.test(v) || v.length > 64)) {
      problems.push(`${k}: must be ${emptyOk ? "0" : "1"}-64 printable ASCII characters; got ${v.length} characters${/^[ -~]*$/.test(v) ? "" : " with some outside printable ASCII"}; ${where(k)}`);
      return undefined;
    }
    return v;
  };
  const keyHex = get("routerKey", config.board.broker !== undefined);
  let routerKey = Buffer.alloc(0);
  if (keyHex !== undefined) {
    if (/^([0-9a-fA-F][0-9a-fA-F]){16,64}$/.test(keyHex)) routerKey = Buffer.from(keyHex, "hex");
    else problems.push(`routerKey: must be 32-128 hex digits (16-64 bytes; npm run flash -- --new-key makes one); got ${keyHex.length} characters; ${where("routerKey")}`);
  } else if (placeheld.includes("routerKey")) routerKey = Buffer.alloc(32);
  const wifiPassword = password("wifiPassword", config.flash.wifi !== undefined, true) ?? (placeheld.includes("wifiPassword") ? PLACEHOLDERS.wifiPassword : undefined);
  const brokerPassword = password("brokerPassword", config.flash.brokerUser !== undefined) ?? (placeheld.includes("brokerPassword") ? PLACEHOLDERS.brokerPassword : undefined);
  const consolePassword = password("consolePassword", true) ?? (placeheld.includes("consolePassword") ? PLACEHOLDERS.consolePassword : undefined);
  // The router's R.password takes 1-20 characters.
  if (consolePassword && consolePassword.length > 20) problems.push(`consolePassword: must be 1-20 printable ASCII characters (the router's R.password); got ${consolePassword.length}; ${where("consolePassword")}`);
  if (problems.length) throw new Error(`secrets are missing or malformed (nothing was sent to the board):\n  ${problems.join("\n  ")}`);
  return { routerKey, wifiPassword, brokerPassword, consolePassword: consolePassword as string, placeheld };
}
