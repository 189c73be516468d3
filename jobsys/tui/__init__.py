"""The jobs view (seed 001): a Textual app over the store, started by ``jobsys ui``.

Textual is the ``ui`` extra: nothing outside this package imports it, and ``import jobsys``
does not load it.
"""
