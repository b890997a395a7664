import { z } from 'zod';
import { PayloadTooLargeError } from '../platform/errors.js';
import type { CaptureRepository, CaptureStore, Clock, IdSource, PresignedPost } from '../platform/ports.js';
import { safeFileName, uploadKey } from './capture-keys.js';

/** POST /api/upload_pcap body (JSON). */
export const uploadRequestSchema = z
  .object({
    filename: z.string().min(1).max(255),
    size_bytes: z.number().int().positive(),
    tags: z.record(z.string().min(1).max(64), z.string().max(256)).optional(),
  })
  .strict();
export type UploadRequest = z.infer<typeof uploadRequestSchema>;

export const CAPTURE_CONTENT_TYPE = 'application/octet-stream';

export interface UploadDependencies {
  store: CaptureStore;
  captures: CaptureRepository;
  clock: Clock;
  ids: IdSource;
  maxUploadBytes: number;
  inlineMaxBytes: number;
  urlExpiryS: number;
}

export interface UploadTicket {
  status: 'success';
  message: string;
  capture_id: string;
  upload: PresignedPost | null;
  expires_at: string | null;
}

/** Presigned flow: a PENDING capture record and a POST policy that S3 enforces (size range, type, expiry). */
export async function createUpload(deps: UploadDependencies, request: UploadRequest): Promise<UploadTicket> {
  if (request.size_bytes > deps.maxUploadBytes) {
    throw new PayloadTooLargeError(
      `size_bytes ${request.size_bytes} is over the upload limit of ${deps.maxUploadBytes} bytes`,
      {
        field: 'size_bytes',
        limit: deps.maxUploadBytes,
      },
    );
  }
  const captureId = deps.ids.newId();
  const key = uploadKey(captureId, request.filename);
  const now = deps.clock.now();
  const upload = await deps.store.createPresignedPost({
    key,
    maxBytes: deps.maxUploadBytes,
    contentType: CAPTURE_CONTENT_TYPE,
    expiresInS: deps.urlExpiryS,
  });
  await deps.captures.create({
    captureId,
    filename: safeFileName(request.filename),
    sizeBytes: request.size_bytes,
    tags: request.tags ?? {},
    uploadKey: key,
    createdAt: now.toISOString(),
  });
  return {
    status: 'success',
    message: `POST the file to upload.url with upload.fields (form field "file" last) before expires_at; then poll GET /api/captures/${captureId}`,
    capture_id: captureId,
    upload,
    expires_at: new Date(now.getTime() + deps.urlExpiryS * 1000).toISOString(),
  };
}

/** Small captures sent inline (multipart/form-data through API Gateway), stored as if uploaded with the POST. */
export async function storeInlineUpload(
  deps: UploadDependencies,
  file: { filename: string; bytes: Uint8Array },
  tags: Record<string, string>,
): Promise<UploadTicket> {
  if (file.bytes.length > deps.inlineMaxBytes) throw inlineTooLarge(file.bytes.length, deps.inlineMaxBytes);
  const captureId = deps.ids.newId();
  const key = uploadKey(captureId, file.filename);
  await deps.captures.create({
    captureId,
    filename: safeFileName(file.filename),
    sizeBytes: file.bytes.length,
    tags,
    uploadKey: key,
    createdAt: deps.clock.now().toISOString(),
  });
  await deps.store.putBytes(key, file.bytes, CAPTURE_CONTENT_TYPE);
  return {
    status: 'success',
    message: `Capture stored; poll GET /api/captures/${captureId}`,
    capture_id: captureId,
    upload: null,
    expires_at: null,
  };
}

export function inlineTooLarge(sizeBytes: number, limit: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `An inline upload takes at most ${limit} bytes (got ${sizeBytes}); for larger captures POST JSON {filename, size_bytes} to /api/upload_pcap and upload with the presigned POST it returns`,
    { limit, field: 'file', presigned_flow: 'POST /api/upload_pcap with a JSON body' },
  );
}
