/**
 * The text columns of a flow (Flow ID pieces and Timestamp), shared by the two emission forms: the CSV path
 * (FlowMeter.writeCsvRow, text written straight into bytes) and FlowRecord objects (flow-record.ts, text made on
 * first read). Pure module: no I/O.
 */
import { formatIpv4, formatIpv6 } from '../capture/address-format.js';
import { type CommunityIdInput, communityIdV1, communityIdV1Ipv4 } from './community-id.js';

/** "000" to "999", for the microseconds of timestamps. */
const DIGITS3: readonly string[] = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));

/** `-${n}` for ports and protocol numbers, made once per number (converting a number to text per flow cost more). */
const DASH_NUMBERS: (string | undefined)[] = new Array<string | undefined>(65_536);
export function dashNumber(n: number): string {
  let text = DASH_NUMBERS[n];
  if (text === undefined) {
    text = `-${n}`;
    DASH_NUMBERS[n] = text;
  }
  return text;
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * `YYYY-MM-DD HH:MM:SS` (UTC) of a second count since the epoch, for any year: captures with broken
 * timestamps (far beyond `Date`'s range) must still produce a row. Civil-from-days (H. Hinnant's algorithm).
 */
export function utcDateTime(epochSecond: number): string {
  const days = Math.floor(epochSecond / 86_400);
  const secondOfDay = epochSecond - days * 86_400;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(secondOfDay / 3600);
  const minute = Math.floor((secondOfDay % 3600) / 60);
  const sec = secondOfDay % 60;
  const yearText = year >= 0 && year < 10_000 ? String(year).padStart(4, '0') : String(year);
  return `${yearText}-${pad2(month)}-${pad2(day)} ${pad2(hour)}:${pad2(minute)}:${pad2(sec)}`;
}

/**
 * Flow timestamps as `YYYY-MM-DD HH:MM:SS.ffffff` (UTC), with the text of the last second used cached: flows
 * emitted together mostly start in the same second, so the date arithmetic runs about once per second of
 * capture, not once per flow.
 */
export class TimestampText {
  /** Whole seconds of the cached prefix. */
  second = Number.NaN;
  /** `YYYY-MM-DD HH:MM:SS.` of `second`. */
  prefix = '';

  /** Makes `prefix` the text of the second holding `us`; returns the microseconds within that second. */
  select(us: number): number {
    const second = Math.floor(us / 1e6);
    if (second !== this.second) {
      this.second = second;
      this.prefix = `${utcDateTime(second)}.`;
    }
    return Math.floor(us - second * 1e6);
  }

  /**
   * The text of a time in µs: the cached second's prefix joined with two 3-digit strings from a table. V8 keeps
   * the join as a rope (two small objects) and flattens it only where the text is read as a whole; writing the
   * 26 characters into a fresh flat string cost several times more per flow.
   */
  format(us: number): string {
    const micros = this.select(us);
    if (!(micros >= 0 && micros < 1_000_000)) return this.prefix + String(micros).padStart(6, '0');
    const thousands = (micros / 1000) | 0;
    return this.prefix + DIGITS3[thousands]! + DIGITS3[micros - thousands * 1000]!;
  }
}

/**
 * Writes the 4 words at `words[at ..]` (an IPv6 address as the flow key holds it: signed 32-bit values, first
 * byte highest) into `out` as its 16 bytes.
 */
function wordsToBytes(words: ArrayLike<number>, at: number, out: Uint8Array): void {
  for (let w = 0; w < 4; w++) {
    const v = words[at + w]!;
    out[4 * w] = v >>> 24;
    out[4 * w + 1] = (v >>> 16) & 0xff;
    out[4 * w + 2] = (v >>> 8) & 0xff;
    out[4 * w + 3] = v & 0xff;
  }
}

/** Scratch for an IPv6 flow's addresses as bytes, and its Community ID input: reused, nothing allocated. */
const sourceBytes = new Uint8Array(16);
const destinationBytes = new Uint8Array(16);
const communityInput: CommunityIdInput = {
  sourceAddress: sourceBytes,
  destinationAddress: destinationBytes,
  ipProtocol: 0,
  sourcePort: 0,
  destinationPort: 0,
  icmpType: 0,
  icmpCode: 0,
};

/**
 * The text of a flow key's address held at `words[at ..]`: one word for IPv4, four for IPv6 (the flow table's
 * key words, or their copy in a record's row).
 */
export function keyAddressText(ipVersion: number, words: ArrayLike<number>, at: number): string {
  if (ipVersion === 4) return formatIpv4(words[at]!);
  wordsToBytes(words, at, sourceBytes);
  return formatIpv6(sourceBytes, 0);
}

/** The Community ID of a flow from its key's source and destination address words (as keyAddressText). */
export function keyCommunityId(
  ipVersion: number,
  words: ArrayLike<number>,
  sourceAt: number,
  destinationAt: number,
  ipProtocol: number,
  sourcePort: number,
  destinationPort: number,
  icmpType: number,
  icmpCode: number,
): string {
  if (ipVersion === 4) {
    // Straight from the address values (no address bytes).
    return communityIdV1Ipv4(
      words[sourceAt]!,
      words[destinationAt]!,
      ipProtocol,
      sourcePort,
      destinationPort,
      icmpType,
      icmpCode,
    );
  }
  wordsToBytes(words, sourceAt, sourceBytes);
  wordsToBytes(words, destinationAt, destinationBytes);
  communityInput.ipProtocol = ipProtocol;
  communityInput.sourcePort = sourcePort;
  communityInput.destinationPort = destinationPort;
  communityInput.icmpType = icmpType;
  communityInput.icmpCode = icmpCode;
  return communityIdV1(communityInput);
}
