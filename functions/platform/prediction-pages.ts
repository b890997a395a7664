import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { flowRecordFromCsv } from '../pipeline/flow-record-schema.js';
import { type Prediction, predictionSchema } from '../records/prediction.js';
import { DependencyError } from './errors.js';

/**
 * The storage unit of predictions: a page of up to a few hundred predictions in one DynamoDB item
 * (docs/pipeline.md, "Table design"). Body = gzip(JSON) of a compact, column-named layout:
 *
 *   {"v":1,"cols":[["Flow ID","Src IP",…],["len","source_port",…]],
 *    "rows":[[prediction_id, capture_id, kind, scored_at, label, probability, anomaly_score, verdict,
 *             decided_by, model_version, colsIndex, [input values in cols[colsIndex] order] or the input's
 *             features CSV line (capture flows), schema_version], …]}
 *
 * Input column names are written once per page (a flow record's ~90 names are most of its JSON), and gzip
 * (level 1, pages of 8 KiB or more) takes the rest: a 256-flow page is ~40–70 KB, far under the 400 KB item limit.
 */
export const PAGE_FORMAT_VERSION = 1;

/**
 * Flows per capture prediction page: page keys are derived from flow indexes (`PAGE#{first index}`), so this
 * is fixed per table. 256 flow records compress to ~40–70 KB.
 */
export const PREDICTION_PAGE_SIZE = 256;

const GZIP_FROM_BYTES = 8 * 1024;
const GZIP_MAGIC_0 = 0x1f;
const GZIP_MAGIC_1 = 0x8b;

const pageSchema = z.object({
  v: z.literal(PAGE_FORMAT_VERSION),
  cols: z.array(z.array(z.string())),
  rows: z.array(z.array(z.unknown())),
});

type InputValue = Prediction['input'][string];

export function entryKey(prediction: Pick<Prediction, 'scored_at' | 'prediction_id'>): string {
  return `${prediction.scored_at}#${prediction.prediction_id}`;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Inputs given as features CSV lines (`flowRecordFromCsv` reads them back): the page keeps each line as it
 * is, which spares formatting ~90 numbers per flow again (most of a capture page's encoding time).
 */
export interface CsvInputs {
  columns: readonly string[];
  /** One per prediction, same order. */
  lines: readonly string[];
}

export function encodePredictionPage(predictions: readonly Prediction[], csv?: CsvInputs): Uint8Array {
  const cols: string[][] = csv ? [[...csv.columns]] : [];
  const rows: unknown[][] = [];
  let last = -1;
  for (let r = 0; r < predictions.length; r++) {
    const p = predictions[r] as Prediction;
    const line = csv?.lines[r];
    let index = 0;
    let values: InputValue[] | string;
    if (line !== undefined) {
      values = line;
    } else {
      const names = Object.keys(p.input);
      // Predictions of one page nearly always share their columns (same record shape, same order): compare
      // with the previous set name by name instead of building a signature string per prediction.
      index = last >= 0 && sameNames(cols[last] as string[], names) ? last : -1;
      if (index < 0) {
        index = cols.findIndex((known) => sameNames(known, names));
        if (index < 0) {
          index = cols.length;
          cols.push(names);
        }
      }
      last = index;
      // Object.values follows the same (insertion) order as Object.keys.
      values = Object.values(p.input);
    }
    rows.push([
      p.prediction_id,
      p.capture_id,
      p.kind,
      p.scored_at,
      p.label,
      p.probability,
      p.anomaly_score,
      p.verdict,
      p.decided_by,
      p.model_version,
      index,
      values,
      p.schema_version,
    ]);
  }
  const json = Buffer.from(JSON.stringify({ v: PAGE_FORMAT_VERSION, cols, rows }), 'utf8');
  // Small pages (a few coalesced API predictions) are stored as plain JSON: gzip would cost more CPU than
  // the bytes it saves. Level 1 for the rest: most of the size win for a fraction of the default's CPU.
  return json.byteLength < GZIP_FROM_BYTES ? json : gzipSync(json, { level: 1 });
}

/**
 * One stored row, read lazily: history and `get` look at the id, time and verdict of many rows and build
 * (and validate) a `Prediction` only for the ones they return.
 */
export interface PageRow {
  id: string;
  scoredAt: string;
  verdict: string;
  /** `{scored_at}#{prediction_id}`, the history sort key. */
  key: string;
  toPrediction(): Prediction;
}

/** The page's rows in stored order. */
export function decodePredictionPage(body: Uint8Array): PageRow[] {
  let page: z.infer<typeof pageSchema>;
  try {
    // A JSON body starts with '{'; gzip bodies with their magic number.
    const gzipped = body[0] === GZIP_MAGIC_0 && body[1] === GZIP_MAGIC_1;
    const text = gzipped ? gunzipSync(body).toString('utf8') : Buffer.from(body).toString('utf8');
    page = pageSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new DependencyError(
      'A stored prediction page could not be read',
      { dependency: 'dynamodb' },
      { cause: error },
    );
  }
  const { cols } = page;
  return page.rows.map((row) => {
    const id = String(row[0]);
    const scoredAt = String(row[3]);
    return {
      id,
      scoredAt,
      verdict: String(row[7]),
      key: `${scoredAt}#${id}`,
      toPrediction: () => {
        const names = cols[Number(row[10])] ?? [];
        let input: Record<string, unknown> = {};
        const stored = row[11];
        if (typeof stored === 'string') {
          input = flowRecordFromCsv(names, stored, 0);
        } else {
          const values = Array.isArray(stored) ? stored : [];
          for (let i = 0; i < names.length; i++) input[names[i] as string] = values[i];
        }
        return validatePrediction({
          schema_version: row[12],
          prediction_id: row[0],
          capture_id: row[1],
          kind: row[2],
          scored_at: row[3],
          label: row[4],
          probability: row[5],
          anomaly_score: row[6],
          verdict: row[7],
          decided_by: row[8],
          model_version: row[9],
          input,
        });
      },
    };
  });
}

/** A stored row as a checked `Prediction` (the table is an edge: a corrupt row fails loudly, not silently). */
function validatePrediction(row: unknown): Prediction {
  const result = predictionSchema.safeParse(row);
  if (result.success) return result.data;
  throw new DependencyError(
    `A stored prediction is malformed: ${result.error.issues[0]?.message ?? 'invalid'}`,
    { dependency: 'dynamodb' },
    { cause: result.error },
  );
}
