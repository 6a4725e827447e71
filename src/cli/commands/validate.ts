// `marble validate <file> [--models DIR] [--json]`: converts a UI workflow if needed and checks
// it as ComfyUI would before queueing. Exit 0 valid, 1 validation errors, 2 usage/input errors.
import { loadCoreCatalog } from '../../workflow/catalog/catalog';
import { toLookup } from '../../workflow/schemaSource';
import { uiToApi } from '../../workflow/uiToApi';
import { validatePromptSync, type ValidationResult } from '../../workflow/validate';
import { parseArgs } from '../args';
import { CliError, loadInput, processIO, type CliIO } from '../io';
import { modelsComboValues } from '../modelsFolder';

const USAGE = 'usage: marble validate <workflow.json|api.json|image.png> [--models DIR] [--json]';

export async function run(argv: string[], io: CliIO = processIO): Promise<number> {
  const args = parseArgs(argv, { values: ['models'], switches: ['json', 'help'], usage: USAGE });
  if (args.flags.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  if (args.positionals.length !== 1) throw new CliError(`expected exactly one input file\n${USAGE}`);
  const input = await loadInput(args.positionals[0]);
  const catalog = loadCoreCatalog();
  const lookup = toLookup(catalog);
  const comboValues = typeof args.flags.models === 'string' ? modelsComboValues(args.flags.models, lookup) : undefined;

  let prompt = input.api;
  const warnings: string[] = [];
  if (input.ui) {
    const converted = uiToApi(input.ui, catalog);
    prompt = converted.prompt;
    warnings.push(...converted.warnings);
  }
  if (!prompt) throw new CliError(`${input.file} has nothing to validate`);
  const result = validatePromptSync(prompt, catalog, { comboValues });

  if (args.flags.json) {
    const { prompt: _coerced, ...shape } = result;
    io.out(`${JSON.stringify({ ...shape, warnings }, null, 2)}\n`);
  } else {
    for (const w of warnings) io.err(`warning: ${w}\n`);
    io.out(formatResult(result, prompt, input.file));
  }
  return result.ok && Object.keys(result.node_errors).length === 0 ? 0 : 1;
}

function formatResult(result: ValidationResult, prompt: Record<string, { class_type: string }>, file: string): string {
  const lines: string[] = [];
  if (result.error && result.error.type !== 'prompt_outputs_failed_validation') {
    lines.push(`${file}: ${result.error.message} ${result.error.details}`.trimEnd());
    const missing = /node (.+) does not exist/.exec(result.error.message);
    if (result.error.type === 'invalid_prompt' && missing) {
      lines.push(`  node type ${missing[1]} is not installed in Marble; remove that node or replace it with a core node`);
    }
  } else if (!result.ok) {
    lines.push(`${file}: prompt outputs failed validation`);
  }
  for (const [id, e] of Object.entries(result.node_errors)) {
    lines.push(`  node ${id} (${e.class_type}), needed by output ${e.dependent_outputs.join(', ')}:`);
    for (const r of e.errors) lines.push(`    ${r.type}: ${r.message}: ${r.details}`);
  }
  if (result.ok) {
    const outs = result.outputs.map((id) => `${id} (${prompt[id].class_type})`).join(', ');
    const partial = Object.keys(result.node_errors).length > 0 ? ' (other outputs failed, see above)' : '';
    lines.push(`${file}: valid — ${Object.keys(prompt).length} nodes, outputs ${outs}${partial}`);
  }
  return lines.join('\n') + '\n';
}
