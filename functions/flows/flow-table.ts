/**
 * The open-flow table: an open-addressing hash table over fixed-width integer keys, plus an LRU list.
 *
 * Why not a `Map<string, Flow>`: building a key string per packet (as CICFlowMeter does) costs more than
 * the rest of the per-packet work. Keys here are 11 int32 words written into a reused scratch array, hashed
 * with integer mixing, and compared word by word; slots are small integers that index the meter's typed-array
 * state, so the table allocates nothing per packet and never involves the garbage collector.
 *
 * Key layout (canonical, the same for both directions of a flow):
 *   [0] protocol | ip version << 8   [1] VLAN ids (outer+1) << 13 | (inner+1), 0 when untagged
 *   [2] port of endpoint A << 16 | port of endpoint B
 *   [3..6] address of endpoint A     [7..10] address of endpoint B   (IPv4 uses word 3 / 7 only)
 * where A is the smaller (address, port) endpoint.
 *
 * LRU: every packet moves its flow to the tail, so the head is the flow idle for longest. Idle expiry and
 * eviction pop from the head in O(1).
 *
 * Memory layout, for the cache misses a packet of a large table costs: a bucket holds the slot and its hash
 * side by side, so a probe compares hashes without reading another array and reads the key words only on a
 * hash match; a slot's previous and next LRU links sit next to each other.
 */
import { LimitExceededError } from '../platform/errors.js';

export const KEY_WORDS = 11;
/** Words per slot in `keys`: the key, then its hash (read back when the slot is removed, while the row is hot). */
export const KEY_STRIDE = 12;

/** The words of an IPv4 key that can be non-zero. */
const IPV4_KEY_WORDS = Int32Array.of(0, 1, 2, 3, 7);

/**
 * Hash of the key words (murmur3-style mixing; only the low bits pick the bucket, so mix well). IPv4 keys hash
 * only their meaningful words (0–3 and 7; the rest are zero). The meter computes this same value with its words
 * written out (FlowMeter.hashOfKey: this loop over a table of word indexes cost more than the mixing); this
 * function is the reference form, used by the table's warm-up and the tests.
 */
