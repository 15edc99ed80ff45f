# bench module (filled in by its owner)
