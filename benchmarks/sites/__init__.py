"""Benchmark-only Django sites (settings + urls), configured from BENCH_* environment variables.

``stock``: djangosaml2 configured the way its documentation says.
``ours``: thoropass_sso with its normal configuration.
Both share the middleware, the database engine and a ``/noop/`` POST view.
"""
