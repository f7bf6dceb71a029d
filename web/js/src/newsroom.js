// The journalists' inbox script: see newsroom/README in the docs.
