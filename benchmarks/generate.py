"""``python -m benchmarks.generate``: the product's synthetic data generator (``ingest.synthetic``).

Kept so the benchmark commands and the README's examples keep working; the generator itself
lives in the product, which never imports ``benchmarks``.
"""

from ingest.synthetic import main

if __name__ == "__main__":
    main()
