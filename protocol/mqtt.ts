// The MQTT 3.1.1 client codec (OASIS standard, 29 October 2014; design
// section 5). Encoders for what the router sends, a streaming parser for what
// the broker sends. QoS 0 and 1 only: the router never asks for QoS 2.
//
// Strings on Espruino are byte strings, so the codec keeps every string on the
// wire ASCII (topics, client id, user name) and treats the password as bytes
// (char codes 0..255). An encoder never throws and never makes a wrong frame:
// given something it cannot encode exactly, it returns an empty Uint8Array.

/** Control packet types [2.2.1]. */
export const MQTT_CONNECT = 1;
export const MQTT_CONNACK = 2;
export const MQTT_PUBLISH = 3;
export const MQTT_PUBACK = 4;
export const MQTT_SUBSCRIBE = 8;
export const MQTT_SUBACK = 9;
export const MQTT_PINGREQ = 12;
export const MQTT_PINGRESP = 13;
export const MQTT_DISCONNECT = 14;

/** The largest Remaining Length that four length bytes encode [2.2.3]. */
export const MQTT_MAX_REMAINING = 268435455;

// Why the parser refused the input. After any of them the parser stops; the
// client must close the network connection ([MQTT-4.8.0-1]).
/** Remaining Length above the parser's maximum frame size. */
export const MQTT_E_TOO_BIG = 1;
/**
 * Remaining Length in more than 4 bytes [2.2.3], or not in the fewest bytes
 * (3.1.1 only shows the minimal encoding; MQTT 5 requires it, [MQTT-1.5.5-1]);
 * or not the length the packet type has; or a length inside the packet (the
 * PUBLISH topic) running past its end.
 */
export const MQTT_E_BAD_LENGTH = 2;
/** A type a broker never sends a client: reserved 0 and 15, CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT [2.2.1]. */
export const MQTT_E_BAD_TYPE = 3;
/** Reserved bits set: fixed header flags [MQTT-2.2.2-2], PUBLISH QoS 3 [MQTT-3.3.1-4], CONNACK acknowledge flags 7-1 [3.2.2.1]. */
export const MQTT_E_BAD_FLAGS = 4;
/** Bad contents: packet id 0 [MQTT-2.3.1-1], unknown CONNACK return code [3.2.2.3] or session present with a refusal [MQTT-3.2.2-4], SUBACK return code other than 0, 1, 2, 0x80 [3.9.3], PUBLISH topic empty, non-ASCII, with NUL or a wildcard [MQTT-4.7.3-1, MQTT-1.5.3-2, MQTT-3.3.2-2]. */
export const MQTT_E_MALFORMED = 5;
/** Valid MQTT the router never asks for: QoS 2 (PUBLISH QoS 2, PUBREC, PUBREL, PUBCOMP) and UNSUBACK. */
export const MQTT_E_UNSUPPORTED = 6;

/** The last will [3.1.2.5]: published by the broker when the router goes away. */
export interface MqttWill {
  topic: string;
  payload: Uint8Array;
  /** 0 or 1. */
  qos: number;
  retain: boolean;
}

/** What goes into CONNECT [3.1]. */
export interface MqttConnect {
  /** ASCII; may be empty only with cleanSession [MQTT-3.1.3-7]. */
  clientId: string;
  /** 0..65535; 0 turns keep-alive off [3.1.2.10]. */
  keepAliveS: number;
  cleanSession: boolean;
  /** ASCII. */
  username?: string;
  /** Bytes (char codes 0..255); only with a username [MQTT-3.1.2-22]. */
  password?: string;
  will?: MqttWill;
}

// The packets a broker sends a client, as the parser returns them.
/** CONNACK [3.2]: sp = session present, rc = return code (0 accepted, 1..5 refused). */
export interface MqttConnack { t: typeof MQTT_CONNACK; sp: boolean; rc: number }
/**
 * PUBLISH [3.3]: q = QoS, id = packet id (0 with QoS 0), d = DUP, r = RETAIN.
 * The payload may share memory with the chunk given to push().
 */
