// models: see the files beside this one. (filled in by its issue)
export {};
