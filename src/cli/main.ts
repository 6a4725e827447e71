// `marble <command> …` entry point. Each subcommand lives in commands/<name>.ts and exports
// `run(argv, io?): Promise<number>`; add a line to COMMANDS to register one. Commands load lazily
// so `marble validate` never pulls in the inference stack. Every failure becomes a one-line
// message and an exit code, never a stack trace (set MARBLE_DEBUG=1 to see it).
import * as path from 'node:path';
import { CliError, processIO, type CliIO } from './io';

type Command = { run(argv: string[], io?: CliIO): Promise<number> };

const COMMANDS: Record<string, { load: () => Promise<Command>; summary: string }> = {
  run: { load: () => import('./commands/run'), summary: 'run a workflow locally (UI/API JSON or PNG)' },
  validate: { load: () => import('./commands/validate'), summary: 'check a workflow (UI/API JSON or PNG) as ComfyUI would' },
  convert: { load: () => import('./commands/convert'), summary: 'convert between UI workflow and API prompt (--to api|ui)' },
  tokenize: { load: () => import('./commands/tokenize'), summary: 'show how a prompt is tokenized and weighted' },
  'convert-checkpoint': { load: () => import('./commands/convertCheckpoint'), summary: 'build an ONNX folder (optimum layout) from a .safetensors checkpoint' },
  cache: { load: () => import('./commands/cache'), summary: 'show or clear the conversion cache (info|clear [--cache DIR])' },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: marble <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name ? 0 : 2;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    io.err(`marble: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    const command = await entry.load();
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof CliError) {
      io.err(`marble ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    io.err(`marble ${name}: unexpected error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (process.env.MARBLE_DEBUG && e instanceof Error && e.stack) io.err(`${e.stack}\n`);
    return 2;
  }
}

// Run when executed directly (node dist/cli.js, tsx src/cli/main.ts, the bin/marble.js shim),
// not when imported by tests or other bundles.
function invokedDirectly(): boolean {
  const entry = process.argv[1] ? path.resolve(process.argv[1]) : '';
  const self = typeof __filename === 'string' ? __filename : '';
  return entry !== '' && (entry === self || /[\\/]marble(\.js)?$/.test(entry));
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`marble: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
