"""Media job types (seed 003): video proxies, thumbnails, audio waveform, transcription.

One job type per module; ``_probe`` opens sources read-only and classifies their
failures, ``profiles`` reads the named profiles of ``profiles.toml``, ``speech``
holds the transcription engines. PyAV, Pillow, numpy and pocketsphinx are imported
only when a job runs, so every job type registers (and can be submitted) on a
machine without them; a worker skips the capabilities whose engines are missing.
"""
