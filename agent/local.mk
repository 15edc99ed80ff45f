# agent module (filled in by its owner)
