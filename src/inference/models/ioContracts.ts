// The input/output names each SD component must have (ort-sd.md §2). Checked right after a
// session is created so a wrong file fails with "expected X, found Y" instead of an ORT error
// deep inside sampling.
import type { IoSpec } from '../ort/ioAdapter';
import { kindFromCrossAttentionDim, ModelFolderError, type ComponentName, type ModelKind } from './modelFolder';

interface Contract {
  title: string;
  inputs: string[];
  optionalInputs: string[];
  /** Every group must be satisfied by at least one of its names. */
  outputs: string[][];
}

export const IO_CONTRACTS: Record<ComponentName, Contract> = {
  text_encoder: { title: 'CLIP text encoder', inputs: ['input_ids'], optionalInputs: ['attention_mask', 'extra_token_embeddings'], outputs: [['last_hidden_state']] },
  text_encoder_2: { title: 'CLIP text encoder 2 (with projection)', inputs: ['input_ids'], optionalInputs: ['attention_mask', 'extra_token_embeddings'], outputs: [['text_embeds'], ['last_hidden_state', 'hidden_states.0']] },
  unet: { title: 'Stable Diffusion U-Net', inputs: ['sample', 'timestep', 'encoder_hidden_states'], optionalInputs: ['text_embeds', 'time_ids', 'timestep_cond'], outputs: [['out_sample']] },
  vae_decoder: { title: 'VAE decoder', inputs: ['latent_sample'], optionalInputs: [], outputs: [['sample']] },
  vae_encoder: { title: 'VAE encoder', inputs: ['sample'], optionalInputs: [], outputs: [['latent_sample', 'latent_parameters']] },
};

export function checkIoContract(component: ComponentName, label: string, inputs: readonly IoSpec[], outputs: readonly IoSpec[]): void {
  const c = IO_CONTRACTS[component];
  const inNames = inputs.map((s) => s.name);
  const outNames = outputs.map((s) => s.name);
  const missingIn = c.inputs.filter((n) => !inNames.includes(n));
  const extraIn = inNames.filter((n) => !c.inputs.includes(n) && !c.optionalInputs.includes(n));
  const missingOut = c.outputs.filter((group) => !group.some((n) => outNames.includes(n)));
  if (!missingIn.length && !extraIn.length && !missingOut.length) return;
  const problems = [
    missingIn.length ? `missing input(s) ${missingIn.join(', ')}` : '',
    extraIn.length ? `unexpected input(s) ${extraIn.join(', ')}` : '',
    missingOut.length ? `missing output(s) ${missingOut.map((g) => g.join(' or ')).join(', ')}` : '',
  ].filter(Boolean);
  const optional = c.optionalInputs.length ? ` (optional: ${c.optionalInputs.join(', ')})` : '';
  throw new ModelFolderError(
    'io-mismatch',
    `${label} is not a ${c.title}: ${problems.join('; ')}.\n` +
      `  expected inputs:  ${c.inputs.join(', ')}${optional}\n  found inputs:     ${inNames.join(', ') || 'none'}\n` +
      `  expected outputs: ${c.outputs.map((g) => g.join(' | ')).join(', ')}\n  found outputs:    ${outNames.join(', ') || 'none'}`,
  );
}

/** What the U-Net's declared IO says about the model family and its variant. */
export interface UnetIoFacts {
  inChannels?: number;
  crossAttentionDim?: number;
  kind: ModelKind;
  hasTextEmbeds: boolean;
  hasTimestepCond: boolean;
}

export function unetFacts(inputs: readonly IoSpec[]): UnetIoFacts {
  const sample = inputs.find((s) => s.name === 'sample');
  const ehs = inputs.find((s) => s.name === 'encoder_hidden_states');
  const inChannels = typeof sample?.shape[1] === 'number' ? sample.shape[1] : undefined;
  const last = ehs?.shape[ehs.shape.length - 1];
  const crossAttentionDim = typeof last === 'number' ? last : undefined;
  const hasTextEmbeds = inputs.some((s) => s.name === 'text_embeds');
  return {
    inChannels,
    crossAttentionDim,
    kind: hasTextEmbeds ? 'sdxl' : kindFromCrossAttentionDim(crossAttentionDim),
    hasTextEmbeds,
    hasTimestepCond: inputs.some((s) => s.name === 'timestep_cond'),
  };
}
