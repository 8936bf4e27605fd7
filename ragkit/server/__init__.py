"""``ragkit serve``: the pipeline over HTTP (FastAPI), with a page at ``/``.

``ragkit.server.app.create_app(rag, ServerSettings(...))`` builds the app. The
server is not a stage: it drives a ``RAG`` through its public methods, and no
stage imports it. This package file imports nothing, so that the CLI can read
the settings' defaults without loading FastAPI.
"""
