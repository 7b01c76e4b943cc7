// The MQTT topics of one router (design section 5):
//   sden/v1/<grid>/<router>/up      router -> server
//   sden/v1/<grid>/<router>/down    server -> router (decisions, schedules,
//                                   config, the signed heartbeat)
//   sden/v1/<grid>/<router>/status  retained; the router's last will says "offline"
//   sden/v1/<grid>/<router>/local   smart appliances of the household -> router
//   sden/v1/<grid>/<router>/local/answer  router -> those appliances
// Ids are short ASCII so that a topic is always a valid MQTT topic name: never
// a level separator, wildcard or NUL inside an id [4.7.1, MQTT-4.7.3-2].

/** The topic root: the project and the protocol version. */
export const TOPIC_ROOT = "sden/v1/";

/** The last will's payload on the status topic (ASCII bytes). */
export const STATUS_OFFLINE = "offline";

/** The longest grid or router id. */
export const TOPIC_ID_MAX = 24;

/**
 * Whether s can be a grid or router id: 1..TOPIC_ID_MAX of the letters A-Z,
 * a-z, digits, '-' and '_' (\w is exactly the first four on 2v29 too).
 */
export function isTopicId(s: string): boolean {
  return typeof s === "string" && s.length <= TOPIC_ID_MAX && /^[\w-]+$/.test(s);
}

/**
 * "sden/v1/<grid>/<router>/<leaf>", or "" when an id is not valid (the MQTT
 * encoders refuse ""). The device calls it once with an empty leaf and
 * appends the leaves itself (firmware/agent.ts): keep them in step with the
 * named functions below, which the host side uses (the integration tests
 * talk to the router through them).
 */
export function routerTopic(grid: string, router: string, leaf: string): string {
  return isTopicId(grid) && isTopicId(router) ? TOPIC_ROOT + grid + "/" + router + "/" + leaf : "";
}

/** Router -> server; "" when an id is not valid. */
export const topicUp = (grid: string, router: string): string => routerTopic(grid, router, "up");

/** Server -> router; "" when an id is not valid. */
export const topicDown = (grid: string, router: string): string => routerTopic(grid, router, "down");

/** The router's retained status, and its last will's topic; "" when an id is not valid. */
export const topicStatus = (grid: string, router: string): string => routerTopic(grid, router, "status");

/** Requests from the household's smart appliances; "" when an id is not valid. */
export const topicLocal = (grid: string, router: string): string => routerTopic(grid, router, "local");

/** The router's answers to them; "" when an id is not valid. */
export const topicLocalAnswer = (grid: string, router: string): string => routerTopic(grid, router, "local/answer");
