import { z } from 'zod';

/**
 * The event Lambda's MSK event source delivers (https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html):
 * records grouped under "topic-partition" keys, keys and values base64-encoded, headers as byte arrays.
 * Also what the local bridge (`functions/local/kafka-bridge.ts`) builds from kafkajs batches, so the same handler
 * runs in both places. Values stay base64 here: decoding (and refusing) them is per record, never per batch.
 */
export const mskRecordSchema = z.object({
  topic: z.string().min(1),
  partition: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  timestamp: z.number(),
  timestampType: z.string(),
  key: z.string().nullish(),
  /** Absent or null for a tombstone. */
  value: z.string().nullish(),
  headers: z.array(z.record(z.string(), z.array(z.number().int()))).default([]),
});
export type MskRecord = z.infer<typeof mskRecordSchema>;

export const mskEventSchema = z.object({
  eventSource: z.enum(['aws:kafka', 'SelfManagedKafka']),
  eventSourceArn: z.string().optional(),
  bootstrapServers: z.string().nullish(),
  records: z.record(z.string(), z.array(mskRecordSchema)),
});
export type MskEvent = z.infer<typeof mskEventSchema>;

/** Lambda's partial batch response for Kafka: the first failed offset per partition is where it resumes. */
export interface MskItemIdentifier {
  partition: string;
  offset: number;
}
export interface MskBatchResponse {
  batchItemFailures: { itemIdentifier: MskItemIdentifier }[];
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export interface RawKafkaRecord {
  topic: string;
  partition: number;
  offset: string | number;
  timestamp: string | number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

/** Builds the MSK event shape from records read with a Kafka client (the local bridge, tests). */
export function toMskEvent(records: readonly RawKafkaRecord[], bootstrapServers: string[]): MskEvent {
  const grouped: Record<string, MskRecord[]> = {};
  for (const r of records) {
    const headers: Record<string, number[]>[] = [];
    for (const [name, raw] of Object.entries(r.headers ?? {})) {
      for (const one of Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]) {
        headers.push({ [name]: [...Buffer.from(one)] });
      }
    }
    const key = partitionKey(r.topic, r.partition);
    const list = grouped[key] ?? [];
    grouped[key] = list;
    list.push({
      topic: r.topic,
      partition: r.partition,
      offset: Number(r.offset),
      timestamp: Number(r.timestamp),
      timestampType: 'CREATE_TIME',
      key: r.key ? r.key.toString('base64') : null,
      value: r.value ? r.value.toString('base64') : null,
      headers,
    });
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:local:000000000000:cluster/ccf-local/local',
    bootstrapServers: bootstrapServers.join(','),
    records: grouped,
  };
}
