// moved to lib/backends/redis; this path is kept until the imports are updated
export * from '../backends/redis';
