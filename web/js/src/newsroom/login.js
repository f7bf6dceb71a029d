// Placeholder: written in the branch that owns this module.
export {};
