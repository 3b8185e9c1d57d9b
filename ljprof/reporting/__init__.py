"""Renderers: a model in, a file object out. No parsing here, no printing to stdout."""