export interface MqttPublish { t: typeof MQTT_PUBLISH; id: number; q: number; d: boolean; r: boolean; topic: string; payload: Uint8Array }
/** PUBACK [3.4]. */
export interface MqttPuback { t: typeof MQTT_PUBACK; id: number }
/** SUBACK [3.9]: one return code per topic filter, the granted QoS or 0x80 for a failure. */
export interface MqttSuback { t: typeof MQTT_SUBACK; id: number; granted: number[] }
/** PINGRESP [3.13]. */
export interface MqttPingresp { t: typeof MQTT_PINGRESP }
export type MqttPacket = MqttConnack | MqttPublish | MqttPuback | MqttSuback | MqttPingresp;

/**
 * The length of s when the codec can put it on the wire as an MQTT string:
 * ASCII without NUL [MQTT-1.5.3-2], at most 65535 bytes [1.5.3]; else -1.
 * kind 0: any such string; 1: a topic name, non-empty [MQTT-4.7.3-1] without
 * wildcards [MQTT-3.3.2-2]; 2: a topic filter, non-empty, '+' a whole level,
 * '#' a whole last level [4.7.1].
 */
function strLen(s: string, kind: number): number {
  const n = s.length;
  if (n > 65535 || (kind && !n)) return -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 1 || c > 127) return -1;
    if (kind && (c === 43 || c === 35)) {
      if (kind < 2 || (i && s.charCodeAt(i - 1) !== 47) || (i < n - 1 && (c === 35 || s.charCodeAt(i + 1) !== 47))) return -1;
    }
  }
  return n;
}

/** An empty frame: what an encoder returns for input it cannot encode exactly. */
function none(): Uint8Array {
  return new Uint8Array(0);
}

/** Whether id is not a packet identifier: an integer 1..65535 [2.3.1]. */
function badId(id: number): boolean {
  return !id || (id & 65535) !== id;
}

/** Whether q is not a QoS this client uses (0 or 1). */
function badQos(q: number): boolean {
  return q !== 0 && q !== 1;
}

/** Writes a Two Byte Integer, most significant byte first [1.5.2]; returns the next index. */
function w16(b: Uint8Array, i: number, n: number): number {
  b[i] = n >> 8;
  b[i + 1] = n & 255;
  return i + 2;
}

/** Writes a length-prefixed string [1.5.3] whose char codes are bytes (checked by the caller); returns the next index. */
function wStr(b: Uint8Array, i: number, s: string): number {
  i = w16(b, i, s.length);
  for (let k = 0; k < s.length; k++) b[i++] = s.charCodeAt(k);
  return i;
}

/**
 * A new frame of bodyLen bytes after its fixed header: first byte, then the
 * Remaining Length in 7-bit groups, least significant first [2.2.3]; the body
 * starts at length - bodyLen. Empty when bodyLen is above MQTT_MAX_REMAINING.
 */
function frame(first: number, bodyLen: number): Uint8Array {
  if (bodyLen > MQTT_MAX_REMAINING) return none();
  let headLen = 2;
  for (let n = bodyLen; n > 127; n >>>= 7) headLen++;
  const b = new Uint8Array(headLen + bodyLen);
  b[0] = first;
  for (let i = 1, n = bodyLen; i < headLen; i++, n >>>= 7) b[i] = (n & 127) | (i < headLen - 1 ? 128 : 0);
  return b;
}

/**
 * CONNECT [3.1]: protocol name "MQTT" [3.1.2.1], level 4 [3.1.2.2], flags
 * [3.1.2.3] (reserved bit 0 clear [MQTT-3.1.2-3]; will QoS and retain only
 * with a will [MQTT-3.1.2-13, -15]), keep-alive, then client id, will topic and
 * message, user name, password in that order [MQTT-3.1.3-1]. Empty on bad input.
 */
