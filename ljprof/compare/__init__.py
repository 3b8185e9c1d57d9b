"""`invoke compare`: what changed between two runs (base -> head), read from their summary.json files.

runs.py finds and loads the runs, match.py pairs rows of the two runs (by
location, else by source text when code above moved a line), diff.py builds
the comparison (compare.json's content), flamediff.py the differential flame
graph from the folded stacks, output.py the console text, compare.md and
compare.html. Every figure is read through ljprof.figures.
"""
