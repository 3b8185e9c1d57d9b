"""Profiler plug-ins: one module (or package) per profiler.

Each knows what it needs inside the container and how to turn its raw files
into a model; the runner knows no profiler by name, only the registry does.
"""
