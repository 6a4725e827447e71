// Execution events, named and shaped as ComfyUI's websocket messages (`{type, data}`), so the
// extension, the CLI's --json output and a future ComfyUI-compatible server all speak one language.

export interface ExecutionStart { type: 'execution_start'; data: { prompt_id: string; timestamp: number } }
export interface ExecutionCached { type: 'execution_cached'; data: { nodes: string[]; prompt_id: string; timestamp: number } }
export interface Executing { type: 'executing'; data: { node: string | null; display_node?: string; prompt_id: string } }
export interface Progress { type: 'progress'; data: { value: number; max: number; prompt_id: string; node: string } }
export interface Executed {
  type: 'executed';
  data: { node: string; display_node: string; output: Record<string, unknown>; prompt_id: string };
}
export interface ExecutionError {
  type: 'execution_error';
  data: {
    prompt_id: string;
    node_id: string;
    node_type: string;
    executed: string[];
    exception_message: string;
    exception_type: string;
    traceback: string[];
    current_inputs: Record<string, unknown>;
    current_outputs: string[];
    timestamp: number;
  };
}
export interface ExecutionInterrupted {
  type: 'execution_interrupted';
  data: { prompt_id: string; node_id: string; node_type: string; executed: string[]; timestamp: number };
}
export interface ExecutionSuccess { type: 'execution_success'; data: { prompt_id: string; timestamp: number } }

export type ExecutionEvent =
  | ExecutionStart
  | ExecutionCached
  | Executing
  | Progress
  | Executed
  | ExecutionError
  | ExecutionInterrupted
  | ExecutionSuccess;
