/** What the numbers were measured on: the machine and the version of every server. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';

export interface MachineInfo {
  date: string;
  cpu: string;
  cores: number;
  ramGiB: number;
  kernel: string;
  versions: Record<string, string>;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  const text = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return text.split('\n')[0] ?? 'unknown';
}

export function machineInfo(): MachineInfo {
  const require = createRequire(import.meta.url);
  const pkgVersion = (name: string): string => {
    try {
      return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  const ours = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    ramGiB: Math.round(os.totalmem() / 1024 ** 3),
    kernel: `${os.type()} ${os.release()}`,
    versions: {
      ours,
      node: process.version,
      nginx: firstLine('nginx', ['-v']).replace(/^nginx version: /, ''),
      wrk: firstLine('wrk', ['-v']).split(' ').slice(0, 2).join(' '),
      s3rver: pkgVersion('s3rver'),
      moto: firstLine('python3', ['-c', 'import moto; print(moto.__version__)']),
      '@aws-sdk/client-s3': pkgVersion('@aws-sdk/client-s3'),
    },
  };
}
