# docs module (filled in by its owner)
