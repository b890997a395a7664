/**
 * Protocol name maps: EtherType, IP protocol and service (port) names read from the `number:name` files
 * in a protocol directory (ETHER, IP, PORT, TCP, UDP). The files are data a user may edit; they are read once
 * into arrays indexed by number so the per-packet lookups are a bounds check and an array read.
 *
 * Directory: the `directory` option, else the CCF_PROTOCOL_DIR environment variable, else the repository's
 * `protocol/` folder. A missing file or a malformed line is a `ProtocolMapError` naming the file and line.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ProtocolMapError } from '../platform/errors.js';

export const PROTOCOL_DIR_ENV = 'CCF_PROTOCOL_DIR';
export const PROTOCOL_MAP_FILES = ['ETHER', 'IP', 'PORT', 'TCP', 'UDP'] as const;
export type ProtocolMapFile = (typeof PROTOCOL_MAP_FILES)[number];

const IP_PROTO_TCP = 6;
const IP_PROTO_UDP = 17;

export interface ProtocolNames {
  /** The directory the maps were read from. */
  readonly directory: string;
  /** Name of an EtherType (`0x0800` → `IPv4`), '' when unknown. */
  etherTypeName(etherType: number): string;
  /** IANA keyword of an IP protocol number (`6` → `TCP`), '' when unknown. */
  ipProtocolName(protocol: number): string;
  /** Service name of a port: the TCP map for TCP, the UDP map for UDP, then the PORT map; '' when unknown. */
  serviceName(ipProtocol: number, port: number): string;
}

export interface LoadProtocolNamesOptions {
  /** Directory holding ETHER, IP, PORT, TCP and UDP. */
  directory?: string;
  /** Environment to read CCF_PROTOCOL_DIR from (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
}

const MAP_SIZE: Readonly<Record<ProtocolMapFile, number>> = {
  ETHER: 0x10000,
  IP: 0x100,
  PORT: 0x10000,
  TCP: 0x10000,
  UDP: 0x10000,
};

const LINE_PATTERN = /^(0[xX][0-9a-fA-F]+|\d+)\s*:\s*(.+)$/;
// Names end up in CSV cells and documents: printable text without control characters.
const NAME_PATTERN = /^[^\p{Cc}]+$/u;

/** The repository's `protocol/` folder, found from this module's location (source or compiled layout). */
export function defaultProtocolDirectory(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../protocol'), path.resolve(here, '../../../protocol')];
  return candidates.find((candidate) => existsSync(path.join(candidate, 'ETHER'))) ?? candidates[0]!;
}

/** Parses one map file's text into a name array of `size` entries ('' where no name is given). */
export function parseProtocolMap(text: string, filePath: string, size: number): string[] {
  const names = new Array<string>(size).fill('');
  const definedAt = new Map<number, number>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNumber = i + 1;
    const raw = lines[i]!;
    const hash = raw.indexOf('#');
    const body = (hash >= 0 ? raw.slice(0, hash) : raw).trim();
    if (body === '') continue;
    const match = LINE_PATTERN.exec(body);
    const name = match?.[2]?.trim() ?? '';
    if (match === null || match[1] === undefined || !NAME_PATTERN.test(name)) {
      throw new ProtocolMapError(
        `${filePath}:${lineNumber}: malformed line ${JSON.stringify(raw)}; expected "number:name" (e.g. "80:http" or "0x0800:IPv4"), a "#" comment or a blank line. Fix or delete the line.`,
        { path: filePath, line: lineNumber },
      );
    }
    const number = Number(match[1]);
    if (!Number.isInteger(number) || number < 0 || number >= size) {
      throw new ProtocolMapError(
        `${filePath}:${lineNumber}: number ${match[1]} is out of range 0..${size - 1} for this map. Fix or delete the line.`,
        { path: filePath, line: lineNumber },
      );
    }
    const previous = definedAt.get(number);
    if (previous !== undefined) {
      throw new ProtocolMapError(
        `${filePath}:${lineNumber}: number ${match[1]} is already named on line ${previous}. Keep one of the two lines.`,
        { path: filePath, line: lineNumber },
      );
    }
    definedAt.set(number, lineNumber);
    names[number] = name;
  }
  return names;
}

function readMap(directory: string, file: ProtocolMapFile): string[] {
  const filePath = path.join(directory, file);
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    throw new ProtocolMapError(
      `Protocol map ${filePath} cannot be read (${error instanceof Error ? error.message : String(error)}). ` +
        `Restore it with "npx tsx scripts/generate-protocol-maps.ts", or point --protocol-dir / ${PROTOCOL_DIR_ENV} at a directory holding ${PROTOCOL_MAP_FILES.join(', ')}.`,
      { path: filePath },
      { cause: error },
    );
  }
  return parseProtocolMap(text, filePath, MAP_SIZE[file]);
}

/** Reads the five maps. Throws `ProtocolMapError` for a missing/unreadable file or a malformed line. */
export function loadProtocolNames(options: LoadProtocolNamesOptions = {}): ProtocolNames {
  const env = options.env ?? process.env;
  const configured = options.directory ?? env[PROTOCOL_DIR_ENV];
  const directory =
    configured !== undefined && configured !== '' ? path.resolve(configured) : defaultProtocolDirectory();
  const ether = readMap(directory, 'ETHER');
  const ip = readMap(directory, 'IP');
  const port = readMap(directory, 'PORT');
  const tcp = readMap(directory, 'TCP');
  const udp = readMap(directory, 'UDP');
  return {
    directory,
    etherTypeName: (etherType) => (etherType >= 0 && etherType < 0x10000 ? ether[etherType]! : ''),
    ipProtocolName: (protocol) => (protocol >= 0 && protocol < 0x100 ? ip[protocol]! : ''),
    serviceName: (ipProtocol, servicePort) => {
      if (!(servicePort >= 0 && servicePort < 0x10000)) return '';
      const specific =
        ipProtocol === IP_PROTO_TCP
          ? tcp[servicePort]!
          : ipProtocol === IP_PROTO_UDP
            ? udp[servicePort]!
            : '';
      return specific !== '' ? specific : port[servicePort]!;
    },
  };
}
