import type { Verdict } from '../records/prediction.js';

/**
 * The combination policy (models/MODEL_CARD.md, mirrored from `combine()` in models/training/ccf_training/train.py):
 *   1. c = the most probable attack class of the flow classifier. P(c) ≥ classThresholds[c] → malicious, label c,
 *      decided by the classifier. One threshold per class: the classes differ in how close benign traffic comes to
 *      them (web attacks and benign form posts are alike per flow, floods and benign traffic are not), so a single
 *      threshold on 1 − P(benign) either flags benign web traffic or misses slow DoS and brute force.
 *   2. otherwise anomaly_score ≥ anomalyThreshold → malicious, label c again (the classifier's best guess at the
 *      kind), decided by the anomaly detector (a flow beyond everything the benign training traffic showed that the
 *      classifier did not flag on its own).
 *   3. otherwise benign, decided by the classifier.
 * `probability` is always p_mal = 1 − P(benign). Thresholds come from validation (manifest `combination_policy`).
 * Pure: no I/O, no model calls.
 */
export interface CombinationPolicy {
  readonly classes: readonly string[];
  readonly benignIndex: number;
  /** Per class index (the benign entry is never used). */
  readonly classThresholds: readonly number[];
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
  if (bestP >= (policy.classThresholds[best] as number)) {
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
      label: policy.classes[best] as string,
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
