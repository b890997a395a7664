import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, logLevel } from 'kafkajs';
import {
  isProcessAlive,
  KAFKA_VERSION,
  type KafkaState,
  OPENSEARCH_VERSION,
  type OpenSearchState,
  readServicesState,
  SCALA_BINARY_VERSION,
  type ServicePaths,
  type ServicesState,
  servicePaths,
  servicesOwner,
} from './state.js';

/**
 * Real Apache Kafka (KRaft, one node) and OpenSearch on this machine, from Maven Central through `mvn`,
 * cached under `.cache/services/` (git-ignored), started with Java 17 and small heaps on loopback ports,
 * stopped by their recorded process ids. Used by `npm run services:up|down|status` and by the streaming tests.
 */

export const PREDICTIONS_TOPIC = 'network_predictions';
const MAVEN_DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
const KAFKA_MAIN_CLASS = 'kafka.Kafka';
const OPENSEARCH_MAIN_CLASS = 'org.opensearch.bootstrap.OpenSearch';
/** OpenSearch refuses to run as root; as root we run it as this unprivileged user. */
const UNPRIVILEGED_UID = 65534;
const UNPRIVILEGED_GID = 65534;

export type ServiceName = 'kafka' | 'opensearch';

/** A prerequisite (Java, Maven, a download, a port) is missing, or a service did not become healthy. */
export class ServicesSetupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServicesSetupError';
  }
}

export interface ServiceSettings {
  javaHome: string;
  kafkaPort: number;
  kafkaControllerPort: number;
  opensearchPort: number;
  opensearchTransportPort: number;
  kafkaHeapMb: number;
  opensearchHeapMb: number;
  startTimeoutMs: number;
  log: (line: string) => void;
}

function envPort(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ServicesSetupError(`${name} must be a TCP port (1-65535), got '${raw}'`);
  }
  return port;
}

function findJavaHome(): string {
  const candidates = [
    process.env.CCF_JAVA_HOME,
    '/usr/lib/jvm/java-17-openjdk-amd64',
    '/usr/lib/jvm/java-17-openjdk-arm64',
    '/usr/lib/jvm/java-17-openjdk',
    process.env.JAVA_HOME,
  ];
  for (const home of candidates) {
    if (home && existsSync(join(home, 'bin', 'java'))) return home;
  }
  // Any other Java on PATH (Kafka 3.9 and OpenSearch 2.19 also run on 11 and 21).
  const onPath = spawnSync('sh', ['-c', 'readlink -f "$(command -v java)"'], { encoding: 'utf8' });
  const binary = onPath.status === 0 ? onPath.stdout.trim() : '';
  if (binary.endsWith('/bin/java')) return binary.slice(0, -'/bin/java'.length);
  throw new ServicesSetupError(
    'Java 17 was not found. Install it (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless) ' +
      'or set CCF_JAVA_HOME to a Java 17 installation.',
  );
}

export function defaultSettings(overrides: Partial<ServiceSettings> = {}): ServiceSettings {
  const kafkaPort = envPort('CCF_KAFKA_PORT', 9092);
  const opensearchPort = envPort('CCF_OPENSEARCH_PORT', 9200);
  return {
    javaHome: overrides.javaHome ?? findJavaHome(),
    kafkaPort,
    kafkaControllerPort: kafkaPort + 1,
    opensearchPort,
    opensearchTransportPort: opensearchPort + 100,
    kafkaHeapMb: 512,
    opensearchHeapMb: 512,
    startTimeoutMs: 240_000,
    log: (line) => process.stderr.write(`services: ${line}\n`),
    ...overrides,
  };
}

// ------------------------------------------------------------------ fetching (once)

function requireMaven(): string {
  const probe = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new ServicesSetupError(
      'Maven (mvn) was not found: it fetches Kafka and OpenSearch from Maven Central once. ' +
        'Install it (Debian/Ubuntu: apt-get install maven) and retry.',
    );
  }
  return 'mvn';
}

