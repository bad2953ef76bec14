// For editors and tsc only (asc never reads it): runtime functions the AssemblyScript std typings lack.
declare function __collect(): void;