export function encodeConnect(c: MqttConnect): Uint8Array {
  const w = c.will, u = c.username, p = c.password, idLen = strLen(c.clientId, 0);
  let flags = c.cleanSession ? 2 : 0, n = 12 + idLen;
  let bad = idLen < 0 || (!idLen && !flags) || (c.keepAliveS & 65535) !== c.keepAliveS;
  if (w) {
    const tl = strLen(w.topic, 1);
    bad = bad || tl < 0 || w.payload.length > 65535 || badQos(w.qos);
    flags |= 4 | (w.qos << 3) | (w.retain ? 32 : 0);
    n += 4 + tl + w.payload.length;
  }
  if (u !== undefined) {
    const ul = strLen(u, 0);
    bad = bad || ul < 0;
    flags |= 128;
    n += 2 + ul;
  }
  if (p !== undefined) {
    let pl = p.length;
    for (let k = 0; k < pl; k++) if (p.charCodeAt(k) > 255) pl = -1;
    bad = bad || pl < 0 || pl > 65535 || u === undefined;
    flags |= 64;
    n += 2 + pl;
  }
  if (bad) return none();
  const b = frame(0x10, n);
  let i = wStr(b, b.length - n, "MQTT");
  b[i++] = 4;
  b[i++] = flags;
  i = wStr(b, w16(b, i, c.keepAliveS), c.clientId);
  if (w) {
    i = w16(b, wStr(b, i, w.topic), w.payload.length);
    b.set(w.payload, i);
    i += w.payload.length;
  }
  if (u !== undefined) i = wStr(b, i, u);
  if (p !== undefined) wStr(b, i, p);
  return b;
}

/**
 * PUBLISH [3.3]: DUP, QoS, RETAIN in the fixed header [3.3.1]; topic name,
 * packet id when QoS 1, payload. packetId is ignored with QoS 0; DUP must be
 * clear with QoS 0 [MQTT-3.3.1-2]. Empty on bad input.
 */
export function encodePublish(topic: string, payload: Uint8Array, qos: number, packetId: number, dup: boolean, retain: boolean): Uint8Array {
  const tl = strLen(topic, 1), n = 2 + tl + (qos ? 2 : 0) + payload.length;
  if (tl < 0 || badQos(qos) || (qos ? badId(packetId) : dup)) return none();
  const b = frame(0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0), n);
  if (b.length) {
    let i = wStr(b, b.length - n, topic);
    if (qos) i = w16(b, i, packetId);
    b.set(payload, i);
  }
  return b;
}

/** PUBACK [3.4], the answer to a QoS 1 PUBLISH [MQTT-4.3.2-2]. Empty on a bad packet id. */
export function encodePuback(packetId: number): Uint8Array {
  return badId(packetId) ? none() : new Uint8Array([0x40, 2, packetId >> 8, packetId & 255]);
}

/**
 * SUBSCRIBE [3.8]: fixed header flags 0010 [MQTT-3.8.1-1], packet id, then at
 * least one topic filter [MQTT-3.8.3-3] each with its requested QoS (0 or 1
 * here). Empty on bad input.
 */
export function encodeSubscribe(packetId: number, topics: string[], qos: number[]): Uint8Array {
  let n = 2, bad = badId(packetId) || !topics.length || topics.length !== qos.length;
  for (let k = 0; k < topics.length && !bad; k++) {
    const l = strLen(topics[k], 2);
    bad = l < 0 || badQos(qos[k]);
    n += 3 + l;
  }
  if (bad) return none();
  const b = frame(0x82, n);
  if (b.length) {
    let i = w16(b, b.length - n, packetId);
    for (let k = 0; k < topics.length; k++) {
      i = wStr(b, i, topics[k]);
      b[i++] = qos[k];
    }
  }
  return b;
}

/** PINGREQ [3.12]. */
export function encodePingreq(): Uint8Array {
  return new Uint8Array([0xc0, 0]);
}

/** DISCONNECT [3.14]. */
export function encodeDisconnect(): Uint8Array {
  return new Uint8Array([0xe0, 0]);
}

/**
 * 0 when a frame's first byte starts a packet a broker may send this client,
 * else the reason: its type [2.2.1] and its flags [2.2.2, 3.3.1]. DUP with QoS
 * 0 is let through (a sender's fault without meaning [MQTT-3.3.1-2]).
 */
