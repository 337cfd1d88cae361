// moved to lib/backends/memory; this path is kept until the imports are updated
export * from '../backends/memory';