function runMaven(args: string[], cwd: string, javaHome: string): void {
  const result = spawnSync(requireMaven(), ['-B', '-q', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, JAVA_HOME: javaHome },
  });
  if (result.status !== 0) {
    throw new ServicesSetupError(
      `mvn ${args.join(' ')} failed (exit ${result.status}):\n${(result.stdout + result.stderr).slice(-4000)}`,
    );
  }
}

function kafkaPom(): string {
  // kafka_2.13 declares the broker's runtime dependencies; slf4j-reload4j is the logging binding the
  // Kafka distribution ships (the broker logs through log4j 1.x-compatible reload4j in 3.x).
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.ccf-catcher</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_BINARY_VERSION}</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
`;
}

function fetchKafka(paths: ServicePaths, settings: ServiceSettings): void {
  const marker = join(paths.kafkaHome, '.complete');
  if (existsSync(marker)) return;
  settings.log(`fetching Apache Kafka ${KAFKA_VERSION} (kafka_${SCALA_BINARY_VERSION}) with mvn…`);
  rmSync(paths.kafkaHome, { recursive: true, force: true });
  mkdirSync(paths.kafkaHome, { recursive: true });
  writeFileSync(join(paths.kafkaHome, 'pom.xml'), kafkaPom());
  runMaven(
    [`${MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies`, '-DincludeScope=runtime', '-DoutputDirectory=libs'],
    paths.kafkaHome,
    settings.javaHome,
  );
  writeFileSync(
    join(paths.kafkaHome, 'log4j.properties'),
    [
      'log4j.rootLogger=INFO, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka=INFO',
      'log4j.logger.org.apache.kafka=WARN',
      'log4j.logger.kafka.log.LogCleaner=WARN',
      '',
    ].join('\n'),
  );
  writeFileSync(marker, new Date().toISOString());
}

function fetchOpenSearch(paths: ServicePaths, settings: ServiceSettings): void {
  const marker = join(paths.opensearchHome, '.complete');
  if (existsSync(marker)) return;
  settings.log(`fetching OpenSearch ${OPENSEARCH_VERSION} (integ-test-zip distribution) with mvn…`);
  mkdirSync(paths.downloads, { recursive: true });
  const zipName = `opensearch-${OPENSEARCH_VERSION}.zip`;
  runMaven(
    [
      `${MAVEN_DEPENDENCY_PLUGIN}:copy`,
      `-Dartifact=org.opensearch.distribution.integ-test-zip:opensearch:${OPENSEARCH_VERSION}:zip`,
      `-DoutputDirectory=${paths.downloads}`,
    ],
    paths.root,
    settings.javaHome,
  );
  const zip = join(paths.downloads, zipName);
  if (!existsSync(zip)) throw new ServicesSetupError(`mvn did not produce ${zip}`);
  const staging = join(dirname(paths.opensearchHome), `.unpack-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const unzip = spawnSync('unzip', ['-q', zip, '-d', staging], { encoding: 'utf8' });
  if (unzip.error || unzip.status !== 0) {
    // No unzip on this machine: the JDK's jar tool extracts zips too (without the executable bits).
    const jar = spawnSync(join(settings.javaHome, 'bin', 'jar'), ['xf', zip], {
      cwd: staging,
      encoding: 'utf8',
    });
    if (jar.status !== 0) throw new ServicesSetupError(`could not extract ${zip}: ${jar.stderr}`);
  }
  rmSync(paths.opensearchHome, { recursive: true, force: true });
  renameSync(join(staging, `opensearch-${OPENSEARCH_VERSION}`), paths.opensearchHome);
  rmSync(staging, { recursive: true, force: true });
  for (const entry of readdirSync(join(paths.opensearchHome, 'bin'))) {
    chmodSync(join(paths.opensearchHome, 'bin', entry), 0o755);
  }
  writeFileSync(marker, new Date().toISOString());
}

// ------------------------------------------------------------------ health