export function hashKey(key: Int32Array): number {
  let h = 0x2545f491;
  const ipv4 = key[0]! >>> 8 === 4;
  const words = ipv4 ? 5 : KEY_WORDS;
  for (let j = 0; j < words; j++) {
    let k = Math.imul(key[ipv4 ? IPV4_KEY_WORDS[j]! : j]!, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

export class FlowTable {
  /** Slots currently allocated (grows by doubling up to `maxSlots`). */
  capacity: number;
  readonly maxSlots: number;
  /** Flows currently stored. */
  size = 0;
  /** LRU: least recently touched slot, or -1. */
  head = -1;
  tail = -1;

  /** KEY_STRIDE words per slot: the key words, then the hash. */
  keys: Int32Array;
  /** Two words per bucket: slot + 1 (0 = empty), then the slot's hash. */
  private buckets: Int32Array;
  /** Bucket count - 1 (a power of two). */
  private mask: number;
  /** Two words per slot: the previous and the next slot in LRU order (-1 = none). */
  private links: Int32Array;
  private freeSlots: Int32Array;
  private freeCount: number;

  constructor(initialSlots: number, maxSlots: number) {
    this.maxSlots = maxSlots;
    this.capacity = Math.max(1, Math.min(initialSlots, maxSlots));
    this.keys = new Int32Array(this.capacity * KEY_STRIDE);
    this.links = new Int32Array(this.capacity * 2);
    this.freeSlots = new Int32Array(this.capacity);
    this.freeCount = 0;
    this.refillFreeSlots(0);
    const bucketCount = bucketCountFor(this.capacity);
    this.buckets = new Int32Array(bucketCount * 2);
    this.mask = bucketCount - 1;
  }

  /** Slot of the flow with this key, or -1. */
  find(key: Int32Array, hash: number): number {
    const buckets = this.buckets;
    const keys = this.keys;
    const mask = this.mask;
    let i = hash & mask;
    for (;;) {
      const entry = buckets[2 * i]!;
      if (entry === 0) return -1;
      if (buckets[2 * i + 1] === hash) {
        const slot = entry - 1;
        const base = slot * KEY_STRIDE;
        // Word 0 holds the IP version; equal IPv4 keys can differ only in words 1–3 and 7 (the rest are zero).
        if (
          keys[base] === key[0] &&
          keys[base + 1] === key[1] &&
          keys[base + 2] === key[2] &&
          keys[base + 3] === key[3] &&
          keys[base + 7] === key[7] &&
          (key[0]! >>> 8 === 4 ||
            (keys[base + 4] === key[4] &&
              keys[base + 5] === key[5] &&
              keys[base + 6] === key[6] &&
              keys[base + 8] === key[8] &&
              keys[base + 9] === key[9] &&
              keys[base + 10] === key[10]))
        ) {
          return slot;
        }
      }
      i = (i + 1) & mask;
    }
  }

  /** True when every slot is in use and the table may not grow: the caller must evict first. */
  get full(): boolean {
    return this.size >= this.maxSlots;
  }

  /**
   * Stores a key that is not present; returns its slot (appended at the LRU tail). The caller has made room
   * (`full` is false). Returns the new capacity through `capacity` when the table had to grow.
   */
  insert(key: Int32Array, hash: number): number {
    if (this.freeCount === 0) this.grow();
    const slot = this.freeSlots[--this.freeCount]!;
    const keys = this.keys;
    const base = slot * KEY_STRIDE;
    // Word by word (a `set` call costs more for 12 words); an IPv4 key leaves words 4–6 and 8–10 as they were:
    // they are read only for IPv6 keys, whose insert writes them.
    keys[base] = key[0]!;
    keys[base + 1] = key[1]!;
    keys[base + 2] = key[2]!;
    keys[base + 3] = key[3]!;
    keys[base + 7] = key[7]!;
    if (key[0]! >>> 8 !== 4) {
      keys[base + 4] = key[4]!;
      keys[base + 5] = key[5]!;
      keys[base + 6] = key[6]!;
      keys[base + 8] = key[8]!;
      keys[base + 9] = key[9]!;
      keys[base + 10] = key[10]!;
    }
    keys[base + KEY_WORDS] = hash;
    this.placeInBuckets(slot, hash);
    this.size++;
    this.linkAtTail(slot);
    return slot;
  }

  /** Deletes a slot (backward-shift deletion keeps probe chains intact without tombstones). */
  remove(slot: number): void {
    const buckets = this.buckets;
    const mask = this.mask;
    let i = this.keys[slot * KEY_STRIDE + KEY_WORDS]! & mask;
    while (buckets[2 * i] !== slot + 1) i = (i + 1) & mask;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const entry = buckets[2 * j]!;
      if (entry === 0) break;
      const entryHash = buckets[2 * j + 1]!;
      // Move the entry at j back into the hole at i unless its home bucket lies cyclically in (i, j]: that is,
      // unless its distance from i, (home - i) mod size, is between 1 and (j - i) mod size. Written without a
      // branch on whether the chain wraps around the array's end (a rare case whose first occurrence would
      // otherwise reach code without type feedback and throw away the meter's optimized code).
      if ((((entryHash & mask) - i - 1) & mask) >= ((j - i) & mask)) {
        buckets[2 * i] = entry;
        buckets[2 * i + 1] = entryHash;
        i = j;
      }
    }
    buckets[2 * i] = 0;
    this.unlink(slot);
    this.freeSlots[this.freeCount++] = slot;
    this.size--;
  }

  /** Marks a slot as most recently active. */
  touch(slot: number): void {
    if (this.tail === slot) return;
    this.unlink(slot);
    this.linkAtTail(slot);
  }

  private linkAtTail(slot: number): void {
    const links = this.links;
    const tail = this.tail;
    links[2 * slot] = tail;
    links[2 * slot + 1] = -1;
    if (tail >= 0) links[2 * tail + 1] = slot;
    else this.head = slot;
    this.tail = slot;
  }

  private unlink(slot: number): void {
    const links = this.links;
    const p = links[2 * slot]!;
    const n = links[2 * slot + 1]!;
    if (p >= 0) links[2 * p + 1] = n;
    else this.head = n;
    if (n >= 0) links[2 * n] = p;
    else this.tail = p;
  }

  private placeInBuckets(slot: number, hash: number): void {
    const buckets = this.buckets;
    const mask = this.mask;
    let i = hash & mask;
    while (buckets[2 * i] !== 0) i = (i + 1) & mask;
    buckets[2 * i] = slot + 1;
    buckets[2 * i + 1] = hash;
  }

  private refillFreeSlots(from: number): void {
    // Pushed in reverse so low slot numbers are used first (keeps the touched part of the state compact).
    for (let slot = this.capacity - 1; slot >= from; slot--) this.freeSlots[this.freeCount++] = slot;
  }

  private grow(): void {
    const oldCapacity = this.capacity;
    const capacity = Math.min(this.maxSlots, oldCapacity * 2);
    if (capacity === oldCapacity) {
      // Callers evict while `full`; reaching this means that contract was broken.
      throw new LimitExceededError(`flow table is full (${this.maxSlots} open flows)`, {
        maxOpenFlows: this.maxSlots,
      });
    }
    this.capacity = capacity;
    this.keys = growInt32(this.keys, capacity * KEY_STRIDE);
    this.links = growInt32(this.links, capacity * 2);
    this.freeSlots = new Int32Array(capacity);
    this.freeCount = 0;
    this.refillFreeSlots(oldCapacity);
    const bucketCount = bucketCountFor(capacity);
    if (bucketCount * 2 !== this.buckets.length) {
      const old = this.buckets;
      this.buckets = new Int32Array(bucketCount * 2);
      this.mask = bucketCount - 1;
      for (let i = 0; i < old.length; i += 2) {
        const entry = old[i]!;
        if (entry !== 0) this.placeInBuckets(entry - 1, old[i + 1]!);
      }
    }
  }
}

/**
 * For the meter's one-time JIT warm-up (flow-meter.ts): stores two keys with the same home bucket in a small
 * table and removes the one that had to move on, so that `remove`'s search for a slot outside its home bucket
 * has type feedback. Large tables do that on nearly every capture (without feedback the first time throws
 * away the meter's optimized expiry code), but the warm-up packets' few flows never share a bucket.
 */
export function warmUpFlowTable(): void {
  const table = new FlowTable(4, 4);
  const key = new Int32Array(KEY_WORDS);
  key[0] = 17 | (4 << 8);
  key[3] = 1;
  const firstHash = hashKey(key);
  const first = table.insert(key, firstHash);
  // The buckets of a 4-slot table: any key whose hash agrees in the low bits shares the first one's home.
  const homeMask = bucketCountFor(4) - 1;
  let hash = 0;
  for (let id = 2; ; id++) {
    key[3] = id;
    hash = hashKey(key);
    if ((hash & homeMask) === (firstHash & homeMask)) break;
  }
  const moved = table.insert(key, hash);
  table.remove(moved);
  table.remove(first);
}

/** At most half the buckets are used, so probe chains stay short. */
function bucketCountFor(slots: number): number {
  let n = 16;
  while (n < slots * 2) n *= 2;
  return n;
}

function growInt32(old: Int32Array, length: number): Int32Array {
  const grown = new Int32Array(length);
  grown.set(old);
  return grown;
}
