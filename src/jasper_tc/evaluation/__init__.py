"""Evaluation: the mteb adapter (``jasper_tc.evaluation.mteb_adapter``; needs the ``mteb`` extra)."""
