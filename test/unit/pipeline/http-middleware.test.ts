import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { lambdaContext } from '../../../functions/local/api-gateway-adapter.js';
import { ValidationError } from '../../../functions/platform/errors.js';
import { httpHandler, json } from '../../../functions/platform/http-middleware.js';

function postEvent(body: string): APIGatewayProxyEvent {
  return {
    resource: '/api/predict',
    path: '/api/predict',
    httpMethod: 'POST',
    headers: { 'content-type': 'application/json', origin: 'http://localhost:5173' },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: 'HTTP/1.1',
      httpMethod: 'POST',
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp: '127.0.0.1',
        user: null,
        userAgent: null,
        userArn: null,
      },
      path: '/api/predict',
      stage: 'local',
      requestId: 'r-1',
      requestTimeEpoch: 0,
      resourceId: 'local',
      resourcePath: '/api/predict',
    },
  };
}

const slow = (ms: number) => async () => {
  await new Promise((done) => setTimeout(done, ms));
  return json(200, { status: 'success' });
};

describe('httpHandler', () => {
  it('locally lets a request run past the Lambda deadline (no early-timeout timer)', async () => {
    const handler = httpHandler(slow(40), { corsOrigins: '*', local: true });
    const result = await handler(postEvent('{}'), lambdaContext('predict', 10));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ status: 'success' });
  });

  it('in Lambda still answers before the deadline (middy early timeout, mapped to a generic 500)', async () => {
    const handler = httpHandler(slow(200), { corsOrigins: '*', local: false });
    const result = await handler(postEvent('{}'), lambdaContext('predict', 30));
    expect(result.statusCode).toBe(500);
    expect(JSON.parse(result.body).error).toBe('INTERNAL');
  });

  it.each([true, false])('maps errors in one place and adds CORS headers (local %s)', async (local) => {
    const handler = httpHandler(
      async () => {
        throw new ValidationError('len: Expected number', { field: 'len' });
      },
      { corsOrigins: '*', local },
    );
    const result = await handler(postEvent('{"len":"x"}'), lambdaContext('predict'));
    expect(result.statusCode).toBe(422);
    expect(JSON.parse(result.body).details.field).toBe('len');
    expect(result.headers?.['Access-Control-Allow-Origin']).toBe('*');
  });
});
