"""Datasets by concern: ``catalog`` (the table of known datasets), ``idx`` (the file format every split is
stored in), ``fetch`` (download and verify: the download stage alone imports it), ``folder`` (ingest your own
images), ``splits`` (train / validation / test as every later stage draws them)."""
