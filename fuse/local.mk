# fuse module (filled in by its owner)
