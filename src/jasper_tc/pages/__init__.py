"""Every page the project writes, rendered from results alone: the adapted model's card (``card``), the
claims study's page (``reproduction`` and its sections, ``claims``), the compression and long-document
studies' pages (``compression``, ``long_documents``), and the tables they and the evaluation share
(``tables``). Pages compute nothing that a study concludes: the verdicts and the figures they rest on come
from the results (:mod:`jasper_tc.results`); the plots are drawn by :mod:`jasper_tc.figures`.

Imports ``results``, ``figures`` and ``atomic``.
"""
