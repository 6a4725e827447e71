// `marble convert <file> --to api|ui [--out FILE]`: between ComfyUI's UI workflow and API prompt.
// From a PNG, --to api takes the embedded prompt (what actually ran) and --to ui the embedded
// workflow, converting the other chunk only when one is missing.
import { apiToUi } from '../../workflow/apiToUi';
import { writeCanonicalJson, writeCanonicalWorkflow } from '../../workflow/canonicalJson';
import { loadCoreCatalog } from '../../workflow/catalog/catalog';
import { uiToApi } from '../../workflow/uiToApi';
import { parseArgs } from '../args';
import { CliError, loadInput, processIO, writeFileAtomic, type CliIO } from '../io';

const USAGE = 'usage: marble convert <workflow.json|api.json|image.png> --to api|ui [--out FILE]';

export async function run(argv: string[], io: CliIO = processIO): Promise<number> {
  const args = parseArgs(argv, { values: ['to', 'out'], switches: ['help'], usage: USAGE });
  if (args.flags.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  if (args.positionals.length !== 1) throw new CliError(`expected exactly one input file\n${USAGE}`);
  const to = args.flags.to;
  if (to !== 'api' && to !== 'ui') throw new CliError(`--to must be "api" or "ui"\n${USAGE}`);
  const input = await loadInput(args.positionals[0]);
  const catalog = loadCoreCatalog();
  const warnings: string[] = [];
  let text: string;
  if (to === 'api') {
    let prompt = input.api;
    if (!prompt && input.ui) {
      const r = uiToApi(input.ui, catalog);
      warnings.push(...r.warnings);
      prompt = r.prompt;
    }
    text = writeCanonicalJson(prompt);
  } else {
    let workflow = input.ui;
    if (!workflow && input.api) {
      const r = apiToUi(input.api, catalog);
      warnings.push(...r.warnings);
      workflow = r.workflow;
    }
    text = writeCanonicalWorkflow(workflow!);
  }
  for (const w of warnings) io.err(`warning: ${w}\n`);
  if (typeof args.flags.out === 'string') {
    await writeFileAtomic(args.flags.out, text);
    io.err(`wrote ${args.flags.out}\n`);
  } else {
    io.out(text);
  }
  return 0;
}
