import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  loadProtocolNames,
  PROTOCOL_MAP_FILES,
  parseProtocolMap,
} from '../../../functions/capture/protocol-names.js';
import { ProtocolMapError } from '../../../functions/platform/errors.js';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function mapDirectory(files: Partial<Record<(typeof PROTOCOL_MAP_FILES)[number], string>>): string {
  const directory = mkdtempSync(path.join(tmpdir(), 'ccf-protocol-'));
  directories.push(directory);
  for (const name of PROTOCOL_MAP_FILES) writeFileSync(path.join(directory, name), files[name] ?? '');
  return directory;
}

describe('loadProtocolNames', () => {
  it('reads the committed repository maps by default', () => {
    const names = loadProtocolNames({ env: {} });
    expect(names.etherTypeName(0x0800)).toBe('IPv4');
    expect(names.etherTypeName(0x86dd)).toBe('IPv6');
    expect(names.ipProtocolName(6)).toBe('TCP');
    expect(names.ipProtocolName(17)).toBe('UDP');
    expect(names.ipProtocolName(58)).toBe('IPv6-ICMP');
    expect(names.serviceName(6, 443)).toBe('https');
    expect(names.serviceName(17, 53)).toBe('domain');
    expect(names.serviceName(6, 65000)).toBe('');
    expect(names.etherTypeName(-1)).toBe('');
    expect(names.ipProtocolName(300)).toBe('');
  });

  it('prefers the option, then CCF_PROTOCOL_DIR; TCP/UDP maps before PORT', () => {
    const custom = mapDirectory({
      TCP: '8080:my-proxy\n',
      PORT: '# any transport\n8080:web-alt\n9999:custom\n',
      UDP: '',
    });
    const fromEnv = loadProtocolNames({ env: { CCF_PROTOCOL_DIR: custom } });
    expect(fromEnv.directory).toBe(custom);
    expect(fromEnv.serviceName(6, 8080)).toBe('my-proxy');
    expect(fromEnv.serviceName(17, 8080)).toBe('web-alt');
    expect(fromEnv.serviceName(132, 9999)).toBe('custom');
    const other = mapDirectory({ ETHER: '0x88b5:lab-experimental\n' });
    expect(
      loadProtocolNames({ directory: other, env: { CCF_PROTOCOL_DIR: custom } }).etherTypeName(0x88b5),
    ).toBe('lab-experimental');
  });

  it('names the missing file and how to fix it', () => {
    const directory = mapDirectory({});
    rmSync(path.join(directory, 'UDP'));
    expect(() => loadProtocolNames({ directory })).toThrow(ProtocolMapError);
    expect(() => loadProtocolNames({ directory })).toThrow(
      /UDP cannot be read.*generate-protocol-maps.*CCF_PROTOCOL_DIR/,
    );
  });
});

describe('parseProtocolMap', () => {
  it('accepts comments, blank lines, hex and decimal numbers and spaces around the colon', () => {
    const names = parseProtocolMap(
      '# header\n\n80:http\n 0x1bb : https # trailing comment\r\n',
      'PORT',
      65536,
    );
    expect(names[80]).toBe('http');
    expect(names[443]).toBe('https');
  });

  it.each([
    ['80 http', /PORT:2: malformed line "80 http"/],
    ['http:80', /PORT:2: malformed line/],
    ['80:', /PORT:2: malformed line/],
    ['70000:big', /PORT:2: number 70000 is out of range 0..65535/],
    ['80:again', /PORT:2: number 80 is already named on line 1/],
  ])('rejects %j with the file and line', (line, message) => {
    let thrown: unknown;
    try {
      parseProtocolMap(`80:http\n${line}\n`, 'PORT', 65536);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ProtocolMapError);
    expect((thrown as ProtocolMapError).message).toMatch(message);
    expect((thrown as ProtocolMapError).details).toMatchObject({ path: 'PORT', line: 2 });
  });
});
