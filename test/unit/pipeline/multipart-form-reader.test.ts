import { describe, expect, it } from 'vitest';
import {
  type FormPartInfo,
  formBoundary,
  MalformedFormError,
  MultipartFormParser,
  type PartMode,
} from '../../../functions/local/multipart-form-reader.js';

const BOUNDARY = '----ccfTestBoundary42';

function form(
  parts: { name: string; filename?: string; body: Buffer | string }[],
  epilogue = '\r\n',
): Buffer {
  const pieces: Buffer[] = [Buffer.from('preamble text to ignore\r\n')];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}`;
    pieces.push(Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: ${disposition}\r\n\r\n`));
    pieces.push(typeof part.body === 'string' ? Buffer.from(part.body) : part.body);
    pieces.push(Buffer.from('\r\n'));
  }
  pieces.push(Buffer.from(`--${BOUNDARY}--${epilogue}`));
  return Buffer.concat(pieces);
}

/** Runs the parser over `body` cut into the given pieces; streams parts named `file`, skips those after it. */
function parse(body: Buffer, cuts: number[]) {
  const fields = new Map<string, string>();
  const file: Buffer[] = [];
  const seen: string[] = [];
  let fileParts = 0;
  const parser = new MultipartFormParser(
    BOUNDARY,
    {
      part(info: FormPartInfo): PartMode {
        seen.push(info.name);
        if (fileParts > 0) return 'skip';
        if (info.name === 'file') {
          fileParts++;
          return 'stream';
        }
        return 'text';
      },
      text(info, value) {
        fields.set(info.name, value);
      },
      data(chunk) {
        file.push(Buffer.from(chunk));
      },
      streamEnd() {},
    },
    { headerBytes: 1024, textBytes: 1024 },
  );
  let at = 0;
  for (const cut of [...cuts, body.length]) {
    parser.push(body.subarray(at, cut));
    at = cut;
  }
  parser.end();
  return { fields, file: Buffer.concat(file), seen };
}

describe('MultipartFormParser', () => {
  // File bytes that look like the start of a delimiter, and a delimiter with a different boundary.
  const fileBytes = Buffer.concat([
    Buffer.from([0, 1, 2, 0x0d, 0x0a, 0x2d, 0x2d]),
    Buffer.from(`----ccfTestBoundary4`),
    Buffer.from('\r\n--other\r\n'),
    Buffer.alloc(300, 7),
    Buffer.from('\r\n-'),
  ]);
  const body = form([
    { name: 'key', body: 'uploads/abc/x.pcap' },
    { name: 'Policy', body: 'eyJ4IjoxfQ==' },
    { name: 'file', filename: 'x.pcap', body: fileBytes },
    { name: 'after', body: 'ignored' },
  ]);

  it('collects the fields and streams the file exactly, wherever the body is cut', () => {
    for (let cut = 0; cut <= body.length; cut++) {
      const { fields, file, seen } = parse(body, [cut]);
      expect(file.equals(fileBytes), `cut at ${cut}`).toBe(true);
      expect(fields.get('key')).toBe('uploads/abc/x.pcap');
      expect(fields.get('Policy')).toBe('eyJ4IjoxfQ==');
      expect(fields.has('after')).toBe(false);
      expect(seen).toEqual(['key', 'Policy', 'file', 'after']);
    }
  });

  it('handles a body pushed a byte at a time', () => {
    const cuts = Array.from({ length: body.length - 1 }, (_, i) => i + 1);
    expect(parse(body, cuts).file.equals(fileBytes)).toBe(true);
  });

  it('accepts a closing delimiter without a final line break', () => {
    const bare = form([{ name: 'file', filename: 'f', body: 'abc' }], '');
    expect(parse(bare, []).file.toString()).toBe('abc');
  });

  it('refuses a body without its closing delimiter, a part without a name, an oversized field', () => {
    const truncated = body.subarray(0, body.length - 10);
    expect(() => parse(truncated, [])).toThrow(MalformedFormError);
    const nameless = Buffer.from(`--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nx\r\n--${BOUNDARY}--\r\n`);
    expect(() => parse(nameless, [])).toThrow(/Content-Disposition/);
    const large = form([{ name: 'policy', body: 'p'.repeat(2000) }]);
    expect(() => parse(large, [100])).toThrow(/too large/);
  });
});

describe('formBoundary', () => {
  it('reads quoted and bare boundaries of multipart/form-data only', () => {
    expect(formBoundary('multipart/form-data; boundary=abc')).toBe('abc');
    expect(formBoundary('multipart/form-data; charset=utf-8; boundary="a b"')).toBe('a b');
    expect(formBoundary('application/json')).toBeUndefined();
    expect(formBoundary(undefined)).toBeUndefined();
  });
});
