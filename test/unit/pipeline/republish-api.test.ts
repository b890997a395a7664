/**
 * The republish sweep's API share: what it settles for each outcome of a publish. The store is a fake holding
 * what the marker items would hold; the same path runs over dynalite (test/integration/pipeline) and against real
 * Kafka (test/integration/streaming).
 */
import { describe, expect, it } from 'vitest';
import { republishApiPredictions } from '../../../functions/pipeline/republish-capture.js';
import type { ApiRepublishBatch, PublishResult } from '../../../functions/platform/ports.js';
import { PREDICTION_SCHEMA_VERSION, type Prediction } from '../../../functions/records/prediction.js';

const PAGE_A = '00000000-0000-4000-8000-00000000000a';
const PAGE_B = '00000000-0000-4000-8000-00000000000b';

function apiPrediction(pageId: string, slot: number): Prediction {
  return {
    schema_version: PREDICTION_SCHEMA_VERSION,
    prediction_id: `api:${pageId}:${slot}`,
    capture_id: 'api',
    kind: 'packet',
    scored_at: '2026-11-29T12:00:00.000Z',
    label: 'BENIGN',
    probability: 0.1,
    anomaly_score: null,
    verdict: 'benign',
    decided_by: 'packet-model',
    model_version: '1.0.0',
    input: { len: 60 + slot },
  };
}

/** A store listing `batches` once, recording every settle call. */
function fakeStore(batches: ApiRepublishBatch[]) {
  const settled: { pageId: string; ids: readonly string[] }[] = [];
  return {
    settled,
    predictions: {
      apiPredictionsAwaitingRepublish: async (limit: number) => batches.slice(0, limit),
      settleApiRepublish: async (pageId: string, ids: readonly string[]) => {
        settled.push({ pageId, ids });
      },
    },
  };
}

type Store = ReturnType<typeof fakeStore>;

/** Kafka acknowledges every message. */
async function acknowledgeAll(predictions: Prediction[]): Promise<PublishResult> {
  return { status: 'published', published: predictions.length, failed: 0 };
}

function depsOf(store: Store, publish: (predictions: Prediction[]) => Promise<PublishResult>) {
  return { predictions: store.predictions, publisher: { publish } };
}

describe('republishApiPredictions', () => {
  const batches: ApiRepublishBatch[] = [
    { pageId: PAGE_A, predictions: [apiPrediction(PAGE_A, 0), apiPrediction(PAGE_A, 2)] },
    { pageId: PAGE_B, predictions: [apiPrediction(PAGE_B, 1)] },
  ];

  it('settles every prediction Kafka acknowledged, page by page', async () => {
    const store = fakeStore(batches);
    const outcomes = await republishApiPredictions(depsOf(store, acknowledgeAll), 10);
    expect(outcomes).toEqual([
      { outcome: 'republished', pageId: PAGE_A, published: 2, failed: 0 },
      { outcome: 'republished', pageId: PAGE_B, published: 1, failed: 0 },
    ]);
    expect(store.settled).toEqual([
      { pageId: PAGE_A, ids: [`api:${PAGE_A}:0`, `api:${PAGE_A}:2`] },
      { pageId: PAGE_B, ids: [`api:${PAGE_B}:1`] },
    ]);
  });

  it('leaves the refused ones listed (only the acknowledged are settled)', async () => {
    const store = fakeStore(batches.slice(0, 1));
    const outcomes = await republishApiPredictions(
      depsOf(store, async () => ({
        status: 'partial',
        published: 1,
        failed: 1,
        unacknowledgedApi: [`api:${PAGE_A}:2`],
      })),
      10,
    );
    expect(outcomes).toEqual([{ outcome: 'republished', pageId: PAGE_A, published: 1, failed: 1 }]);
    expect(store.settled).toEqual([{ pageId: PAGE_A, ids: [`api:${PAGE_A}:0`] }]);
  });

  it('settles nothing without a broker, and a failing page does not stop the next', async () => {
    const notConfigured = fakeStore(batches);
    expect(
      await republishApiPredictions(
        depsOf(notConfigured, async () => ({ status: 'not_configured', published: 0, failed: 0 })),
        10,
      ),
    ).toEqual([]);
    expect(notConfigured.settled).toEqual([]);

    const store = fakeStore(batches);
    let calls = 0;
    const outcomes = await republishApiPredictions(
      depsOf(store, async (predictions) => {
        calls++;
        if (calls === 1) throw new Error('broker went away');
        return { status: 'published', published: predictions.length, failed: 0 };
      }),
      10,
    );
    expect(outcomes).toEqual([
      { outcome: 'error', pageId: PAGE_A, message: 'broker went away' },
      { outcome: 'republished', pageId: PAGE_B, published: 1, failed: 0 },
    ]);
    expect(store.settled).toEqual([{ pageId: PAGE_B, ids: [`api:${PAGE_B}:1`] }]);
  });

  it('asks the store for at most `limit` pages', async () => {
    const store = fakeStore(batches);
    const outcomes = await republishApiPredictions(depsOf(store, acknowledgeAll), 1);
    expect(outcomes.map((o) => o.pageId)).toEqual([PAGE_A]);
  });
});
