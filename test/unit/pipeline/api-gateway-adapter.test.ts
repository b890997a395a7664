import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  parseRequestTarget,
  readBody,
  writeProxyResult,
} from '../../../functions/local/api-gateway-adapter.js';

describe('parseRequestTarget', () => {
  // The fast path must give exactly what `new URL` gives, which it replaces for plain API paths.
  it.each([
    '/api/predict',
    '/api/history?limit=5&verdict=malicious',
    '/api/history?capture_id=a&capture_id=b',
    '/api/captures/5f0c7a2e-8d7e-4a51-9a55-0e0f1d2c3b4a',
    '/api/captures/a%20b',
    '/api/history?from=2026-11-29T00%3A00%3A00Z&to=x+y',
    '/api/history?',
    '/',
    // Not plain: dot segments, characters URL encodes, fragments. These go through `new URL`.
    '/api/../api/predict',
    '/api/./history?limit=1',
    '/api/caps/a b',
    '/api/history?x=1#frag',
    '/api/caps/é',
  ])('%s is parsed as new URL parses it', (target) => {
    const url = new URL(target, 'http://127.0.0.1:3000');
    const parsed = parseRequestTarget(target, '127.0.0.1:3000');
    expect(parsed.pathname).toBe(url.pathname);
    expect([...parsed.searchParams]).toEqual([...url.searchParams]);
  });

  it('reads a missing target as /', () => {
    expect(parseRequestTarget(undefined, 'localhost').pathname).toBe('/');
  });
});

describe('readBody and writeProxyResult over a real socket', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    server = undefined;
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((done) => server?.listen(0, '127.0.0.1', () => done()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('gives the whole body, and too_large past the limit while keeping the connection answerable', async () => {
    const seen: (number | string)[] = [];
    const url = await serve((request, response) => {
      void readBody(request, 64 * 1024).then((body) => {
        seen.push(body === 'too_large' ? body : body.length);
        writeProxyResult(response, {
          statusCode: body === 'too_large' ? 413 : 200,
          headers: { 'Content-Type': 'text/plain' },
          body: body === 'too_large' ? 'too large' : body.toString('utf8').slice(0, 5),
        });
      });
    });
    const small = await fetch(url, { method: 'POST', body: 'hello world' });
    expect(small.status).toBe(200);
    expect(await small.text()).toBe('hello');
    // Several chunks, over the limit.
    const large = await fetch(url, { method: 'POST', body: 'x'.repeat(200 * 1024) });
    expect(large.status).toBe(413);
    expect(await large.text()).toBe('too large');
    const exact = await fetch(url, { method: 'POST', body: 'y'.repeat(64 * 1024) });
    expect(exact.status).toBe(200);
    expect(seen).toEqual([11, 'too_large', 64 * 1024]);
  });

  it('sets Content-Length in bytes (multibyte text) and decodes base64 bodies', async () => {
    const url = await serve((request, response) => {
      if (request.url === '/text') {
        writeProxyResult(response, {
          statusCode: 200,
          headers: { 'Content-Type': 'application/json', 'X-Flag': true },
          multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
          body: '{"name":"Zürich ✓"}',
        });
      } else {
        writeProxyResult(response, {
          statusCode: 201,
          headers: { 'Content-Type': 'application/octet-stream' },
          body: Buffer.from([0, 1, 2, 255]).toString('base64'),
          isBase64Encoded: true,
        });
      }
    });
    const text = await fetch(`${url}/text`);
    expect(text.headers.get('content-length')).toBe(String(Buffer.byteLength('{"name":"Zürich ✓"}')));
    expect(text.headers.get('x-flag')).toBe('true');
    expect(text.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(await text.json()).toEqual({ name: 'Zürich ✓' });
    const binary = await fetch(`${url}/binary`);
    expect(binary.status).toBe(201);
    expect(binary.headers.get('content-length')).toBe('4');
    expect([...new Uint8Array(await binary.arrayBuffer())]).toEqual([0, 1, 2, 255]);
  });
});
