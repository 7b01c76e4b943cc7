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

/** Whether s can be a grid or router id: 1..TOPIC_ID_MAX of the letters A-Z, a-z, digits, '-' and '_'. */
export function isTopicId(s: string): boolean {
  if (typeof s !== "string" || !s.length || s.length > TOPIC_ID_MAX) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 95;
    if (!ok) return false;
  }
  return true;
}

/** "sden/v1/<grid>/<router>/<leaf>", or "" when an id is not valid (the MQTT encoders refuse ""). */
function routerTopic(grid: string, router: string, leaf: string): string {
  return isTopicId(grid) && isTopicId(router) ? TOPIC_ROOT + grid + "/" + router + "/" + leaf : "";
}

/** Router -> server; "" when an id is not valid. */
export function topicUp(grid: string, router: string): string {
  return routerTopic(grid, router, "up");
}

/** Server -> router; "" when an id is not valid. */
export function topicDown(grid: string, router: string): string {
  return routerTopic(grid, router, "down");
}

/** The router's retained status, and its last will's topic; "" when an id is not valid. */
export function topicStatus(grid: string, router: string): string {
  return routerTopic(grid, router, "status");
}

/** Requests from the household's smart appliances; "" when an id is not valid. */
export function topicLocal(grid: string, router: string): string {
  return routerTopic(grid, router, "local");
}

/** The router's answers to them; "" when an id is not valid. */
export function topicLocalAnswer(grid: string, router: string): string {
  return routerTopic(grid, router, "local/answer");
}
