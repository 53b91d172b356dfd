// Placeholder so the package builds; its issue fills it.
export {};
