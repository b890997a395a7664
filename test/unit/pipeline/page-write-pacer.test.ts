import { describe, expect, it } from 'vitest';
import { pageWritePacer } from '../../../functions/pipeline/predict.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('pageWritePacer', () => {
  it('lets a request through at once after a quiet interval, with the rest of its event-loop turn', async () => {
    const pace = pageWritePacer(50);
    expect(pace()).toBeUndefined();
    expect(pace()).toBeUndefined();
    expect(pace()).toBeUndefined();
  });

  it('holds later requests until the interval is over and releases them together', async () => {
    const interval = 60;
    const pace = pageWritePacer(interval);
    const started = performance.now();
    expect(pace()).toBeUndefined();
    await nextTurn();
    const released: number[] = [];
    const waits = [pace(), pace(), pace()];
    for (const [i, wait] of waits.entries()) {
      expect(wait).toBeInstanceOf(Promise);
      void wait?.then(() => released.push(i));
    }
    await sleep(interval / 3);
    expect(released).toEqual([]);
    await Promise.all(waits);
    expect(released).toEqual([0, 1, 2]);
    // Not before the interval since the first release (timers may fire up to ~1 ms early).
    expect(performance.now() - started).toBeGreaterThanOrEqual(interval - 2);
    // The release counts as a write: a request right after it waits again.
    await nextTurn();
    expect(pace()).toBeInstanceOf(Promise);
  });

  it('with no request during an interval, the next one goes through at once', async () => {
    const pace = pageWritePacer(20);
    expect(pace()).toBeUndefined();
    await sleep(30);
    expect(pace()).toBeUndefined();
  });

  it('interval 0 never holds a request', async () => {
    const pace = pageWritePacer(0);
    for (let i = 0; i < 5; i++) {
      expect(pace()).toBeUndefined();
      await nextTurn();
    }
  });
});
