// Public surface of the model-folder loader; import from here rather than from the files.
export * from './modelFolder';
export * from './ioContracts';
export * from './loadModel';
export * from './modelsRoot';
export * from './extraModelPaths';
