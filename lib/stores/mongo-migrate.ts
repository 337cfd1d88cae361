// Moved to lib/backends/mongo; this path is kept until the imports are updated.
export * from '../backends/mongo/migrate';
