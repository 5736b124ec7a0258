"""Workshops: an instructor runs a class of learners, each with a cluster, through lessons with automatic checks."""
