import {
  aws_apigateway as apigw,
  type aws_lambda as lambda,
  aws_logs as logs,
  RemovalPolicy,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { StageConfig } from '../../config/stages.js';

export interface RestApiRoutes {
  readonly uploadPcap: lambda.IFunction;
  readonly predict: lambda.IFunction;
  readonly history: lambda.IFunction;
  readonly captureStatus: lambda.IFunction;
  readonly republishCapture: lambda.IFunction;
  readonly searchFlows: lambda.IFunction;
}

/**
 * The project's error shape `{error, message, details}` for errors API Gateway answers itself.
 * `$context.error.messageString` is already a quoted JSON string.
 */
function errorTemplate(error: string): Record<string, string> {
  return { 'application/json': `{"error":"${error}","message":$context.error.messageString,"details":{}}` };
}

/**
 * The REST API: every method requires an API key (usage plan with throttling and a daily quota),
 * requests are validated before a function runs, access logs are JSON in CloudWatch, X-Ray on.
 */
export class RestApi extends Construct {
  readonly api: apigw.RestApi;
  readonly apiKey: apigw.IApiKey;
  readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, config: StageConfig, routes: RestApiRoutes) {
    super(scope, id);
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: config.logRetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.api = new apigw.RestApi(this, 'Api', {
      description: `CCF-Catcher API (${config.name})`,
      cloudWatchRole: true,
      // The role is an account-wide API Gateway setting shared by every stage's API: never delete it.
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // Small captures may be posted as multipart/form-data; keep their bytes intact (base64 to Lambda).
      binaryMediaTypes: ['multipart/form-data'],
      deployOptions: {
        stageName: config.name,
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: apigw.MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        throttlingRateLimit: config.api.rateLimitPerSecond,
        throttlingBurstLimit: config.api.burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
      },
      defaultMethodOptions: { apiKeyRequired: true },
      defaultCorsPreflightOptions: {
        allowOrigins: [...config.upload.allowedOrigins],
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        allowHeaders: [...apigw.Cors.DEFAULT_HEADERS, 'X-Api-Key'],
      },
    });

    const cors = { 'Access-Control-Allow-Origin': `'${config.upload.allowedOrigins[0] ?? '*'}'` };
    this.api.addGatewayResponse('BadRequestBody', {
      type: apigw.ResponseType.BAD_REQUEST_BODY,
      statusCode: '400',
      responseHeaders: cors,
      templates: errorTemplate('ValidationError'),
    });
    this.api.addGatewayResponse('BadRequestParameters', {
      type: apigw.ResponseType.BAD_REQUEST_PARAMETERS,
      statusCode: '400',
      responseHeaders: cors,
      templates: errorTemplate('ValidationError'),
    });
    this.api.addGatewayResponse('Default4xx', {
      type: apigw.ResponseType.DEFAULT_4XX,
      responseHeaders: cors,
      templates: errorTemplate('RequestError'),
    });
    this.api.addGatewayResponse('Default5xx', {
      type: apigw.ResponseType.DEFAULT_5XX,
      responseHeaders: cors,
      templates: errorTemplate('InternalError'),
    });

    const validateBody = this.api.addRequestValidator('ValidateBody', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const validateParameters = this.api.addRequestValidator('ValidateParameters', {
      validateRequestBody: false,
      validateRequestParameters: true,
    });

    const predictModel = this.api.addModel('PredictRequest', {
      contentType: 'application/json',
      // Only the shape is checked here (a non-empty JSON object): field-level errors come from the
      // handler's zod schema, which names the field (API Gateway's messages cannot be passed on safely).
      description: 'One packet ({len, source_port, dest_port}), one flow record, or {flows: [...]}',
      schema: {
        schema: apigw.JsonSchemaVersion.DRAFT4,
        type: apigw.JsonSchemaType.OBJECT,
        minProperties: 1,
      },
    });

    const integration = (fn: lambda.IFunction) => new apigw.LambdaIntegration(fn, { proxy: true });
    const root = this.api.root.addResource('api');

    root.addResource('upload_pcap').addMethod('POST', integration(routes.uploadPcap), {
      requestValidator: validateParameters,
      requestParameters: { 'method.request.header.Content-Type': true },
    });
    root.addResource('predict').addMethod('POST', integration(routes.predict), {
      requestValidator: validateBody,
      requestModels: { 'application/json': predictModel },
    });
    root.addResource('history').addMethod('GET', integration(routes.history), {
      requestValidator: validateParameters,
      requestParameters: {
        'method.request.querystring.limit': false,
        'method.request.querystring.cursor': false,
        'method.request.querystring.capture_id': false,
        'method.request.querystring.verdict': false,
        'method.request.querystring.from': false,
        'method.request.querystring.to': false,
      },
    });
    const capture = root.addResource('captures').addResource('{id}');
    capture.addMethod('GET', integration(routes.captureStatus), {
      requestValidator: validateParameters,
      requestParameters: { 'method.request.path.id': true },
    });
    capture.addResource('publish').addMethod('POST', integration(routes.republishCapture), {
      requestValidator: validateParameters,
      requestParameters: { 'method.request.path.id': true },
    });
    root.addResource('flows').addMethod('GET', integration(routes.searchFlows), {
      requestValidator: validateParameters,
      requestParameters: {
        'method.request.querystring.q': false,
        'method.request.querystring.limit': false,
        'method.request.querystring.cursor': false,
      },
    });

    this.apiKey = this.api.addApiKey('DefaultKey', { description: `CCF-Catcher ${config.name} client key` });
    const plan = this.api.addUsagePlan('UsagePlan', {
      description: `CCF-Catcher ${config.name}`,
      throttle: { rateLimit: config.api.rateLimitPerSecond, burstLimit: config.api.burstLimit },
      quota: { limit: config.api.quotaPerDay, period: apigw.Period.DAY },
    });
    plan.addApiKey(this.apiKey);
    plan.addApiStage({ stage: this.api.deploymentStage });
  }
}
