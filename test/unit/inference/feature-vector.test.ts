import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CombinationPolicy,
  combineVerdict,
  compileRowWriter,
  type FeatureLayout,
  FLOAT32_MAX,
  featureRow,
  fillRows,
  modelNumber,
} from '../../../functions/inference/index.js';
import { FeatureSchemaError, ValidationError } from '../../../functions/platform/errors.js';

const flowLayout: FeatureLayout = {
  features: ['Dst Port', 'Flow Duration', 'Flow Bytes/s'],
  required: new Set(['Dst Port', 'Flow Duration', 'Flow Bytes/s']),
  absentValue: 0,
  model: 'flow-test',
};
const packetLayout: FeatureLayout = {
  features: ['len', 'source_port', 'dest_port', 'ttl'],
  required: new Set(['len', 'source_port', 'dest_port']),
  absentValue: -1,
  model: 'packet-test',
};

describe('numeric policy (mirrors features.py sanitize)', () => {
  it('maps non-finite values to 0, clamps to float32 and rounds to float32', () => {
    const row = featureRow(
      { 'Dst Port': Number.NaN, 'Flow Duration': 1e300, 'Flow Bytes/s': 0.1 },
      flowLayout,
    );
    expect(Array.from(row)).toEqual([0, Math.fround(FLOAT32_MAX), Math.fround(0.1)]);
    const row2 = featureRow(
      {
        'Dst Port': Number.NEGATIVE_INFINITY,
        'Flow Duration': -1e300,
        'Flow Bytes/s': Number.POSITIVE_INFINITY,
      },
      flowLayout,
    );
    expect(Array.from(row2)).toEqual([0, -Math.fround(FLOAT32_MAX), 0]);
  });

  it('reads CSV text: numbers, empty cells and NaN/Infinity spellings', () => {
    expect(modelNumber('443', 'x')).toBe(443);
    expect(modelNumber(' 1.5e3 ', 'x')).toBe(1500);
    expect(modelNumber('', 'x')).toBe(0);
    expect(modelNumber('NaN', 'x')).toBe(0);
    expect(modelNumber('inf', 'x')).toBe(0);
    expect(modelNumber('-Infinity', 'x')).toBe(0);
    expect(modelNumber(null, 'x')).toBe(0);
    expect(() => modelNumber('abc', 'Dst Port')).toThrow(ValidationError);
    expect(() => modelNumber(true, 'Dst Port')).toThrow(/must be a number/);
  });

  it('agrees with modelNumber + Math.fround for any number', () => {
    fc.assert(
      fc.property(fc.double(), fc.double(), fc.double(), (a, b, c) => {
        const row = featureRow({ 'Dst Port': a, 'Flow Duration': b, 'Flow Bytes/s': c }, flowLayout);
        expect(Array.from(row)).toEqual([a, b, c].map((v) => Math.fround(modelNumber(v, 'x'))));
      }),
    );
  });

  it('gives absent optional packet fields the absent value and names missing required ones', () => {
    expect(Array.from(featureRow({ len: 60, source_port: 80, dest_port: 443 }, packetLayout))).toEqual([
      60, 80, 443, -1,
    ]);
    expect(() => featureRow({ len: 60 }, packetLayout)).toThrow(
      'Missing required columns: source_port, dest_port',
    );
    try {
      fillRows(
        [{ len: 1, source_port: 1, dest_port: 1 }, { len: 1 }],
        0,
        2,
        packetLayout,
        new Float32Array(8),
      );
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FeatureSchemaError);
      expect((error as FeatureSchemaError).details).toMatchObject({ row: 1, model: 'packet-test' });
    }
  });
});

