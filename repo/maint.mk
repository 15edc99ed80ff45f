# Maintenance (forget, prune, repair, keys, stats, diff): sources listed here.
