// Public API of the pure workflow core (formats, catalogue, conversion, validation, execution).
export * from './types';
export type { ParsedWorkflow } from './parse';
export type { ObjectInfo, ObjectInfoEntry, InputSpec, InputOptions } from './objectInfo';
export type { NodeDefinition, NodeContext, NodeResult, NodeRegistry, HiddenInputs, PreviewImage } from './nodeDefinition';
export type { ExecutionEvent } from './events';
export { loadCoreCatalog, getCoreSchema, VIRTUAL_NODE_TYPES } from './catalog/catalog';
export {
  widgetNamesFor,
  widgetSlotsFor,
  orderedInputs,
  isWidgetInput,
  comboOptions,
  inputTypeName,
  specOptions,
  type WidgetSlot,
  type WidgetKind,
} from './catalog/widgets';
export { uiToApi, type UiToApiOptions, type UiToApiResult } from './uiToApi';
export { apiToUi, type ApiToUiResult } from './apiToUi';
export {
  validatePrompt,
  validatePromptSync,
  typesCompatible,
  type ValidationResult,
  type ValidationReason,
  type NodeValidationErrors,
  type ValidateOptions,
} from './validate';
export { Executor, type ExecuteOptions, type ExecutionOutcome } from './executor';
export { writeCanonicalWorkflow, writeCanonicalJson } from './canonicalJson';
export { readPngChunks, readPngMetadata, insertTextChunks, isPng, crc32, type PngChunk, type PngWorkflowMetadata } from './png';
export { comfyJsonDumps } from './comfyJson';
export { resolveDynamicPrompt } from './dynamicPrompts';
export { scanModelFolder, matchModelName, stripModelExtension, folderOfHint, MODEL_EXTENSIONS, type ListDir, type DirEntry } from './modelNames';
export { coerceForType } from './coerce';
export { toLookup, type SchemaSource, type SchemaLookup } from './schemaSource';