function portOpen(port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Kafka answers metadata requests and the predictions topic exists (created with 3 partitions if missing). */
export async function kafkaHealthy(brokers: string[]): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'ccf-services-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (cluster.brokers.length === 0) return false;
    const topics = await admin.listTopics();
    if (!topics.includes(PREDICTIONS_TOPIC)) {
      await admin.createTopics({
        topics: [{ topic: PREDICTIONS_TOPIC, numPartitions: 3, replicationFactor: 1 }],
        waitForLeaders: true,
      });
    }
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function opensearchHealthy(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`, {
      signal: AbortSignal.timeout(3000),
    });
    if (!response.ok) return false;
    const body = (await response.json()) as { status?: unknown };
    return body.status === 'green' || body.status === 'yellow';
  } catch {
    return false;
  }
}

async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  pid: number,
  logFile: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    if (!isProcessAlive(pid)) {
      throw new ServicesSetupError(
        `${what} exited during start-up; last lines of ${logFile}:\n${tail(logFile)}`,
      );
    }
    await sleep(500);
  }
  throw new ServicesSetupError(`${what} did not become healthy in ${timeoutMs / 1000} s; see ${logFile}`);
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ------------------------------------------------------------------ state

function writeState(paths: ServicePaths, state: ServicesState): void {
  mkdirSync(paths.root, { recursive: true });
  const temporary = `${paths.stateFile}.${process.pid}`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temporary, paths.stateFile);
}

function updateState(paths: ServicePaths, change: (state: ServicesState) => void): void {
  const state = readServicesState(paths);
  change(state);
  writeState(paths, state);
}

/** True when `pid` is alive and its command line names `mainClass` (guards against reused pids). */
function isOurProcess(pid: number | null | undefined, mainClass: string): pid is number {
  if (pid == null || !isProcessAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(mainClass);
  } catch {
    return true;
  }
}

// ------------------------------------------------------------------ starting

function openLog(paths: ServicePaths, name: string): { fd: number; file: string } {
  mkdirSync(paths.logs, { recursive: true });
  const file = join(paths.logs, `${name}.out`);
  return { fd: openSync(file, 'a'), file };
}

function kafkaServerProperties(paths: ServicePaths, settings: ServiceSettings): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${settings.kafkaControllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${settings.kafkaPort},CONTROLLER://127.0.0.1:${settings.kafkaControllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${settings.kafkaPort}`,
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${paths.kafkaData}`,
    'num.partitions=3',
    'auto.create.topics.enable=true',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=5',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=5',
    'group.initial.rebalance.delay.ms=0',
    'log.retention.hours=24',
    'log.segment.bytes=67108864',
    '',
  ].join('\n');
}

async function startKafka(paths: ServicePaths, settings: ServiceSettings): Promise<KafkaState> {
  const brokers = [`127.0.0.1:${settings.kafkaPort}`];
  const recorded = readServicesState(paths).kafka;
  if (recorded && (recorded.external || isOurProcess(recorded.pid, KAFKA_MAIN_CLASS))) {
    if (await kafkaHealthy(recorded.brokers)) return recorded;
    if (recorded.pid != null && !recorded.external) {
      await waitFor(
        'Kafka',
        () => kafkaHealthy(recorded.brokers),
        recorded.pid,
        join(paths.logs, 'kafka.out'),
        settings.startTimeoutMs,
      );
      return recorded;
    }
  }
  if (await portOpen(settings.kafkaPort)) {
    if (await kafkaHealthy(brokers)) {
      settings.log(`reusing the Kafka broker already listening on ${brokers[0]}`);
      const state: KafkaState = { pid: null, external: true, brokers, startedAt: new Date().toISOString() };
      updateState(paths, (s) => {
        s.kafka = state;
      });
      return state;
    }
    throw new ServicesSetupError(
      `port ${settings.kafkaPort} is taken by something that is not a Kafka broker; set CCF_KAFKA_PORT`,
    );
  }
  fetchKafka(paths, settings);
  const java = join(settings.javaHome, 'bin', 'java');
  const classpath = `${join(paths.kafkaHome, 'libs')}/*`;
  const config = join(paths.kafkaHome, 'server.properties');
  writeFileSync(config, kafkaServerProperties(paths, settings));
  const log4j = `-Dlog4j.configuration=file:${join(paths.kafkaHome, 'log4j.properties')}`;
  if (!existsSync(join(paths.kafkaData, 'meta.properties'))) {
    mkdirSync(paths.kafkaData, { recursive: true });
    const format = spawnSync(
      java,
      [log4j, '-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', config],
      { encoding: 'utf8' },
    );
    if (format.status !== 0) {
      throw new ServicesSetupError(
        `formatting Kafka storage failed:\n${(format.stdout + format.stderr).slice(-3000)}`,
      );
    }
  }
  const { fd, file } = openLog(paths, 'kafka');
  const child = spawn(
    java,
    [
      `-Xms${Math.min(256, settings.kafkaHeapMb)}m`,
      `-Xmx${settings.kafkaHeapMb}m`,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.awt.headless=true',
      log4j,
      '-cp',
      classpath,
      KAFKA_MAIN_CLASS,
      config,
    ],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new ServicesSetupError('could not start Kafka (no process id)');
  const state: KafkaState = {
    pid,
    external: false,
    brokers,
    startedAt: new Date().toISOString(),
    ...servicesOwner(),
  };
  updateState(paths, (s) => {
    s.kafka = state;
  });
  settings.log(`Kafka ${KAFKA_VERSION} starting (pid ${pid}, ${brokers[0]})`);
  await waitFor('Kafka', () => kafkaHealthy(brokers), pid, file, settings.startTimeoutMs);
  return state;
}

/**
 * A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (as `kafka-storage random-uuid`). One in
 * 64 starts with '-', which the storage tool's argument parser reads as an option (`-t -x…`: "expected one
 * argument"); Kafka's own `Uuid.randomUuid` draws again in that case, and so does this.
 */
function clusterId(): string {
  for (;;) {
    const id = Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (!statSync(path).isDirectory()) return;
  for (const entry of readdirSync(path)) chownTree(join(path, entry), uid, gid);
}

async function startOpenSearch(paths: ServicePaths, settings: ServiceSettings): Promise<OpenSearchState> {
  const url = `http://127.0.0.1:${settings.opensearchPort}`;
  const recorded = readServicesState(paths).opensearch;
  if (recorded && (recorded.external || isOurProcess(recorded.pid, OPENSEARCH_MAIN_CLASS))) {
    if (recorded.pid != null && !recorded.external) {
      await waitFor(
        'OpenSearch',
        () => opensearchHealthy(recorded.url),
        recorded.pid,
        join(paths.logs, 'opensearch.out'),
        settings.startTimeoutMs,
      );
      return recorded;
    }
    if (await opensearchHealthy(recorded.url)) return recorded;
  }
  if (await portOpen(settings.opensearchPort)) {
    if (await opensearchHealthy(url)) {
      settings.log(`reusing the OpenSearch node already listening on ${url}`);
      const state: OpenSearchState = { pid: null, external: true, url, startedAt: new Date().toISOString() };
      updateState(paths, (s) => {
        s.opensearch = state;
      });
      return state;
    }
    throw new ServicesSetupError(
      `port ${settings.opensearchPort} is taken by something that is not OpenSearch; set CCF_OPENSEARCH_PORT`,
    );
  }
  fetchOpenSearch(paths, settings);
  const opensearchLogs = join(paths.logs, 'opensearch');
  for (const dir of [paths.opensearchData, opensearchLogs, paths.run]) mkdirSync(dir, { recursive: true });
  const pidFile = join(paths.run, 'opensearch.pid');
  rmSync(pidFile, { force: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // OpenSearch refuses to run as root (bootstrap check); run it as `nobody`, who must own its files.
    for (const dir of [paths.opensearchHome, paths.opensearchData, opensearchLogs, paths.run]) {
      chownTree(dir, UNPRIVILEGED_UID, UNPRIVILEGED_GID);
    }
  }
  const command = join(paths.opensearchHome, 'bin', 'opensearch');
  const args = [
    '-p',
    pidFile,
    '-Ediscovery.type=single-node',
    '-Enetwork.host=127.0.0.1',
    `-Ehttp.port=${settings.opensearchPort}`,
    `-Etransport.port=${settings.opensearchTransportPort}`,
    `-Epath.data=${paths.opensearchData}`,
    `-Epath.logs=${opensearchLogs}`,
    '-Ecluster.name=ccf-local',
    '-Enode.name=ccf-local-1',
    // A nearly full development disk must not flip indices to read-only.
    '-Ecluster.routing.allocation.disk.threshold_enabled=false',
    '-Eaction.auto_create_index=true',
  ];
  const { fd, file } = openLog(paths, 'opensearch');
  const env = {
    ...process.env,
    OPENSEARCH_JAVA_HOME: settings.javaHome,
    JAVA_HOME: settings.javaHome,
    OPENSEARCH_JAVA_OPTS: `-Xms${settings.opensearchHeapMb}m -Xmx${settings.opensearchHeapMb}m`,
  };
  const child = asRoot
    ? spawn(
        'setpriv',
        [
          `--reuid=${UNPRIVILEGED_UID}`,
          `--regid=${UNPRIVILEGED_GID}`,
          '--clear-groups',
          '--',
          command,
          ...args,
        ],
        { detached: true, stdio: ['ignore', fd, fd], env },
      )
    : spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  child.unref();
  // bin/opensearch (and setpriv) exec the JVM in the foreground, so this pid is the node's.
  const pid = child.pid;
  if (pid === undefined) throw new ServicesSetupError('could not start OpenSearch (no process id)');
  const state: OpenSearchState = {
    pid,
    external: false,
    url,
    startedAt: new Date().toISOString(),
    ...servicesOwner(),
  };
  updateState(paths, (s) => {
    s.opensearch = state;
  });
  settings.log(`OpenSearch ${OPENSEARCH_VERSION} starting (pid ${pid}, ${url})`);
  await waitFor('OpenSearch', () => opensearchHealthy(url), pid, file, settings.startTimeoutMs);
  return state;
}

/**
 * As root, OpenSearch runs as `nobody`, who must be able to reach its files. When the checkout sits under a
 * directory `nobody` cannot enter (a 0700 temporary clone, /root), its home, data and logs go to a per-checkout
 * folder under the system temporary directory instead; the download and state.json stay in the cache.
 */
function opensearchLocation(paths: ServicePaths): ServicePaths {
  if (process.getuid?.() !== 0) return paths;
  mkdirSync(paths.root, { recursive: true });
  const probe = spawnSync(
    'setpriv',
    [
      `--reuid=${UNPRIVILEGED_UID}`,
      `--regid=${UNPRIVILEGED_GID}`,
      '--clear-groups',
      '--',
      'test',
      '-x',
      paths.root,
    ],
    { stdio: 'ignore' },
  );
  if (probe.status === 0) return paths;
  const alternative = join(
    tmpdir(),
    `ccf-services-${createHash('sha256').update(paths.root).digest('hex').slice(0, 12)}`,
  );
  mkdirSync(alternative, { recursive: true });
  chmodSync(alternative, 0o755);
  return {
    ...paths,
    opensearchHome: join(alternative, basename(paths.opensearchHome)),
    opensearchData: join(alternative, 'data', 'opensearch'),
    logs: join(alternative, 'logs'),
    run: join(alternative, 'run'),
  };
}

// ------------------------------------------------------------------ public API

export interface EnsureOptions {
  kafka?: boolean;
  opensearch?: boolean;
  settings?: Partial<ServiceSettings>;
  paths?: ServicePaths;
}

export interface RunningEndpoints {
  kafkaBrokers: string[];
  opensearchUrl: string;
}

/**
 * One start-up at a time across processes (two test files, or `services:up` beside a test run): a lock directory
 * holding the owner's pid; a lock whose owner died is taken over.
 */
async function withLock<T>(paths: ServicePaths, work: () => Promise<T>): Promise<T> {
  const lock = join(paths.root, '.lock');
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // the owner is between mkdir and writing its pid
      }
      const ageMs = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if ((Number.isInteger(owner) && !isProcessAlive(owner)) || (Number.isNaN(owner) && ageMs > 10_000)) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new ServicesSetupError(`${lock} is held by pid ${owner}`);
      await sleep(250);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Starts what is not running (fetching it once), reuses what is, and waits until both are healthy. */
export async function ensureServices(options: EnsureOptions = {}): Promise<ServicesState> {
  const paths = options.paths ?? servicePaths();
  mkdirSync(paths.root, { recursive: true });
  return withLock(paths, () => ensureServicesLocked(options, paths));
}

async function ensureServicesLocked(options: EnsureOptions, paths: ServicePaths): Promise<ServicesState> {
  const settings = defaultSettings(options.settings);
  const wantKafka = options.kafka ?? true;
  const wantOpenSearch = options.opensearch ?? true;
  // Fetch both first (sequentially: mvn shares its local repository), then start both at once.
  if (wantKafka) fetchKafka(paths, settings);
  const opensearchPaths = wantOpenSearch ? opensearchLocation(paths) : paths;
  if (wantOpenSearch) fetchOpenSearch(opensearchPaths, settings);
  const [kafka, opensearch] = await Promise.all([
    wantKafka ? startKafka(paths, settings) : Promise.resolve(undefined),
    wantOpenSearch ? startOpenSearch(opensearchPaths, settings) : Promise.resolve(undefined),
  ]);
  const state = readServicesState(paths);
  if (kafka) state.kafka = kafka;
  if (opensearch) state.opensearch = opensearch;
  return state;
}

/** Stops one service started by these scripts (SIGTERM, then SIGKILL after `graceMs`); external ones are left alone. */
export async function stopService(
  name: ServiceName,
  options: {
    paths?: ServicePaths;
    graceMs?: number;
    log?: (line: string) => void;
    /** Only a service recorded as started by this owner (a test run's teardown): others are left running. */
    startedBy?: string;
  } = {},
): Promise<void> {
  const paths = options.paths ?? servicePaths();
  const log = options.log ?? ((line: string) => process.stderr.write(`services: ${line}\n`));
  const recorded = readServicesState(paths)[name];
  if (!recorded) return;
  if (options.startedBy !== undefined && recorded.startedBy !== options.startedBy) return;
  if (recorded.external) {
    log(`${name} was not started by these scripts; leaving it running`);
  } else {
    const pid = recorded.pid;
    const mainClass = name === 'kafka' ? KAFKA_MAIN_CLASS : OPENSEARCH_MAIN_CLASS;
    if (isOurProcess(pid, mainClass)) {
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + (options.graceMs ?? 30_000);
      while (isProcessAlive(pid) && Date.now() < deadline) await sleep(200);
      if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
      while (isProcessAlive(pid)) await sleep(100);
      log(`${name} stopped (pid ${pid})`);
    }
  }
  updateState(paths, (state) => {
    delete state[name];
  });
}

export async function stopServices(options: { paths?: ServicePaths } = {}): Promise<void> {
  await Promise.all([stopService('kafka', options), stopService('opensearch', options)]);
}

export interface ServiceStatus {
  name: ServiceName;
  pid: number | null;
  endpoint: string;
  healthy: boolean;
  external: boolean;
}

export async function servicesStatus(paths: ServicePaths = servicePaths()): Promise<ServiceStatus[]> {
  const state = readServicesState(paths);
  const out: ServiceStatus[] = [];
  if (state.kafka) {
    out.push({
      name: 'kafka',
      pid: state.kafka.pid,
      endpoint: state.kafka.brokers.join(','),
      healthy: await kafkaHealthy(state.kafka.brokers),
      external: state.kafka.external,
    });
  }
  if (state.opensearch) {
    out.push({
      name: 'opensearch',
      pid: state.opensearch.pid,
      endpoint: state.opensearch.url,
      healthy: await opensearchHealthy(state.opensearch.url),
      external: state.opensearch.external,
    });
  }
  return out;
}

/** Endpoints of the running services, or undefined when one of them is not up. */
export function endpointsOf(state: ServicesState): RunningEndpoints | undefined {
  if (!state.kafka || !state.opensearch) return undefined;
  return { kafkaBrokers: state.kafka.brokers, opensearchUrl: state.opensearch.url };
}
