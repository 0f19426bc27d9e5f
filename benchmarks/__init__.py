"""Side-by-side sign-in benchmark: stock djangosaml2, thoropass_sso, and a no-op POST.

Run ``./dev bench`` (or ``python -m benchmarks --help``). See docs/benchmarks.md.
"""
