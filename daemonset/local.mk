# daemonset module (filled in by its owner)
