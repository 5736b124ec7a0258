"""The in-tree plugins we simulate, one per file, each with its name, its reason texts and its factory."""