describe('compileRowWriter (the fast path the scorer uses)', () => {
  const cell = fc.oneof(
    fc.double(),
    fc.integer(),
    fc.constantFrom(null, '', 'NaN', '-inf', '1e3', ' 42 ', Number.MAX_VALUE, -Number.MAX_VALUE),
  );

  it('writes exactly what fillRows writes, NaN/Infinity/text/huge values included', () => {
    const write = compileRowWriter(packetLayout);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            len: cell,
            source_port: cell,
            dest_port: cell,
            ttl: fc.option(cell, { nil: undefined }),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        (records) => {
          const expected = new Float32Array(records.length * 4);
          const got = new Float32Array(records.length * 4);
          fillRows(records, 0, records.length, packetLayout, expected);
          write(records, 0, records.length, got);
          expect(Array.from(got)).toEqual(Array.from(expected));
        },
      ),
    );
  });

  it('raises the same FeatureSchemaError, and ValidationError for text that is not a number', () => {
    const write = compileRowWriter(flowLayout);
    const out = new Float32Array(6);
    expect(() =>
      write([{ 'Dst Port': 1, 'Flow Duration': 2, 'Flow Bytes/s': 3 }, { 'Dst Port': 1 }], 0, 2, out),
    ).toThrow('Missing required columns: Flow Duration, Flow Bytes/s');
    expect(() => write([{ 'Dst Port': 'http', 'Flow Duration': 2, 'Flow Bytes/s': 3 }], 0, 1, out)).toThrow(
      ValidationError,
    );
  });

  it('keeps names with quotes, backslashes, backticks and newlines as plain data', () => {
    const names = ['a"b', "c'd", 'e\\f', 'g`h', 'i\nj', '}; throw 1; {'];
    const odd: FeatureLayout = { features: names, required: new Set(names), absentValue: 0, model: 'odd' };
    const out = new Float32Array(names.length);
    compileRowWriter(odd)([Object.fromEntries(names.map((n, i) => [n, i + 1]))], 0, 1, out);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('combineVerdict (the documented policy)', () => {
  const policy: CombinationPolicy = {
    classes: ['benign', 'ddos', 'portscan'],
    benignIndex: 0,
    classThresholds: [Number.POSITIVE_INFINITY, 0.9, 0.6],
    anomalyThreshold: 0.2,
    classifierName: 'flow-classifier',
    anomalyName: 'flow-anomaly',
    modelVersion: 'v-test',
  };

  it('lets the classifier decide when the likeliest attack class reaches its own threshold', () => {
    const v = combineVerdict([0.35, 0.0, 0.65], 0, 0.5, policy);
    expect(v).toEqual({
      label: 'portscan',
      probability: 1 - 0.35,
      anomaly_score: 0.5,
      verdict: 'malicious',
      decided_by: 'flow-classifier',
      model_version: 'v-test',
    });
  });

  it('compares each class with its own threshold, not p_mal with one threshold', () => {
    // P(ddos) = 0.85 < 0.9 although p_mal = 0.95: not the classifier's call (and no anomaly evidence).
    expect(combineVerdict([0.05, 0.85, 0.1], 0, 0, policy)).toMatchObject({
      verdict: 'benign',
      label: 'benign',
    });
    // P(portscan) = 0.6 reaches portscan's 0.6 although p_mal = 0.6 is below ddos's 0.9.
    expect(combineVerdict([0.4, 0.0, 0.6], 0, 0, policy)).toMatchObject({
      verdict: 'malicious',
      label: 'portscan',
      decided_by: 'flow-classifier',
    });
  });

  it("falls back to the anomaly detector, which names the classifier's likeliest attack class", () => {
    const probs = [0.9, 0.05, 0.05, 0.2, 0.5, 0.3];
    expect(combineVerdict(probs, 0, 0.2, policy)).toMatchObject({
      label: 'ddos',
      verdict: 'malicious',
      decided_by: 'flow-anomaly',
    });
    expect(combineVerdict(probs, 0, 0.19, policy)).toMatchObject({
      label: 'benign',
      verdict: 'benign',
      decided_by: 'flow-classifier',
    });
    // Row 1: P(ddos) = 0.5 < 0.9 → not the classifier's call even though argmax is an attack.
    expect(combineVerdict(probs, 1, 0, policy).verdict).toBe('benign');
    expect(combineVerdict(probs, 1, 0.3, policy)).toMatchObject({
      label: 'ddos',
      decided_by: 'flow-anomaly',
    });
  });

  it('breaks ties between attack classes by class order', () => {
    expect(combineVerdict([0, 0.5, 0.5], 0, 1, policy).label).toBe('ddos');
  });
});