function checkFirst(x: number): number {
  const t = x >> 4, q = (x >> 1) & 3;
  if (t === MQTT_PUBLISH) return q === 3 ? MQTT_E_BAD_FLAGS : q === 2 ? MQTT_E_UNSUPPORTED : 0;
  // PUBREC, PUBREL, PUBCOMP, UNSUBACK
  if (t === 5 || t === 6 || t === 7 || t === 11) return MQTT_E_UNSUPPORTED;
  if (t !== MQTT_CONNACK && t !== MQTT_PUBACK && t !== MQTT_SUBACK && t !== MQTT_PINGRESP) return MQTT_E_BAD_TYPE;
  return x & 15 ? MQTT_E_BAD_FLAGS : 0;
}

/**
 * The whole size of the frame at b[s] (fixed header included), 0 while its
 * header is incomplete, or -reason. Refuses as early as it can: the first
 * byte alone, and a length that can only end above max.
 */
function frameLen(b: Uint8Array, s: number, e: number, max: number): number {
  const bad = checkFirst(b[s]);
  if (bad) return -bad;
  let v = 0, m = 1;
  for (let i = s + 1; i < s + 5; i++) {
    if (i >= e) return 0;
    const x = b[i];
    v += (x & 127) * m;
    // A last byte 0 after a continuation is not the fewest bytes.
    if (x < 128) return i > s + 1 && !x ? -MQTT_E_BAD_LENGTH : v > max ? -MQTT_E_TOO_BIG : v + i + 1 - s;
    m *= 128;
    // The smallest length still possible (the last byte is at least 1).
    if (i < s + 4 && v + m > max) return -MQTT_E_TOO_BIG;
  }
  return -MQTT_E_BAD_LENGTH;
}

