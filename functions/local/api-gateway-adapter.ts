import { randomUUID } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';

/**
 * Turns a Node HTTP request into the API Gateway REST proxy event (v1 payload) a Lambda behind
 * API Gateway receives, and the handler's result back into an HTTP response.
 */
export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface Route {
  method: 'GET' | 'POST';
  /** API Gateway resource path, e.g. `/api/captures/{id}`. */
  resource: string;
  handler: ProxyHandler;
}

/** API Gateway's payload limit for REST APIs. */
export const API_GATEWAY_MAX_BODY_BYTES = 10 * 1024 * 1024;

const TEXT_TYPES = /^(application\/json|text\/|application\/x-www-form-urlencoded)/i;

function matchResource(resource: string, path: string): Record<string, string> | undefined {
  const wanted = resource.split('/');
  const actual = path.split('/');
  if (wanted.length !== actual.length) return undefined;
  const parameters: Record<string, string> = {};
  for (let i = 0; i < wanted.length; i++) {
    const segment = wanted[i] ?? '';
    const value = actual[i] ?? '';
    if (segment.startsWith('{') && segment.endsWith('}')) {
      if (value === '') return undefined;
      parameters[segment.slice(1, -1)] = decodeURIComponent(value);
    } else if (segment !== value) return undefined;
  }
  return parameters;
}

export function findRoute(routes: readonly Route[], path: string) {
  for (const route of routes) {
    const parameters = matchResource(route.resource, path);
    if (parameters) return { route, parameters };
  }
  return undefined;
}

/**
 * The request body, or `'too_large'` once it passes `limit` (the rest is read and dropped, so the connection
 * stays usable for the 413). Listens for `data`/`end` instead of `for await`: the async iterator cost ~20 µs per
 * request, ~5% of a small POST /api/predict.
 */
export function readBody(request: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer | string) => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += buffer.length;
      if (size <= limit) chunks.push(buffer);
    });
    request.once('end', () => {
      if (size > limit) resolve('too_large');
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    request.once('error', reject);
  });
}

/** The path and query of a request target, as `new URL(target, base)` gives them. */
export interface RequestTarget {
  pathname: string;
  searchParams: URLSearchParams;
}

/**
 * Paths `new URL` leaves exactly as sent: no dot segments, nothing it would percent-encode, no fragment. API
 * paths (`/api/predict`, `/api/captures/{uuid}`) always are; anything else goes through `new URL`, whose
 * parsing cost ~17 µs of a ~400 µs request.
 */
const PLAIN_PATH = /^\/[A-Za-z0-9\-_~%!$&'()*+,;=:@/]*$/;

export function parseRequestTarget(target: string | undefined, host: string): RequestTarget {
  const raw = target ?? '/';
  const question = raw.indexOf('?');
  const path = question < 0 ? raw : raw.slice(0, question);
  const query = question < 0 ? '' : raw.slice(question + 1);
  if (PLAIN_PATH.test(path) && !query.includes('#')) {
    return { pathname: path, searchParams: new URLSearchParams(query) };
  }
  const url = new URL(raw, `http://${host}`);
  return { pathname: url.pathname, searchParams: url.searchParams };
}

export function toProxyEvent(
  request: IncomingMessage,
  url: RequestTarget,
  route: Route,
  parameters: Record<string, string>,
  body: Buffer,
): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    headers[name] = values.join(',');
    multiValueHeaders[name] = values;
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = value;
    const values = multiQuery[name];
    if (values) values.push(value);
    else multiQuery[name] = [value];
  }
  const contentType = headers['content-type'] ?? '';
  const binary = body.length > 0 && !TEXT_TYPES.test(contentType);
  const now = Date.now();
  return {
    resource: route.resource,
    path: url.pathname,
    httpMethod: request.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length > 0 ? query : null,
    multiValueQueryStringParameters: Object.keys(multiQuery).length > 0 ? multiQuery : null,
    pathParameters: Object.keys(parameters).length > 0 ? parameters : null,
    stageVariables: null,
    body: body.length === 0 ? null : binary ? body.toString('base64') : body.toString('utf8'),
    isBase64Encoded: binary,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${request.httpVersion}`,
      httpMethod: request.method ?? 'GET',
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: headers['x-api-key'] ?? null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        user: null,
        userAgent: headers['user-agent'] ?? null,
        userArn: null,
      },
      path: url.pathname,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: now,
      requestTime: apiGatewayTime(new Date(now)),
      resourceId: 'local',
      resourcePath: route.resource,
    },
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

let cachedSecond = -1;
let cachedTime = '';

/** API Gateway's `requestTime` format: `28/Nov/2026:23:59:01 +0000` (formatted once per second). */
function apiGatewayTime(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second === cachedSecond) return cachedTime;
  const two = (n: number) => String(n).padStart(2, '0');
  cachedTime = `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${two(date.getUTCHours())}:${two(
    date.getUTCMinutes(),
  )}:${two(date.getUTCSeconds())} +0000`;
  cachedSecond = second;
  return cachedTime;
}

/**
 * The Lambda context of one local invocation. A class, not an object literal with arrow functions: the local
 * runtime runs under tsx, which wraps every such function in a naming helper at each call (~6 µs a request).
 */
class LocalLambdaContext implements Context {
  readonly callbackWaitsForEmptyEventLoop = false;
  readonly functionVersion = '$LATEST';
  readonly memoryLimitInMB = '1024';
  readonly logStreamName = 'local';
  readonly awsRequestId = randomUUID();
  readonly invokedFunctionArn: string;
  readonly logGroupName: string;
  readonly #deadline: number;

  constructor(
    readonly functionName: string,
    timeoutMs: number,
  ) {
    this.#deadline = Date.now() + timeoutMs;
    this.invokedFunctionArn = `arn:aws:lambda:local:000000000000:function:${functionName}`;
    this.logGroupName = `/aws/lambda/${functionName}`;
  }

  getRemainingTimeInMillis(): number {
    return Math.max(0, this.#deadline - Date.now());
  }

  // The callback-era completion methods: the handlers here return promises and never call them.
  done(): void {}
  fail(): void {}
  succeed(): void {}
}

export function lambdaContext(functionName: string, timeoutMs = 29_000): Context {
  return new LocalLambdaContext(functionName, timeoutMs);
}

export function writeProxyResult(response: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name] = typeof value === 'boolean' ? String(value) : value;
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
    headers[name] = values.map(String);
  if (result.isBase64Encoded) {
    const body = Buffer.from(result.body, 'base64');
    headers['Content-Length'] = body.length;
    response.writeHead(result.statusCode, headers);
    response.end(body);
    return;
  }
  // A string body goes out in the same write as the headers (a Buffer would make it a two-part writev).
  const body = result.body ?? '';
  headers['Content-Length'] = Buffer.byteLength(body, 'utf8');
  response.writeHead(result.statusCode, headers);
  response.end(body, 'utf8');
}
