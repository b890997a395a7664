import type { Verdict } from '../records/prediction.js';

/**
 * The combination policy (models/MODEL_CARD.md, mirrored from `combine()` in models/training/ccf_training/train.py):
 *   1. p_mal = 1 − P(benign) from the flow classifier. p_mal ≥ classifierThreshold → malicious, label = the most
 *      probable attack class, decided by the classifier.
 *   2. otherwise anomaly_score ≥ anomalyThreshold → malicious, label `anomaly`, decided by the anomaly detector
 *      (a flow unlike the benign training traffic that the classifier did not recognise as a known attack).
 *   3. otherwise benign, decided by the classifier.
 * `probability` is always p_mal. Both thresholds come from validation (manifest `combination_policy`).
 * Pure: no I/O, no model calls.
 */
export interface CombinationPolicy {
  readonly classes: readonly string[];
  readonly benignIndex: number;
  readonly classifierThreshold: number;
  readonly anomalyThreshold: number;
  readonly classifierName: string;
  readonly anomalyName: string;
  readonly modelVersion: string;
}

export interface FlowVerdict {
  label: string;
  probability: number;
  anomaly_score: number;
  verdict: Verdict;
  decided_by: string;
  model_version: string;
}

export const ANOMALY_LABEL = 'anomaly';
export const BENIGN_LABEL = 'benign';

/**
 * Verdict for row `row` of a [N, classes] probability matrix and its anomaly score.
 * Ties between attack classes go to the first in class order (numpy argmax).
 */
export function combineVerdict(
  probabilities: ArrayLike<number>,
  row: number,
  anomalyScore: number,
  policy: CombinationPolicy,
): FlowVerdict {
  const width = policy.classes.length;
  const base = row * width;
  const pMalicious = 1 - (probabilities[base + policy.benignIndex] as number);
  if (pMalicious >= policy.classifierThreshold) {
    let best = -1;
    let bestP = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < width; c++) {
      if (c === policy.benignIndex) continue;
      const p = probabilities[base + c] as number;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    return {
      label: policy.classes[best] as string,
      probability: pMalicious,
      anomaly_score: anomalyScore,
      verdict: 'malicious',
      decided_by: policy.classifierName,
      model_version: policy.modelVersion,
    };
  }
  if (anomalyScore >= policy.anomalyThreshold) {
    return {
      label: ANOMALY_LABEL,
      probability: pMalicious,
      anomaly_score: anomalyScore,
      verdict: 'malicious',
      decided_by: policy.anomalyName,
      model_version: policy.modelVersion,
    };
  }
  return {
    label: BENIGN_LABEL,
    probability: pMalicious,
    anomaly_score: anomalyScore,
    verdict: 'benign',
    decided_by: policy.classifierName,
    model_version: policy.modelVersion,
  };
}
