import { type Container, defaultContainer, lazyHandler } from '../pipeline/container.js';
import {
  createUpload,
  inlineTooLarge,
  storeInlineUpload,
  type UploadDependencies,
  uploadRequestSchema,
} from '../pipeline/create-upload.js';
import { ValidationError } from '../platform/errors.js';
import { UNREADABLE_BODY } from '../platform/http-errors.js';
import {
  type ApiEvent,
  header,
  httpHandler,
  httpOptionsFor,
  json,
  jsonBody,
} from '../platform/http-middleware.js';

/**
 * POST /api/upload_pcap. JSON `{filename, size_bytes, tags?}` → presigned POST (the main path);
 * `multipart/form-data` with a small `file` → stored directly (the seed's form upload); larger → 413.
 */
export function createUploadPcapHandler(container: Container) {
  const deps: UploadDependencies = {
    store: container.store,
    captures: container.captures,
    clock: container.clock,
    ids: container.ids,
    maxUploadBytes: container.config.MAX_UPLOAD_BYTES,
    inlineMaxBytes: container.config.INLINE_UPLOAD_MAX_BYTES,
    urlExpiryS: container.config.UPLOAD_URL_EXPIRY_S,
  };
  return httpHandler(async (event) => {
    const contentType = header(event, 'content-type') ?? 'application/json';
    if (contentType.toLowerCase().startsWith('multipart/form-data')) {
      const file = await formFile(event, contentType, deps.inlineMaxBytes);
      return json(201, await storeInlineUpload(deps, file.file, file.tags));
    }
    return json(201, await createUpload(deps, jsonBody(event, uploadRequestSchema)));
  }, httpOptionsFor(container.config));
}

async function formFile(event: ApiEvent, contentType: string, limit: number) {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'binary');
  // The form is larger than the file; refuse clearly oversized bodies before parsing them.
  if (bytes.length > limit + 64 * 1024) throw inlineTooLarge(bytes.length, limit);
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { 'content-type': contentType } }).formData();
  } catch (error) {
    throw new ValidationError(
      'multipart/form-data body could not be read',
      { field: 'body', reason: UNREADABLE_BODY },
      { cause: error },
    );
  }
  const file = form.get('file');
  if (!(file instanceof File))
    throw new ValidationError('form field "file" (a file) is required', { field: 'file' });
  const tags: Record<string, string> = {};
  for (const [key, value] of form.entries()) {
    if (key.startsWith('tag.') && typeof value === 'string') tags[key.slice(4)] = value;
  }
  return {
    file: { filename: file.name || 'capture', bytes: new Uint8Array(await file.arrayBuffer()) },
    tags,
  };
}

export const handler = lazyHandler(() => createUploadPcapHandler(defaultContainer()));
