// A small argv parser: positionals plus `--flag value` / `--flag=value` / boolean flags, with
// unknown flags rejected so typos fail loudly instead of being ignored.
import { CliError } from './io';

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, string | true>;
}

export interface ArgSpec {
  /** Flags that take a value. */
  values?: string[];
  /** Flags that are switches. */
  switches?: string[];
  usage: string;
}

export function parseArgs(argv: string[], spec: ArgSpec): ParsedArgs {
  const values = new Set(spec.values ?? []);
  const switches = new Set(spec.switches ?? []);
  const out: ParsedArgs = { positionals: [], flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '-') {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (values.has(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') throw new CliError(`--${name} needs a value\n${spec.usage}`);
      out.flags[name] = value;
    } else if (switches.has(name) && eq < 0) {
      out.flags[name] = true;
    } else {
      throw new CliError(`unknown option --${name}\n${spec.usage}`);
    }
  }
  return out;
}
