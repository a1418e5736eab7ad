import type { Argv } from 'yargs';
import { lookupKey } from '../common/config/config.js';
import { REGISTRY } from '../common/config/registry.js';
import { configFrom, type GlobalArgs } from './common.js';

export function confCommands(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command('get <key>', 'Print the effective value of a property key', (a) => a.positional('key', { type: 'string', demandOption: true }), (args) => {
      const key = lookupKey(args.key!);
      const value = configFrom(args).raw(key.name);
      console.log(key.secret && value !== '' ? '******' : value);
    })
    .command('list', 'List every property key with its effective value and description', (a) => a, (args) => {
      const config = configFrom(args);
      for (const key of REGISTRY.values()) {
        const v = config.raw(key.name);
        console.log(`${key.name}=${key.secret && v !== '' ? '******' : v}\n    ${key.description}`);
      }
    })
    .demandCommand(1, 'name a conf command: get or list');
}
