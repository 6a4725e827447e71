// Types of ComfyUI's `GET /object_info` entries. The node catalogue, the validator, the UI→API
// converter and the webview all read node schemas in this one shape, so a schema written for
// Marble is what ComfyUI tools expect and vice versa.

/** Options of one input, as `/object_info` lists them (only the keys Marble reads are typed). */
export interface InputOptions {
  default?: unknown;
  min?: number;
  max?: number;
  step?: number;
  round?: number | false;
  multiline?: boolean;
  dynamicPrompts?: boolean;
  tooltip?: string;
  /** true → a `control_after_generate` combo widget follows this INT widget. A string names it. */
  control_after_generate?: boolean | string;
  image_upload?: boolean;
  forceInput?: boolean;
  defaultInput?: boolean;
  lazy?: boolean;
  advanced?: boolean;
  /** Marble hint (ComfyUI has none): the models sub-folder a combo is filled from. */
  x_folder?: string;
  [key: string]: unknown;
}

/** `[TYPE]`, `[TYPE, options]`, `[[combo values], options?]` or `["COMBO", {options: [...]}]`. */
export type InputSpec = [string | string[], InputOptions?];

export interface ObjectInfoEntry {
  input: {
    required?: Record<string, InputSpec>;
    optional?: Record<string, InputSpec>;
    hidden?: Record<string, string | InputSpec>;
  };
  input_order?: { required?: string[]; optional?: string[]; hidden?: string[] };
  output: string[];
  output_is_list?: boolean[];
  output_name: string[];
  output_tooltips?: string[];
  name: string;
  display_name: string;
  description: string;
  python_module: string;
  category: string;
  output_node: boolean;
  deprecated?: boolean;
  experimental?: boolean;
  [key: string]: unknown;
}

export type ObjectInfo = Record<string, ObjectInfoEntry>;
