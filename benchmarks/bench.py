"""Speed benchmark script: ``python benchmarks/bench.py [--quick]`` (same as ``python -m steelnb bench``)."""
from steelnb.commands.bench import main

if __name__ == "__main__":
    main()
