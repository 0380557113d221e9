"""Utilities every stage uses: errors with a fix, one stable hash, registries that refuse a name
given twice, atomic files and state files, profiling, and files shipped inside packages."""
