/**
 * PARSED → SCORED: whichever write lands last (a part's record, or parse-capture's PARSED) completes the
 * capture, once, with the summed summary. The repository here is a fake holding what the conditional update
 * would hold; the same path runs over dynalite in test/integration/pipeline.
 */
import { describe, expect, it } from 'vitest';
import { completeIfScored } from '../../../functions/pipeline/score-capture.js';
import type {
  PartProgress,
  PublishResult,
  ScoredPart,
  ScoreSummary,
} from '../../../functions/platform/ports.js';

function part(firstFlow: number, predictions: number, publish: PublishResult): ScoredPart {
  return {
    firstFlow,
    predictions,
    byVerdict: { malicious: predictions - 1, benign: 1 },
    byLabel: { portscan: predictions - 1, benign: 1 },
    modelVersions: [`1.0.0+${firstFlow}`],
    startedMs: 1_000 + firstFlow,
    finishedMs: 5_000,
    publish,
  };
}

function fakeCaptures() {
  const scored: { summary: ScoreSummary; publish: PublishResult }[] = [];
  return {
    scored,
    captures: {
      async markScored(_captureId: string, summary: ScoreSummary, publish: PublishResult) {
        // Conditional on PARSED: only the first completion is stored.
        if (scored.length > 0) return false;
        scored.push({ summary, publish });
        return true;
      },
    },
    clock: { now: () => new Date(10_000) },
  };
}

const published = (n: number): PublishResult => ({ status: 'published', published: n, failed: 0 });

describe('completeIfScored', () => {
  it('completes a PARSED capture whose parts add up to its flows, summing the parts once', async () => {
    const deps = fakeCaptures();
    const progress: PartProgress = {
      status: 'PARSED',
      flows: 30,
      parts: [part(1, 10, published(10)), part(11, 20, published(20))],
    };
    const done = await completeIfScored(deps, 'c1', progress);
    expect(done?.summary).toEqual({
      predictions: 30,
      byVerdict: { malicious: 28, benign: 2 },
      byLabel: { portscan: 28, benign: 2 },
      modelVersions: ['1.0.0+1', '1.0.0+11'],
      scoreMs: 10_000 - 1_001,
    });
    expect(done?.publish).toMatchObject({ status: 'published', published: 30, failed: 0 });
    // A second writer landing at the same time (the last part and the PARSED writer) stores nothing more.
    expect(await completeIfScored(deps, 'c1', progress)).toBeUndefined();
    expect(deps.scored).toHaveLength(1);
  });

  it('waits while a part is missing, and while the capture is not PARSED', async () => {
    const deps = fakeCaptures();
    const missing: PartProgress = { status: 'PARSED', flows: 30, parts: [part(1, 10, published(10))] };
    expect(await completeIfScored(deps, 'c1', missing)).toBeUndefined();
    const pending: PartProgress = {
      status: 'PENDING',
      flows: null,
      parts: [part(1, 10, published(10)), part(11, 20, published(20))],
    };
    expect(await completeIfScored(deps, 'c1', pending)).toBeUndefined();
    expect(deps.scored).toHaveLength(0);
  });
});