/** Reads a Two Byte Integer [1.5.2]. */
function r16(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

/** The packet in b[s..e), a whole frame whose first byte and length frameLen accepted; or a reason. */
function decode(b: Uint8Array, s: number, e: number): MqttPacket | number {
  const x = b[s], t = x >> 4;
  let i = s + 1;
  while (b[i] & 128) i++;
  i++;
  const n = e - i;
  if (t === MQTT_PUBLISH) {
    const q = (x >> 1) & 3, tl = r16(b, i), p = i + 2 + tl + (q ? 2 : 0);
    if (n < 2 || p > e) return MQTT_E_BAD_LENGTH;
    let topic = "";
    for (let k = i + 2; k < i + 2 + tl; k++) topic += String.fromCharCode(b[k]);
    const id = q ? r16(b, p - 2) : 0;
    if (strLen(topic, 1) < 0 || (q && !id)) return MQTT_E_MALFORMED;
    return { t: MQTT_PUBLISH, id: id, q: q, d: !!(x & 8), r: !!(x & 1), topic: topic, payload: b.subarray(p, e) };
  }
  if (t === MQTT_CONNACK) {
    if (n !== 2) return MQTT_E_BAD_LENGTH;
    if (b[i] > 1) return MQTT_E_BAD_FLAGS;
    if (b[i + 1] > 5 || (b[i] && b[i + 1])) return MQTT_E_MALFORMED;
    return { t: MQTT_CONNACK, sp: b[i] === 1, rc: b[i + 1] };
  }
  if (t === MQTT_PINGRESP) return n ? MQTT_E_BAD_LENGTH : { t: MQTT_PINGRESP };
  // PUBACK: a packet id; SUBACK: a packet id and at least one return code.
  if (n < 2 || (t === MQTT_PUBACK ? n > 2 : n < 3)) return MQTT_E_BAD_LENGTH;
  const id = r16(b, i);
  if (!id) return MQTT_E_MALFORMED;
  if (t === MQTT_PUBACK) return { t: MQTT_PUBACK, id: id };
  const granted: number[] = [];
  for (let k = i + 2; k < e; k++) {
    if (b[k] > 2 && b[k] !== 0x80) return MQTT_E_MALFORMED;
    granted.push(b[k]);
  }
  return { t: MQTT_SUBACK, id: id, granted: granted };
}

/**
 * The streaming parser for what the broker sends. push() the bytes of each
 * TCP read, then call next() until it returns null: it returns one whole
 * packet at a time, whatever the reads' boundaries. null with error 0 means
 * "incomplete": wait for more bytes. A frame that ends in the chunk is
 * decoded where it lies; only a frame split across chunks is copied, into a
 * buffer of its exact size allocated once its header shows a length within
 * the maximum (the router must afford one maximum frame anyway). So, drained
 * before each push, the parser holds at most maxFrameBytes + 5 bytes. Bad
 * input sets error (an MQTT_E_ code) as soon as the bytes that prove it
 * arrive; the parser then ignores everything until reset(). Never throws.
 */
export class MqttParser {
  // Declared only (the constructor and reset() set them), so that no build
  // turns them into property definitions.
  /** 0 while the input is fine, else the MQTT_E_ reason of the frame that was refused. */
  declare error: number;
  /** Frames refused since the parser was made, by reason (index MQTT_E_*); reset() keeps them. Each count stops at 65,535. */
  declare refused: Uint16Array;
  /** The largest Remaining Length accepted. */
  declare private max: number;
  /** The chunk being read (the caller's bytes, not copied) and the read position in it. */
  declare private c: Uint8Array;
  declare private o: number;
  /** A frame split across chunks, copied (null when none), and how many of its bytes are in. */
  declare private p: Uint8Array | null;
  declare private n: number;

  /** maxFrameBytes: the largest Remaining Length (the frame after its fixed header) to accept. */
  constructor(maxFrameBytes: number) {
    this.max = maxFrameBytes > MQTT_MAX_REMAINING ? MQTT_MAX_REMAINING : maxFrameBytes > 0 ? maxFrameBytes : 0;
    this.refused = new Uint16Array(MQTT_E_UNSUPPORTED + 1);
    this.reset();
  }

  /** Forgets all input and any error: for a new connection. */
  reset(): void {
    this.error = 0;
    this.c = none();
    this.o = 0;
    this.p = null;
    this.n = 0;
  }

  /** Bytes the parser holds: the copied split frame, plus any unread part of the last chunk. */
  heldBytes(): number {
    return (this.p ? this.p.length : 0) + this.c.length - this.o;
  }

  /**
   * Takes the bytes of one read. Bytes of an earlier chunk that next() has
   * not read yet are kept (copied in front of these), so call next() until
   * null first.
   */
  push(chunk: Uint8Array): void {
    const left = this.c.length - this.o;
    if (this.error || !chunk.length) return;
    if (left > 0) {
      const j = new Uint8Array(left + chunk.length);
      j.set(this.c.subarray(this.o, this.c.length), 0);
      j.set(chunk, left);
      chunk = j;
    }
    this.c = chunk;
    this.o = 0;
  }

  /** The next whole packet, or null: incomplete (error 0) or refused (error set). */
  next(): MqttPacket | null {
    const c = this.c;
    let o = this.o, p = this.p, len: number;
    if (this.error) return null;
    if (p) {
      // Complete the split frame: its header a byte at a time, then the rest.
      for (;;) {
        len = frameLen(p, 0, this.n, this.max);
        if (len < 0) return this.fail(-len);
        if (len && len === this.n) break;
        if (o >= c.length) {
          this.o = o;
          return null;
        }
        if (len > p.length) {
          const q = new Uint8Array(len);
          q.set(p.subarray(0, this.n), 0);
          p = this.p = q;
        }
        const k = len ? Math.min(len - this.n, c.length - o) : 1;
        p.set(c.subarray(o, o + k), this.n);
        this.n += k;
        o += k;
      }
      this.o = o;
      this.p = null;
      return this.out(decode(p, 0, len));
    }
    if (o >= c.length) return null;
    len = frameLen(c, o, c.length, this.max);
    if (len < 0) return this.fail(-len);
    if (len && o + len <= c.length) {
      this.o = o + len;
      return this.out(decode(c, o, o + len));
    }
    // The frame goes on in a later chunk. An incomplete header is at most 4 bytes.
    p = this.p = new Uint8Array(len || 5);
    p.set(c.subarray(o, c.length), 0);
    this.n = c.length - o;
    this.o = c.length;
    return null;
  }

  private out(r: MqttPacket | number): MqttPacket | null {
    return typeof r === "number" ? this.fail(r) : r;
  }

  private fail(reason: number): null {
    this.reset();
    this.error = reason;
    if (this.refused[reason] < 0xffff) this.refused[reason]++;
    return null;
  }
}
