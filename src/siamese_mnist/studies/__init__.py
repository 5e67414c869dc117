"""The studies wing: protocols over many runs of the pipeline, run as DVC experiments and read back out of git.

``search`` (the equal-budget search on validation), ``spread`` (the seed-spread report: `seeds`), ``unseen``
(the unseen-classes protocol); ``replicates`` finds the runs a report may take, ``stats`` and ``tables`` are the
intervals and markdown they share, and ``experiments`` is the one module that talks to DVC. The stages never
import this wing, so an edit here reruns no stage.
"""
