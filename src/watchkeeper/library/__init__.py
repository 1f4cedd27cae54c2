"""The embedding and AI APIs for Python programs, importable from `watchkeeper` itself.

Thin façades: the orchestrator runs the server's AppContext and workers, the AI objects call
the registered detectors, forecasters and the correlation rules. Nothing here is imported by
`import watchkeeper`; `watchkeeper.__getattr__` loads it on first use.
"""
