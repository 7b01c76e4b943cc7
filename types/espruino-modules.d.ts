// The Espruino 2v29 built-in modules the firmware loads with require(),
// typed as far as the firmware uses them. Device-only: Node's require is
// declared by @types/node for host code.

declare function require(name: "Storage"): EspruinoStorage;
declare function require(name: "net"): EspruinoNet;
declare function require(name: "crypto"): EspruinoCrypto;
/** The WiFi driver: built in on the ESP32 ("Wifi"), a module on the Espruino WiFi ("EspruinoWiFi"). */
declare function require(name: "Wifi" | "EspruinoWiFi"): EspruinoWifi;

/** Espruino's global object; console API names are set on it. */
declare const global: { [name: string]: unknown };
/** Espruino's process object. */
declare const process: { memory(): EspruinoMemory; env: { VERSION: string; BOARD: string } };
